#!/usr/bin/env bash
# Idempotent set-up on Debian/Ubuntu: system packages, npm dependencies, build.
#   scripts/setup.sh          what the analyzer needs (libpcap, build tools)
#   scripts/setup.sh --test   plus what the test suite needs (tshark, haproxy, nginx, tcpreplay, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

pkgs=(libpcap-dev libpcap0.8 python3 make g++ iproute2 ca-certificates)
if [ "$want_test" = 1 ]; then
  pkgs+=(tshark tcpdump tcpreplay haproxy nginx-light iptables ethtool python3-scapy socat curl util-linux libcap2-bin time)
  # The container test: a Docker engine (dockerd, started by the test) and debootstrap
  # for the offline base image (no registry is reachable to pull node:24-bookworm-slim).
  pkgs+=(docker.io debootstrap)
  # The wall-clock-jump test (test/integration/faults/log-clock) runs the agent under libfaketime.
  pkgs+=(faketime)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js is not installed; installing the distribution's nodejs and npm"
  $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required, found $(node --version). Install a current LTS (for example from the nodejs package of NodeSource or with nvm) and run this again." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
npm run --silent build
