#!/usr/bin/env python3
"""Split rendered manifests into one file per object, sorted by what validates them.

Usage: split.py RENDERED.yaml OUTDIR

Writes OUTDIR/builtin/NN-kind-name.yaml for Kubernetes' own kinds and
OUTDIR/custom/<schema>/NN-kind-name.yaml for the custom resources that have a schema in
ci/k8s/schemas/. Fails on a document without apiVersion/kind and on a custom kind with no
schema, so nothing is left unchecked. Prints one line per object.
"""
import os
import sys

import yaml

# apiVersion/kind -> schema file in ci/k8s/schemas/
CUSTOM = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql-v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "scheduledbackup-postgresql-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
}


def main():
    rendered, outdir = sys.argv[1:3]
    with open(rendered, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        sys.exit(f"{rendered}: no objects")
    for n, doc in enumerate(docs):
        api, kind = doc.get("apiVersion"), doc.get("kind")
        name = (doc.get("metadata") or {}).get("name", "")
        if not api or not kind or not name:
            sys.exit(f"{rendered}: object {n} lacks apiVersion, kind or metadata.name")
        if "." in api.split("/")[0] and not api.split("/")[0].endswith(".k8s.io"):
            schema = CUSTOM.get((api, kind))
            if schema is None:
                sys.exit(f"{rendered}: {api} {kind} {name}: no schema in ci/k8s/schemas/")
            sub = os.path.join(outdir, "custom", schema)
        else:
            sub = os.path.join(outdir, "builtin")
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, f"{n:02d}-{kind.lower()}-{name}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True)
        print(f"  {kind}/{name}")


if __name__ == "__main__":
    main()
