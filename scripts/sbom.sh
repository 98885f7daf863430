#!/usr/bin/env bash
# Software bill of materials.
#   scripts/sbom.sh [OUT_DIR (default dist/sbom)] [IMAGE]
# Always: OUT_DIR/npm-cyclonedx.json, the production npm dependencies from
# package-lock.json (exactly what the image's `npm prune --omit=dev` keeps), CycloneDX 1.5.
# With IMAGE (e.g. lb-traffic-analyzer, needs a Docker engine): what is really inside it,
# OUT_DIR/image-debian-packages.txt (dpkg's database) and OUT_DIR/image-node-modules.txt
# (every package.json under /app/node_modules), read by running the image itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/sbom}"
image="${2:-}"
mkdir -p "$out"
npm sbom --omit=dev --sbom-format cyclonedx > "$out/npm-cyclonedx.json"
echo "sbom: $out/npm-cyclonedx.json ($(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).components.length)' "$out/npm-cyclonedx.json") components)"
if [ -n "$image" ]; then
  docker run --rm --network=none --entrypoint dpkg-query "$image" -W -f '${Package} ${Version}\n' > "$out/image-debian-packages.txt"
  docker run --rm --network=none --entrypoint node "$image" -e "$(cat <<'JS'
const fs = require('fs'), path = require('path');
const seen = [];
function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === '.bin') continue;
    const p = path.join(dir, e.name);
    if (e.name.startsWith('@')) { walk(p); continue; }
    try { const j = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8')); seen.push(`${j.name}@${j.version}`); } catch {}
    if (fs.existsSync(path.join(p, 'node_modules'))) walk(path.join(p, 'node_modules'));
  }
}
walk('/app/node_modules');
console.log(seen.sort().join('\n'));
JS
)" > "$out/image-node-modules.txt"
  echo "sbom: $out/image-debian-packages.txt ($(wc -l < "$out/image-debian-packages.txt") packages), $out/image-node-modules.txt ($(wc -l < "$out/image-node-modules.txt") packages)"
fi
