#!/usr/bin/env bash
# Compiles the batch capture addon (agent/capture/native/pcap_batch.c) with node-gyp, the
# way npm builds the pcap and cap addons (libpcap-dev, python3, make and a C compiler),
# and puts it beside the compiled JavaScript: dist/agent/capture/native/pcap_batch.node.
# Skips the compiler when the addon is newer than its sources (every .c and .h there, and
# binding.gyp). Run by `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
src=agent/capture/native
out=$src/build/Release/pcap_batch.node
stale=0
[[ -f $out ]] || stale=1
for f in "$src"/*.c "$src"/*.h "$src"/binding.gyp; do if [[ $f -nt $out ]]; then stale=1; fi; done
if (( stale )); then
  node-gyp rebuild --directory "$src" --loglevel=warn >/dev/null
fi
mkdir -p dist/agent/capture/native
cp "$out" dist/agent/capture/native/pcap_batch.node
