#!/usr/bin/env python3
"""Check the PrometheusRule's expressions: each must parse as PromQL, and every metric it
names must be one Gongyou exports (read from services/src/metrics.rs: the registry's
"gongyou" namespace plus each counter, gauge and histogram registered there) or `up`.

Usage: check_rules.py PROMETHEUSRULE.yaml... (rendered objects, one per file)
"""
import re
import sys

import promql_parser
import yaml

METRICS_RS = "services/src/metrics.rs"


def exported():
    src = open(METRICS_RS, encoding="utf-8").read()
    (namespace,) = re.findall(r'Registry::new_custom\(Some\("([a-z_]+)"', src)
    names = set()
    for kind, name in re.findall(
        r'\b(Opts|HistogramOpts|IntGauge|IntCounter|Gauge|Counter)::new\(\s*"([a-z_]+)"', src
    ):
        full = f"{namespace}_{name}"
        names.add(full)
        if kind == "HistogramOpts":
            names.update({f"{full}_bucket", f"{full}_sum", f"{full}_count"})
    if not names:
        sys.exit(f"{METRICS_RS}: no metric found")
    return names | {"up"}


def selectors(node, found):
    if isinstance(node, promql_parser.VectorSelector):
        found.add(node.name)
        return
    if isinstance(node, (list, tuple)):
        for item in node:
            selectors(item, found)
        return
    if not isinstance(node, promql_parser.Expr):
        return
    for attr in dir(node):
        if attr.startswith("_"):
            continue
        value = getattr(node, attr)
        if not callable(value):
            selectors(value, found)


def main():
    known = exported()
    rules = 0
    for path in sys.argv[1:]:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
        for group in doc["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                try:
                    expr = promql_parser.parse(rule["expr"])
                except Exception as e:  # the parser raises a plain ValueError/RuntimeError
                    sys.exit(f"{path}: {name}: PromQL does not parse: {e}")
                found = set()
                selectors(expr, found)
                unknown = sorted(n for n in found if n not in known)
                if not found or unknown:
                    sys.exit(f"{path}: {name}: metrics not exported by Gongyou: {unknown or 'none named'}")
                print(f"  {name}: {', '.join(sorted(found))}")
                rules += 1
    print(f"{rules} rules parse and name only exported metrics ({len(known)} known)")


if __name__ == "__main__":
    main()
