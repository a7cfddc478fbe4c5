#!/usr/bin/env bash
# Regenerates deploy/nginx/keyledgerd-routes.conf from keyledgerd's route table
# (`keyledgerd routes --nginx`), so the proxy sends exactly keyledgerd's paths to keyledgerd.
# Run it after adding, removing or renaming a route and commit the result; the e2e test
# ProxyConfigTest.CheckedInFragmentIsCurrent fails until you do.
#   tools/gen-nginx.sh                   # uses build/test/src/keyledgerd (builds it if missing)
#   KEYLEDGERD=path/to/keyledgerd tools/gen-nginx.sh
#   tools/gen-nginx.sh --upstream 10.0.0.5:8080 > /etc/nginx/keyledgerd-routes.conf   # elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${KEYLEDGER_TEST_BUILD_DIR:-build/test}"
KEYLEDGERD="${KEYLEDGERD:-$BUILD_DIR/src/keyledgerd}"
if [[ ! -x "$KEYLEDGERD" ]]; then
  cmake --build "$BUILD_DIR" --target keyledgerd >&2
fi

if (($# > 0)); then
  # Another upstream: print, leave the checked-in file alone.
  exec "$KEYLEDGERD" routes --nginx "$@"
fi
out=deploy/nginx/keyledgerd-routes.conf
"$KEYLEDGERD" routes --nginx >"$out.tmp"
mv "$out.tmp" "$out"
echo "gen-nginx: wrote $out" >&2
