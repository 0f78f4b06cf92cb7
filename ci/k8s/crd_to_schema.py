#!/usr/bin/env python3
"""Turn a CustomResourceDefinition into a strict JSON Schema for its custom resources.

Usage: crd_to_schema.py CRD.yaml VERSION OUT.json

The schema is the CRD's openAPIV3Schema for VERSION with apiVersion and kind pinned, and
`additionalProperties: false` added to every object that lists its properties and neither
preserves unknown fields nor already says what else it allows, so a misspelt field fails
as kubectl's strict field validation would reject it. How ci/k8s/schemas/ was made (the
CRDs came from the operators' repositories at the tags named in ci/k8s/schemas/README.md).
"""
import json
import sys

import yaml


def caseless(pattern):
    """Go's `(?i)` flag (used inside CRD patterns) spelt as ECMA-262 character classes."""
    out, in_class = [], False
    for ch in pattern.replace("(?i)", ""):
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        if ch.isascii() and ch.isalpha():
            out.append(ch.lower() + ch.upper() if in_class else f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(ch)
    return "".join(out)


def tighten(node):
    if isinstance(node, dict):
        for value in node.values():
            tighten(value)
        if isinstance(node.get("pattern"), str) and "(?i)" in node["pattern"]:
            node["pattern"] = caseless(node["pattern"])
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
    elif isinstance(node, list):
        for item in node:
            tighten(item)


def main():
    path, version, out = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        crd = yaml.safe_load(f)
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    (ver,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = ver["schema"]["openAPIV3Schema"]
    tighten(schema)
    schema["properties"]["apiVersion"] = {"type": "string", "const": f"{group}/{version}"}
    schema["properties"]["kind"] = {"type": "string", "const": kind}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
    }
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{kind} ({group}/{version})",
        **schema,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(schema, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
