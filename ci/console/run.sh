#!/usr/bin/env bash
# The staff console's gate (issue 17, console/README.md):
#   1. rebuild the assets from source (npm ci from the lockfile, openapi-typescript from
#      openapi.yaml, tsc --noEmit, vite build) and fail when they differ from what is
#      committed in console/ (src/api/schema.d.ts and dist/, which the binary embeds);
#   2. drive the console of one fresh `gongyou demo` in headless Chromium with Playwright:
#      sign in as each demo role and complete its main task, axe-core on each main page,
#      screenshots into $GONGYOU_E2E_OUT (default target/console-e2e).
#
#   ci/console/run.sh [BIN]    BIN: the server binary (default target/debug/gongyou)
#   ci/console/run.sh --build-only   step 1 without the comparison (make console)
#
# Installs what is missing when root on Debian: nodejs/npm, chromium, a CJK font.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
started=$(date +%s)
say() { echo "== console: $* (+$(( $(date +%s) - started ))s)"; }

build_only=""
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
bin="$(realpath "${1:-$repo/target/debug/gongyou}")"

apt_updated=""
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing: $* (install them, or run as root on Debian)" >&2
    exit 2
  fi
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing nodejs and npm"
  apt_install nodejs npm
fi
# Vite 8 needs Node 20.19 or later.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "Node $(node --version) is too old: the console's build needs Node >= 20.19" >&2
  exit 2
fi

cd "$repo/console"
if ! cmp -s package-lock.json node_modules/.ci-lock 2>/dev/null; then
  say "npm ci (node $(node --version), npm $(npm --version))"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ci-lock
fi

say "build: openapi-typescript, tsc, vite"
npm run -s build
if [ -n "$build_only" ]; then say "built into console/dist"; exit 0; fi

say "the committed assets are what the sources build"
if ! git -C "$repo" diff --exit-code --stat -- console/dist console/src/api/schema.d.ts \
  || [ -n "$(git -C "$repo" status --porcelain --untracked-files=all -- console/dist console/src/api/schema.d.ts)" ]; then
  git -C "$repo" status --short -- console/dist console/src/api/schema.d.ts >&2
  echo "console/dist or schema.d.ts differ from a fresh build: run 'make console' and commit the result" >&2
  exit 1
fi

[ -x "$bin" ] || { echo "no server binary at $bin (cargo build -p gongyou)" >&2; exit 2; }
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  say "installing Debian's chromium"
  apt_install chromium
fi
# Screenshots read better with a CJK font (axe does not depend on it).
if command -v fc-list >/dev/null && ! fc-list :lang=zh | grep -q . ; then
  say "installing a CJK font"
  apt_install fonts-wqy-microhei || true
fi

out="${GONGYOU_E2E_OUT:-$repo/target/console-e2e}"
rm -rf "$out"
mkdir -p "$out"
say "Playwright ($("$chromium" --version 2>/dev/null || echo chromium)) against a fresh demo"
status=0
GONGYOU_BIN="$bin" GONGYOU_E2E_OUT="$out" CHROMIUM_PATH="$chromium" \
  npx playwright test || status=$?
shots=$(find "$out/screenshots" -name '*.png' 2>/dev/null | wc -l)
say "done (exit $status); $shots screenshots in $out/screenshots, axe reports in $out/axe"
exit "$status"
