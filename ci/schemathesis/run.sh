#!/usr/bin/env bash
# Fuzzing gate: schemathesis (pinned, requirements.txt) against a fresh `gongyou demo`, once
# signed in as a union admin and once as a worker who is a member; all checks, all phases
# (examples, coverage, fuzzing, stateful), a fixed seed, a budget in examples per operation,
# each run under `timeout`. See README.md in this directory.
#
#   ci/schemathesis/run.sh [BIN]        BIN defaults to target/debug/gongyou (repo root)
#
# Exit status: 0 = no failure and >= 90 % of the spec's operations answered a 2xx (admin ∪
# worker); 1 = failures; 2 = coverage too low; 3 = both; 4 = a run broke (no venv, the server
# did not start, the hook's setup failed, schemathesis crashed or hit its timeout).
#
# Knobs (environment): MAX_EXAMPLES (25) SEED (42) RUN_TIMEOUT seconds per role (480)
#   MIN_RATIO (0.9) ROLES ("admin worker") OUT (target/schemathesis/out, emptied first)
#   VENV (target/schemathesis/venv) ST_EXTRA_ARGS (extra `st run` arguments)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${1:-$REPO/target/debug/gongyou}
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
SEED=${SEED:-42}
RUN_TIMEOUT=${RUN_TIMEOUT:-480}
MIN_RATIO=${MIN_RATIO:-0.9}
ROLES=${ROLES:-admin worker}
OUT=${OUT:-$REPO/target/schemathesis/out}
VENV=${VENV:-$REPO/target/schemathesis/venv}
started=$(date +%s)
say() { echo "== $* (+$(( $(date +%s) - started ))s)"; }

case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
if [ ! -x "$BIN" ]; then
  echo "no server binary at $BIN (build it: cargo build -p gongyou)" >&2
  exit 4
fi
rm -rf "$OUT" && mkdir -p "$OUT" || exit 4

# --- schemathesis in a venv (python3-venv comes from apt when missing) ----------------------
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q '4\.32\.5' ||
   ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt"; then
  say "installing schemathesis into $VENV"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || exit 4
    else
      echo "python3 -m venv failed: install python3-venv (as root: apt-get install python3-venv)" >&2
      exit 4
    fi
    python3 -m venv "$VENV" || exit 4
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt" || exit 4
  cp "$HERE/requirements.txt" "$VENV/requirements.txt"
fi

# --- the demo server -------------------------------------------------------------------------
export GONGYOU_DEMO_PASSWORD=${GONGYOU_DEMO_PASSWORD:-fuzz-demo-Pass-42}
DEMO_PID= DEMO_DIR= DEMO_URL=

start_demo() { # start_demo ROLE: a fresh data dir, a free port (":0"), limits raised
  local role=$1 log="$OUT/$1.server.log"
  DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gongyou-fuzz-$role.XXXXXX")
  # Raised so that fuzzing (wrong passwords, SMS codes, searches from 127.0.0.1) cannot lock
  # the run out of its own accounts; the limits themselves have their own tests.
  GONGYOU_DATA_DIR="$DEMO_DIR" GONGYOU_HTTP_ADDR=127.0.0.1:0 \
  GONGYOU_SMS_DAILY_BUDGET=1000000 GONGYOU_SMS_NETWORK_HOURLY=1000000 GONGYOU_SMS_PHONE_DAILY=1000000 \
  GONGYOU_LOGIN_MAX_FAILURES=1000000 GONGYOU_LOGIN_NETWORK_MAX_FAILURES=1000000 \
  GONGYOU_LOGIN_SLOW_AFTER=1000000 GONGYOU_SEARCH_RATE_PER_MINUTE=0 \
    "$BIN" demo >"$log" 2>&1 &
  DEMO_PID=$!
  local addr=
  for _ in $(seq 1 240); do
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      echo "the demo ($role) exited:" >&2; tail -20 "$log" >&2; DEMO_PID=; return 1
    fi
    addr=$(grep -m1 '"message":"listening"' "$log" | sed -E 's/.*"addr":"([^"]+)".*/\1/')
    if [ -n "$addr" ] && curl -fsS -o /dev/null "http://$addr/healthz" 2>/dev/null; then
      DEMO_URL="http://$addr"
      return 0
    fi
    sleep 0.25
  done
  echo "the demo ($role) did not answer /healthz within 60 s" >&2
  return 1
}

