#!/usr/bin/env bash
# Makes this checkout ready to run: system servers, npm dependencies from the
# lockfile, the compiled output, and (with --test-tools) the cached
# kube-apiserver/etcd/helm binaries the tests use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=false
[[ "${1:-}" == "--test-tools" ]] && want_test_tools=true

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
# The chart tests drive kubectl against the test apiserver.
$want_test_tools && ! command -v kubectl >/dev/null 2>&1 && missing+=(kubectl)
# The console's browser tests drive Debian's Chromium (test/support/browser.ts)
# through playwright-core's own protocol; chromium-driver is installed with it
# so WebDriver tools work against the same browser.
$want_test_tools && ! command -v chromium >/dev/null 2>&1 && missing+=(chromium)
$want_test_tools && ! command -v chromedriver >/dev/null 2>&1 && missing+=(chromium-driver)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing ${missing[*]}; install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

stamp=node_modules/.flowpool-lock-stamp
if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

npm run --silent build

if $want_test_tools && [[ -x test/tools/build.sh ]]; then
  test/tools/build.sh
fi
