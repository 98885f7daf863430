import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root seen from a compiled test file (dist/test/... or a build
 * directory): the nearest parent holding both package.json and the Dockerfile.
 */
export function repoRoot(fromUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(fromUrl));
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'Dockerfile')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no repository root (package.json and Dockerfile) above the tests');
    dir = up;
  }
  return dir;
}
