#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite: unit, integration (network
# namespaces, real servers), container and CDK tests. Needs root for namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -E"; fi
exec $SUDO npm test
