#!/usr/bin/env python3
"""Counts, failures and 2xx coverage of a schemathesis 4 fuzzing gate run.

    coverage.py --spec openapi.yaml [--min-ratio 0.9] [--json OUT.json] ROLE=run.ndjson [...]

Input: the OpenAPI document the server serves (the denominator: every operation in it, none
left out) and the `--report ndjson` file of each `st run` (one JSON event per line; every
`ScenarioFinished` event records, per test case, the request, the response and each check's
result).

* Cases: test cases that got a response (schemathesis' "generated" count also holds cases it
  did not send).
* A failure is a distinct (check, operation) pair, the granularity of an exception in
  schemathesis.toml; each is printed with the reproducing curl of its first occurrence.
* An operation is covered when some run got a 2xx for its own method and path template
  (probes with other methods, e.g. TRACE in the coverage phase, do not count).

Exit status: 0 = no failure and coverage >= --min-ratio; 1 = failures; 2 = coverage too low;
3 = both; 4 = unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import sys
from collections import Counter, defaultdict

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def spec_operations(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fd:
        spec = yaml.safe_load(fd)
    return sorted(
        f"{method.upper()} {p}" for p, item in (spec.get("paths") or {}).items() for method in item if method in METHODS
    )


def _decode(body) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"])
    return str(body).encode()


def curl(interaction: dict | None) -> str:
    if not interaction:
        return "(no request recorded)"
    req = interaction.get("request") or {}
    parts = ["curl", "-X", req.get("method", "GET")]
    for name, values in (req.get("headers") or {}).items():
        if name.lower() in ("content-length", "accept-encoding", "connection", "user-agent", "accept"):
            continue
        for value in values if isinstance(values, list) else [values]:
            parts += ["-H", f"{name}: {value}"]
    raw = _decode(req.get("body"))
    if raw is not None:
        try:
            text = raw.decode("utf-8")
            if len(text) > 4000:
                text = text[:4000] + "…(truncated)"
            parts += ["--data-binary", text]
        except UnicodeDecodeError:
            parts += ["--data-binary", f"(binary, {len(raw)} bytes)"]
    parts.append(req.get("uri", "?"))
    status = (interaction.get("response") or {}).get("status_code", "no response")
    return " ".join(shlex.quote(p) for p in parts) + f"    # -> {status}"


def _problem_code(response: dict) -> str:
    raw = _decode(response.get("content"))
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def analyse(path: str) -> dict:
    tested: set[str] = set()
    two_xx: Counter = Counter()
    outcomes: dict[str, Counter] = defaultdict(Counter)
    cases = 0
    failures: dict[tuple, dict] = {}
    with open(path, encoding="utf-8") as fd:
        for line in fd:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a run stopped by `timeout` may end mid-line
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            phase = finished.get("phase")
            label = recorder.get("label", "")
            if phase != "stateful" and " " in label:
                tested.add(label)
            interactions = recorder.get("interactions") or {}
            for case_id, case in (recorder.get("cases") or {}).items():
                value = case.get("value", {})
                op = f"{value.get('method', '').upper()} {value.get('path', '')}"
                response = (interactions.get(case_id) or {}).get("response") or {}
                status = response.get("status_code")
                if status is None:
                    continue
                cases += 1
                outcomes[op][f"{status} {_problem_code(response)}".strip()] += 1
                if 200 <= int(status) < 300:
                    two_xx[op] += 1
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    operation = failure.get("operation") or label
                    entry = failures.setdefault(
                        (check["name"], operation),
                        {
                            "check": check["name"],
                            "code": failure.get("code"),
                            "operation": operation,
                            "title": failure.get("title"),
                            "message": failure.get("message"),
                            "occurrences": 0,
                            "phases": [],
                            "curl": curl(interactions.get(case_id)),
                        },
                    )
                    entry["occurrences"] += 1
                    if phase not in entry["phases"]:
                        entry["phases"].append(phase)
    return {"tested": tested, "two_xx": two_xx, "outcomes": outcomes, "cases": cases, "failures": list(failures.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="ROLE=NDJSON")
    parser.add_argument("--spec", required=True, help="the OpenAPI document (denominator: all its operations)")
    parser.add_argument("--min-ratio", type=float, default=0.9)
    parser.add_argument("--json", help="write the full analysis here")
    args = parser.parse_args()

    operations = spec_operations(args.spec)
    total = len(operations)
    results = {}
    for run in args.runs:
        role, _, path = run.partition("=")
        try:
            results[role] = analyse(path)
        except OSError as exc:
            print(f"cannot read {path}: {exc}", file=sys.stderr)
            return 4

    covered = sorted(op for op in operations if any(r["two_xx"][op] for r in results.values()))
    ratio = len(covered) / total if total else 0.0
    all_failures = [dict(f, role=role) for role, r in results.items() for f in r["failures"]]

    print(f"{'role':<8} {'operations':>10} {'cases':>7} {'failures':>8}   operations with a 2xx")
    for role, r in results.items():
        mine = sum(1 for op in operations if r["two_xx"][op])
        print(
            f"{role:<8} {len(r['tested']):>10} {r['cases']:>7} {len(r['failures']):>8}   "
            f"{mine}/{total} ({mine / total:.1%})"
        )
    print(
        f"{'all':<8} {total:>10} {sum(r['cases'] for r in results.values()):>7} {len(all_failures):>8}   "
        f"{len(covered)}/{total} ({ratio:.1%}; the gate needs {args.min_ratio:.0%})"
    )
    untested = [op for op in operations if not any(op in r["tested"] for r in results.values())]
    if untested:
        print("operations in the spec that no run tested: " + ", ".join(untested))
    missing = [op for op in operations if op not in covered]
    if missing:
        print("operations without a 2xx (top answers over all runs):")
        for op in missing:
            counts = Counter()
            for r in results.values():
                counts.update(r["outcomes"][op])
            top = ", ".join(f"{k} x{v}" for k, v in counts.most_common(3)) or "no responses"
            print(f"  - {op}  ({top})")
    if all_failures:
        print(f"FAILURES ({len(all_failures)} distinct check/operation pairs):")
        for f in sorted(all_failures, key=lambda f: (f["check"], f["operation"], f["role"])):
            first = (f["message"] or "").strip().split("\n")
            print(
                f"  [{f['role']}] {f['check']} ({f['code']}) on {f['operation']}: {f['title']}"
                f" x{f['occurrences']} ({'/'.join(f['phases'])})"
            )
            for line in first[:3]:
                if line.strip():
                    print(f"      {line.strip()[:200]}")
            print(f"      reproduce: {f['curl']}")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fd:
            json.dump(
                {
                    "operations": total,
                    "covered": covered,
                    "missing": missing,
                    "ratio": ratio,
                    "min_ratio": args.min_ratio,
                    "per_role": {
                        role: {
                            "tested": len(r["tested"]),
                            "cases": r["cases"],
                            "failures": len(r["failures"]),
                            "with_2xx": sum(1 for op in operations if r["two_xx"][op]),
                        }
                        for role, r in results.items()
                    },
                    "failures": all_failures,
                },
                fd,
                ensure_ascii=False,
                indent=2,
            )
    return (1 if all_failures else 0) | (2 if ratio < args.min_ratio else 0)


if __name__ == "__main__":
    sys.exit(main())
