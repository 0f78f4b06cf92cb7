#!/usr/bin/env bash
# Start-up at scale (issue 16): how long a `gongyou serve` replica takes to become ready —
# its station index loaded (the index is built before the port is bound, so `/readyz`
# answering 200 means it is loaded) — with N stations in PostgreSQL, against the time `psql`
# takes to read the same rows (`COPY (SELECT <the index's columns> FROM stations) TO STDOUT`
# into /dev/null), measured in the same run. Medians of 3; peak memory is VmHWM.
#
#   make bench-startup        (builds the release binary first)
#   GONGYOU_BENCH_DATABASE_URL  a PostgreSQL server URL (default postgres://postgres@127.0.0.1:5432/postgres)
#   GONGYOU_BENCH_STATIONS      N (default 150000)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$REPO/target/release/gongyou}
SERVER=${GONGYOU_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
N=${GONGYOU_BENCH_STATIONS:-150000}
DB=gongyou_bench_startup
URL="${SERVER%/*}/$DB"
WORK=$(mktemp -d)
trap 'kill "${PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "$BIN is missing: cargo build --release --bin gongyou" >&2; exit 1; }
command -v psql >/dev/null && command -v curl >/dev/null || { echo "needs psql and curl" >&2; exit 1; }

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

psql -q "$SERVER" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export GONGYOU_DATABASE_URL="$URL" GONGYOU_DATA_DIR="$WORK/data" GONGYOU_LOG=warn \
  GONGYOU_TOKEN_SECRET=bench-token-secret-bench-token-secret-0001 \
  GONGYOU_DATA_KEY=bench-data-key-bench-data-key-bench-0001 GONGYOU_DEMO_PASSWORD=bench-password-1
"$BIN" migrate >/dev/null
t0=$(now)
"$BIN" seed --stations "$N" >/dev/null
echo "seeded $N stations in $(printf '%.1f' "$(calc "$(now) - $t0")") s"
rows=$(psql -Atq "$URL" -c "SELECT COUNT(*) FROM stations")
psql -q "$URL" -c "VACUUM ANALYZE stations"

# The columns the index reads (gongyou_db::stations::SearchRow, issue 18: before it, every
# column of the table).
columns="id, kind, name, address, lat, lng, amenities, hours, status, reopens_at, version"
copies=()
for _ in 1 2 3; do
  t0=$(now)
  psql -q "$URL" -c "COPY (SELECT $columns FROM stations) TO STDOUT" >/dev/null
  copies+=("$(calc "$(now) - $t0")")
done
copy=$(printf '%s\n' "${copies[@]}" | median)

readies=(); peaks=(); rss=()
for i in 1 2 3; do
  port=$((20000 + RANDOM % 20000))
  t0=$(now)
  GONGYOU_HTTP_ADDR="127.0.0.1:$port" "$BIN" serve >"$WORK/serve-$i.log" 2>&1 &
  PID=$!
  until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
    if ! kill -0 "$PID" 2>/dev/null; then echo "serve exited:"; cat "$WORK/serve-$i.log"; exit 1; fi
    if [ "$(calc "(($(now) - $t0) > 120)")" = 1 ]; then echo "not ready in 120 s"; exit 1; fi
    sleep 0.01
  done
  readies+=("$(calc "$(now) - $t0")")
  peaks+=("$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status")")
  rss+=("$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status")")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
ready=$(printf '%s\n' "${readies[@]}" | median)

printf '\nstations in PostgreSQL       %s\n' "$rows"
printf 'baseline psql COPY TO STDOUT median %.2f s (runs %s)\n' "$copy" "$(printf '%.2f s ' "${copies[@]}")"
printf 'serve until /readyz 200      median %.2f s (runs %s; polled every 10 ms)\n' "$ready" "$(printf '%.2f s ' "${readies[@]}")"
printf 'ratio                        %.2f× (target ≤ 3×)\n' "$(calc "$ready / $copy")"
printf 'VmHWM serve                  %s MB\n' "${peaks[*]}"
printf 'VmRSS serve once ready       %s MB (an empty install: about 45 MB)\n' "${rss[*]}"
psql -q "$SERVER" -c "DROP DATABASE IF EXISTS $DB"
