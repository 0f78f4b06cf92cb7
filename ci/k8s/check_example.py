#!/usr/bin/env python3
"""Fail when k8s/secret.example.yaml holds anything but placeholders: every value must be a
<placeholder>, a path under /etc/gongyou/ (a mounted key file) or a URL on the example
domain gongyou.example."""
import re
import sys

import yaml

OK = re.compile(r"<[^<>]+>|^/etc/gongyou/|^https://[a-z0-9.-]*gongyou\.example/")
path = sys.argv[1]
bad = 0
count = 0
for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
    if not doc:
        continue
    if doc.get("kind") != "Secret" or "data" in doc:
        sys.exit(f"{path}: only Secrets with stringData belong here")
    for key, value in (doc.get("stringData") or {}).items():
        count += 1
        if not OK.search(str(value)):
            print(f"{path}: {doc['metadata']['name']}.{key} is not a placeholder", file=sys.stderr)
            bad += 1
if bad:
    sys.exit(1)
print(f"{count} values, every one a placeholder")
