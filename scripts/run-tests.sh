#!/usr/bin/env bash
# The test runner behind `npm test`: node's own runner over the compiled tests.
# Usage: npm test [-- PATH...]   (paths under dist/test, default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
if [ $# -eq 0 ]; then set -- dist/test/unit dist/test/integration dist/test/system dist/test/container dist/test/fuzz; fi
existing=()
for p in "$@"; do [ -e "$p" ] && existing+=("$p"); done
exec node --test --test-reporter=spec --test-timeout=600000 "${existing[@]}"