stop_demo() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null
    wait "$DEMO_PID" 2>/dev/null
  fi
  [ -n "$DEMO_DIR" ] && rm -rf "$DEMO_DIR"
  DEMO_PID= DEMO_DIR=
}
trap stop_demo EXIT
trap 'stop_demo; exit 130' INT TERM

# --- one schemathesis run per role -----------------------------------------------------------
broken=0
runs=()
for role in $ROLES; do
  say "$role: fresh demo"
  start_demo "$role" || { broken=1; stop_demo; continue; }
  # The document the binary serves, as a file: loaded from a URL, schemathesis leaves the
  # operation serving it (GET /openapi.yaml) out.
  curl -fsS "$DEMO_URL/openapi.yaml" -o "$OUT/openapi.yaml" || { broken=1; stop_demo; continue; }
  say "$role: schemathesis against $DEMO_URL (seed $SEED, $MAX_EXAMPLES examples per operation)"
  mkdir -p "$OUT/$role.work"
  # st keeps a request cache and crash files (`st replay`) in ./.schemathesis: run it in a
  # directory of its own. The hook signs in and creates test data when st loads it.
  (
    cd "$OUT/$role.work" &&
    GONGYOU_FUZZ_BASE_URL="$DEMO_URL" GONGYOU_FUZZ_ROLE="$role" GONGYOU_FUZZ_LOG="$OUT/$role.hook.log" \
    GONGYOU_FUZZ_SERVER_LOG="$OUT/$role.server.log" \
    SCHEMATHESIS_HOOKS="$HERE/hooks.py" \
    timeout -s INT -k 30 "$RUN_TIMEOUT" \
      "$VENV/bin/st" --config-file "$HERE/schemathesis.toml" run "$OUT/openapi.yaml" \
        --url "$DEMO_URL" \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --workers 1 \
        --continue-on-failure \
        --generation-database none \
        --request-timeout 10 \
        --output-sanitize false \
        --no-color \
        --report junit,ndjson \
        --report-junit-path "$OUT/$role.junit.xml" \
        --report-ndjson-path "$OUT/$role.ndjson" \
        ${ST_EXTRA_ARGS:-}
  ) 2>&1 | tee "$OUT/$role.st.txt" | sed -n '/^=* \(FAILURES\|SUMMARY\) =*$/,$p'
  rc=${PIPESTATUS[0]}
  stop_demo
  case $rc in
    0) say "$role: schemathesis passed" ;;
    1) say "$role: schemathesis found failures (above; full output in $OUT/$role.st.txt)" ;;
    124|130|137) say "$role: hit the ${RUN_TIMEOUT}s timeout (exit $rc)"; broken=1 ;;
    *) say "$role: schemathesis exited $rc"; tail -40 "$OUT/$role.st.txt"; broken=1 ;;
  esac
  if [ -s "$OUT/$role.hook.log" ]; then
    "$VENV/bin/python" - "$OUT/$role.hook.log" "$role" <<'EOF'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
for e in events:
    if e["event"] in ("setup_done", "setup_failed", "summary"):
        e.pop("t")
        print(f"  {sys.argv[2]} hook {e.pop('event')}: " + json.dumps(e, ensure_ascii=False))
EOF
  fi
  [ -s "$OUT/$role.ndjson" ] && runs+=("$role=$OUT/$role.ndjson")
done

say "summary (reports in $OUT)"
if [ ${#runs[@]} -eq 0 ] || [ ! -s "$OUT/openapi.yaml" ]; then
  echo "no reports" >&2
  exit 4
fi
"$VENV/bin/python" "$HERE/coverage.py" --spec "$OUT/openapi.yaml" --min-ratio "$MIN_RATIO" \
  --json "$OUT/coverage.json" "${runs[@]}"
status=$?
[ "$broken" -ne 0 ] && status=4
case $status in
  0) say "fuzzing gate passed" ;;
  4) say "fuzzing gate FAILED: a run broke (see above and $OUT)" ;;
  *) say "fuzzing gate FAILED (exit $status: 1 = failures, 2 = coverage below $MIN_RATIO, 3 = both)" ;;
esac
exit "$status"
