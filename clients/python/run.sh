#!/usr/bin/env bash
# Generated-client gate (Python): openapi-python-client (pinned in requirements.txt) must turn
# the OpenAPI document into a client with no warning, one module per operation, that compiles.
#
#   clients/python/run.sh [SPEC]     SPEC defaults to openapi.yaml at the repository root
#
# Knobs (environment): VENV (target/clients/python-venv) OUT (target/clients/python)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
spec="$(realpath "${1:-$repo/openapi.yaml}")"
venv="${VENV:-$repo/target/clients/python-venv}"
out="${OUT:-$repo/target/clients/python}"
[ -f "$spec" ] || { echo "no OpenAPI document at $spec" >&2; exit 2; }

if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi

rm -rf "$out"
log="$(mktemp)"
# ruff is not installed on purpose (formatting the generated code is not what is checked).
"$venv/bin/openapi-python-client" generate --path "$spec" --output-path "$out" \
  --config "$here/openapi-python-client.yaml" >"$log" 2>&1 || { cat "$log"; exit 1; }
if grep -E '^(WARNING|ERROR)|Cannot parse|Unable to|will be omitted|not generated' "$log"; then
  echo "python client: the generator warned (above); shape the schema so it does not" >&2
  exit 1
fi
operations=$(grep -c '^ *operationId:' "$spec")
modules=$(find "$out" -path '*/api/*' -name '*.py' ! -name '__init__.py' | wc -l)
if [ "$operations" -ne "$modules" ]; then
  echo "python client: $modules modules for $operations operations" >&2
  exit 1
fi
"$venv/bin/python" -m compileall -q "$out" >/dev/null
echo "python client ok: $modules operations, no warning (openapi-python-client $(
  "$venv/bin/pip" show openapi-python-client | sed -n 's/^Version: //p'))"
