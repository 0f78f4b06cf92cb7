#!/usr/bin/env bash
# Generated-client gate: generate a TypeScript client from the OpenAPI document
# (openapi-typescript + openapi-fetch, pinned in package-lock.json), type-check the journey
# against it with `tsc --strict`, start a fresh `gongyou demo` and drive one journey through
# it: SMS sign-in -> apply for membership -> demo-admin approves -> the member's e-card ->
# rest stations nearby. Exit 0 only when every step answered as the contract says.
#
#   clients/journey/run.sh SPEC BIN
#     SPEC  the OpenAPI document (default: openapi.yaml at the repository root)
#     BIN   the server binary  (default: target/debug/gongyou at the repository root)
#
# Needs Node >= 18 and npm; when they are missing and we are root on Debian/Ubuntu, installs
# them with apt (Debian 12's nodejs is 18.20). npm's registry is used by `npm ci` only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
spec="$(realpath "${1:-$repo/openapi.yaml}")"
bin="$(realpath "${2:-$repo/target/debug/gongyou}")"
[ -f "$spec" ] || { echo "no OpenAPI document at $spec" >&2; exit 2; }
[ -x "$bin" ] || { echo "no server binary at $bin (cargo build -p gongyou)" >&2; exit 2; }
started=$(date +%s)
say() { echo "== journey: $* (+$(( $(date +%s) - started ))s)"; }

# --- Node and npm ------------------------------------------------------------------------------
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing nodejs and npm with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "node and npm are needed (Node >= 18): apt-get install nodejs npm" >&2
    exit 2
  fi
fi
if [ "$(node_major)" -lt 18 ]; then
  echo "Node $(node --version) is too old: the journey needs Node >= 18 (global fetch)" >&2
  exit 2
fi

cd "$here"
if ! cmp -s package-lock.json node_modules/.ci-lock 2>/dev/null; then
  say "npm ci (node $(node --version), npm $(npm --version))"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ci-lock
fi

# --- generate and type-check --------------------------------------------------------------------
say "generate the client types from $spec"
node_modules/.bin/openapi-typescript "$spec" -o src/api.d.ts
say "tsc --strict"
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json --strict

# --- a fresh demo ---------------------------------------------------------------------------------
data="$(mktemp -d "${TMPDIR:-/tmp}/gongyou-journey.XXXXXX")"
log="$data/server.log"
password="journey-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
GONGYOU_DATA_DIR="$data" GONGYOU_HTTP_ADDR=127.0.0.1:0 GONGYOU_DEMO_PASSWORD="$password" \
  "$bin" demo >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

addr=
for _ in $(seq 1 240); do
  kill -0 "$server" 2>/dev/null || { echo "the demo exited:" >&2; tail -n 30 "$log" >&2; exit 1; }
  # GONGYOU_HTTP_ADDR=…:0 picks a free port; the "listening" log line names it.
  addr="$(grep -m1 '"message":"listening"' "$log" | sed -E 's/.*"addr":"([^"]+)".*/\1/' || true)"
  [ -n "$addr" ] && curl -fsS -o /dev/null "http://$addr/healthz" 2>/dev/null && break
  addr=
  sleep 0.25
done
[ -n "$addr" ] || { echo "the demo did not answer /healthz within 60 s" >&2; tail -n 30 "$log" >&2; exit 1; }
say "demo up at http://$addr"

# --- the journey -----------------------------------------------------------------------------------
status=0
GONGYOU_URL="http://$addr" GONGYOU_DEMO_PASSWORD="$password" node dist/journey.js || status=$?
if [ "$status" -ne 0 ]; then
  echo "-- last lines of the server log:" >&2
  tail -n 15 "$log" >&2
fi
say "done (exit $status)"
exit "$status"
