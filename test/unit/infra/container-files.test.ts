/**
 * Dockerfile and docker-compose.yml keep the promises of docs/deploy.md: least
 * privilege, non-root, a health check, and every agent setting as an environment
 * variable in the compose file (checked against what agent/config reads).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, 'Dockerfile')) && existsSync(join(dir, 'package.json')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no Dockerfile above the test');
    dir = up;
  }
  return dir;
})();
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

/** Settings that make no sense for the long-running container, with the reason. */
const NOT_FOR_THE_CONTAINER = new Map([['LBTA_READ', 'analyses a capture file once and exits: a CLI use, not the service']]);

/** The `environment:` keys of the compose service (a flat YAML mapping, one per line). */
function composeEnvironment(): Map<string, string> {
  const lines = compose.split('\n');
  const start = lines.findIndex((l) => /^ {4}environment:\s*$/.test(l));
  assert.ok(start >= 0, 'compose has an environment block');
  const env = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (/^ {4}\S/.test(line)) break;
    const m = /^ {6}([A-Z][A-Z0-9_]*):\s*(.*)$/.exec(line);
    if (m?.[1]) env.set(m[1], m[2] ?? '');
  }
  return env;
}

/** Dockerfile stages: name → text. */
function stages(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = dockerfile.split(/^FROM /m).slice(1);
  for (const p of parts) {
    const name = /^\S+(?: AS (\S+))?/.exec(p)?.[1] ?? 'final';
    out.set(name, p);
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('runs on the host network with only NET_RAW, read-only, restarting unless stopped', () => {
    // Assess
    for (const line of ['network_mode: host', 'cap_drop: [ALL]', 'cap_add: [NET_RAW]', 'read_only: true', 'restart: unless-stopped', 'stop_grace_period: 30s']) {
      assert.match(compose, new RegExp(`^ {4}${line.replace(/[[\]]/g, '\\$&')}$`, 'm'), line);
    }
    assert.match(compose, /:\/var\/log\/lb-traffic-analyzer$/m, 'the log volume');
    assert.match(compose, /^ {6}- \/tmp:/m, 'a tmpfs for /tmp');
    assert.doesNotMatch(compose, /privileged|NET_ADMIN|SYS_ADMIN/);
  });

  it('offers every setting the agent reads from the environment, each with a default', () => {
    // Prepare
    const configDir = join(root, 'agent/config');
    const source = readdirSync(configDir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => readFileSync(join(configDir, f), 'utf8'))
      .join('\n');
    const read = new Set([...source.matchAll(/\b(LBTA_[A-Z0-9_]+)\b/g)].map((m) => m[1] ?? ''));

    // Act
    const env = composeEnvironment();

    // Assess
    const missing = [...read].filter((k) => !env.has(k) && !NOT_FOR_THE_CONTAINER.has(k));
    assert.deepEqual(missing, [], `compose lacks: ${missing.join(', ')}`);
    for (const [k, v] of env) {
      assert.ok(k === 'LBTA_LOG_DIR' || /^\$\{[A-Z0-9_]+:-.*\}$/.test(v), `${k} has an overridable default: ${v}`);
    }
  });
});

describe('Dockerfile', () => {
  it('defaults the base to the official Node.js 24 LTS slim image', () => {
    assert.match(dockerfile, /^ARG BASE_IMAGE=node:24-bookworm-slim$/m);
  });

  it('keeps build tools out of the stages that make the final image', () => {
    // Prepare
    const s = stages();

    // Assess
    assert.match(s.get('build') ?? '', /python3 make g\+\+ libpcap-dev/);
    assert.match(s.get('build') ?? '', /npm prune --omit=dev/);
    const runtime = s.get('runtime') ?? '';
    assert.match(runtime, /apt-get install -y --no-install-recommends libpcap0\.8 libcap2-bin/);
    assert.match(runtime, /apt-get purge -y --auto-remove libcap2-bin/, 'setcap is removed in the same step');
    assert.doesNotMatch(runtime, /g\+\+|libpcap-dev|python3|make /);
    assert.match(runtime, /setcap cap_net_raw\+ep \/usr\/local\/bin\/node/);
  });

  it('runs as uid 10001 with a volume, SIGTERM, a HEALTHCHECK and the agent as entrypoint', () => {
    // Prepare
    const final = stages().get('final') ?? '';

    // Assess
    assert.match(final, /^USER 10001:10001$/m);
    assert.match(final, /^VOLUME \["\/var\/log\/lb-traffic-analyzer"\]$/m);
    assert.match(final, /^STOPSIGNAL SIGTERM$/m);
    assert.match(final, /^HEALTHCHECK .*\n\s+CMD \["node", "dist\/agent\/healthcheck\.js"\]$/m);
    assert.match(final, /^ENTRYPOINT \["node", ("--[a-z0-9-]+(=\d+)?", )*"dist\/agent\/main\.js"\]$/m);
    assert.match(final, /LBTA_LOG_DIR=\/var\/log\/lb-traffic-analyzer/);
  });

  it('sends only what the build needs into the build context', () => {
    // Prepare
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));

    // Assess
    assert.equal(ignore[0], '*', 'everything is excluded first');
    assert.deepEqual(ignore.filter((l) => l.startsWith('!')).sort(),
      ['!agent/', '!agent/**', '!package-lock.json', '!package.json', '!scripts/build-native.sh', '!tsconfig.json']);
    assert.ok(ignore.includes('agent/capture/native/build'), 'a local build of the batch addon stays out: the image compiles its own');
  });
});
