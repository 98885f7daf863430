#!/usr/bin/env bash
# Set up (idempotent) and run the analyzer on this machine's default-route interface.
# Any flag is passed through: scripts/run.sh -i eth0 -s 10   (see --help)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo --preserve-env=AWS_REGION,AWS_PROFILE,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_SESSION_TOKEN"; fi
# The Node.js options the agent runs with: agent/node-flags.ts says why.
exec $SUDO node --max-semi-space-size=1 --v8-pool-size=1 --no-maglev dist/agent/main.js "$@"
