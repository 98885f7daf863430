/**
 * The install script (user data and SSM): a valid shell script that writes the
 * traffic-analyzer unit with the least-privilege container flags.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dockerRunCommand, installCommands, systemdUnit } from '../../../infra/constructs/install-script.js';

const OPTS = {
  imageUri: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/cdk-assets:abc123',
  registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com',
  region: 'eu-west-1',
  environment: { LBTA_SAMPLE: '1', LBTA_FILTER: "port 80 and host 10.0.0.1 and not src net 'x'" },
};

describe('install script', () => {
  it('passes every setting with -e, quoted so that spaces and quotes survive', () => {
    // Prepare / Act
    const run = dockerRunCommand(OPTS);

    // Assess
    assert.ok(run.startsWith('/usr/bin/docker run --rm --name traffic-analyzer --net=host --cap-drop=ALL --cap-add=NET_RAW --read-only '));
    assert.ok(run.endsWith(` ${OPTS.imageUri}`));
    const sh = spawnSync('sh', ['-c', `for a in ${run.replace('/usr/bin/docker run', '')}; do printf '%s\\n' "$a"; done`], { encoding: 'utf8' });
    assert.ok(sh.stdout.split('\n').includes("LBTA_FILTER=port 80 and host 10.0.0.1 and not src net 'x'"), sh.stdout);
  });

  it('writes a unit that logs in to ECR, pulls, runs in the foreground and stops gracefully', () => {
    // Prepare / Act
    const unit = systemdUnit(OPTS);

    // Assess
    assert.match(unit, /^Requires=docker\.service$/m);
    assert.match(unit, /^ExecStartPre=\/bin\/sh -c 'aws ecr get-login-password --region eu-west-1 \| docker login --username AWS --password-stdin 111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com'$/m);
    assert.match(unit, /^ExecStartPre=\/usr\/bin\/docker pull 111122223333/m);
    assert.match(unit, /^ExecStartPre=\/usr\/bin\/install -d -o 10001 -g 10001 -m 0750 \/var\/log\/lb-traffic-analyzer$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/docker run --rm /m);
    assert.match(unit, /^Restart=always$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
  });

  it('is a syntactically valid shell script', () => {
    // Prepare
    const script = ['#!/bin/bash', ...installCommands(OPTS)].join('\n');

    // Act
    const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });

    // Assess
    assert.equal(check.status, 0, check.stderr);
    assert.match(script, /cat > \/etc\/systemd\/system\/traffic-analyzer\.service <<'LBTA_UNIT_EOF'/);
  });
});

describe('install script quoting for systemd', () => {
  it('doubles % and $ so systemd passes them literally', () => {
    // Prepare / Act
    const run = dockerRunCommand({ ...OPTS, environment: { LBTA_FILTER: 'len > 100%', LBTA_X: '$HOME' } });

    // Assess
    assert.ok(run.includes("-e LBTA_FILTER='len > 100%%'"), run);
    assert.ok(run.includes("-e LBTA_X='$$HOME'"), run);
  });
});
