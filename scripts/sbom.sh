#!/usr/bin/env bash
# Software bill of materials.
#   scripts/sbom.sh [OUT_DIR (default dist/sbom)] [IMAGE]
# Always: OUT_DIR/npm-cyclonedx.json, the production npm dependencies (exactly what the
# image's `npm prune --omit=dev` keeps), CycloneDX 1.5.
# With IMAGE (e.g. lb-traffic-analyzer, needs a Docker engine): what is really inside it,
# OUT_DIR/image-debian-packages.txt (dpkg's database) and OUT_DIR/image-node-modules.txt
# (every package.json under /app/node_modules), read by running the image itself.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/sbom}"
image="${2:-}"
mkdir -p "$out"
# Not `npm sbom --omit=dev`: npm 10/11 drop a production package that a dev dependency also
# uses (npm/cli#7909; here tslib, which the image ships). So: the whole tree's SBOM, kept to
# the name@versions package-lock.json does not mark "dev" (exactly the image's node_modules).
npm sbom --package-lock-only --sbom-format cyclonedx > "$out/npm-cyclonedx-all.json"
node - "$out/npm-cyclonedx-all.json" package-lock.json > "$out/npm-cyclonedx.json" <<'JS'
const fs = require('fs');
const [bomFile, lockFile] = process.argv.slice(2);
const bom = JSON.parse(fs.readFileSync(bomFile, 'utf8'));
const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8')).packages;
const prod = new Set(Object.entries(lock).filter(([k, v]) => k !== '' && !v.dev && !v.link)
  .map(([k, v]) => `${v.name ?? k.split('node_modules/').pop()}@${v.version}`));
const refs = new Set();
bom.components = bom.components.filter((c) => prod.has(`${c.name}@${c.version}`) && refs.add(c['bom-ref']));
const root = bom.metadata?.component?.['bom-ref'];
bom.dependencies = (bom.dependencies ?? []).filter((d) => d.ref === root || refs.has(d.ref))
  .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => refs.has(r)) }));
const missing = [...prod].filter((p) => !bom.components.some((c) => `${c.name}@${c.version}` === p));
if (missing.length > 0) { console.error(`sbom: not in npm's SBOM: ${missing.join(', ')}`); process.exit(1); }
process.stdout.write(`${JSON.stringify(bom, null, 2)}\n`);
JS
rm "$out/npm-cyclonedx-all.json"
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
