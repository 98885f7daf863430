#!/usr/bin/env bash
# npm run fuzz -- <target|all> [seconds] [run.js options]
# Builds, then runs the coverage-guided fuzzer (test/fuzz/run.ts) on a target for
# `seconds` (default 300). New interesting inputs go to $FUZZ_WORK/corpus/<target>
# (default ${TMPDIR:-/tmp}/lbta-fuzz) and crashes to $FUZZ_WORK/artifacts; copy the
# inputs worth keeping into test/fuzz/corpus/<target>/ and turn each crash into a
# test in test/unit/fuzz-regressions/. Replay one input: --repro FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  echo "usage: npm run fuzz -- <target|all> [seconds] [--seed N] [--max-heap MB] [--timeout-ms MS] [--repro FILE...]" >&2
  echo "targets: $(ls test/fuzz/targets | sed -n 's/\.ts$//p' | grep -v -e common -e segments | tr '\n' ' ')" >&2
  exit 2
fi
target="$1"; shift
seconds=300
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then seconds="$1"; shift; fi
work="${FUZZ_WORK:-${TMPDIR:-/tmp}/lbta-fuzz}"
npm run --silent build
exec node dist/test/fuzz/run.js "$target" "$seconds" --out "$work/corpus" --artifacts "$work/artifacts" "$@"
