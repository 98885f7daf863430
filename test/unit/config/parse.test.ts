import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, helpText, OPTIONS, parseConfig } from '../../../agent/config/parse.js';

const IFACE = { defaultInterface: () => 'ens5' };

function config(argv: string[], env: Record<string, string> = {}) {
  const r = parseConfig(argv, env, IFACE);
  assert.equal(r.kind, 'run');
  return (r as Extract<typeof r, { kind: 'run' }>).config;
}

function problems(argv: string[], env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(argv, env, IFACE);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  test('defaults match the original script: default-route interface, every flow, ./logs, 30 s summaries, 7 days', () => {
    // Act
    const c = config([]);
    // Assess
    assert.equal(c.interface, 'ens5');
    assert.equal(c.sample, 1);
    assert.equal(c.logDir, './logs');
    assert.equal(c.summaryIntervalSec, 30);
    assert.equal(c.retentionDays, 7);
    assert.equal(c.engine, 'batch');
    assert.equal(c.snaplen, 9216);
    assert.equal(c.bufferTimeoutMs, 50);
    assert.equal(c.maxConnections, 100_000);
    assert.equal(c.cloudwatch, 'auto');
    assert.equal(c.logGroup, '/lb-traffic-analyzer/events');
    assert.equal(c.cloudwatchRetentionDays, 14);
    assert.equal(c.metricsNamespace, 'LBTrafficAnalyzer');
    assert.equal(c.logQueryStrings, false);
    assert.ok(Object.isFrozen(c));
  });

  test('the original short flags keep their meaning', () => {
    const c = config(['-i', 'eth1', '-s', '10', '-l', '/var/log/x']);
    assert.equal(c.interface, 'eth1');
    assert.equal(c.sample, 10);
    assert.equal(c.logDir, '/var/log/x');
  });

  test('--flag=value and -xVALUE forms are understood', () => {
    const c = config(['--sample=5', '-ieth2', '--engine=cap']);
    assert.equal(c.sample, 5);
    assert.equal(c.interface, 'eth2');
    assert.equal(c.engine, 'cap');
  });

  test('a flag wins over the environment, which wins over the default', () => {
    const env = { LBTA_SAMPLE: '7', LBTA_LOG_DIR: '/env/logs', LBTA_ENGINE: 'cap' };
    const c = config(['-s', '3'], env);
    assert.equal(c.sample, 3);
    assert.equal(c.logDir, '/env/logs');
    assert.equal(c.engine, 'cap');
  });

  test('every option has an LBTA_ environment variable, and each one is read', () => {
    for (const o of OPTIONS) assert.match(o.env, /^LBTA_[A-Z0-9_]+$/, o.long);
    assert.equal(new Set(OPTIONS.map((o) => o.env)).size, OPTIONS.length);
    const c = config([], { LBTA_TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/8', LBTA_LOG_QUERY_STRINGS: 'true', LBTA_SYN_TIMEOUT: '1.5' });
    assert.deepEqual(c.trustedProxies, ['10.0.0.1', '10.0.0.0/8']);
    assert.equal(c.logQueryStrings, true);
    assert.equal(c.synTimeoutSec, 1.5);
  });

  test('AWS_REGION is used when no --region or LBTA_REGION is given', () => {
    assert.equal(config([], { AWS_REGION: 'eu-west-1' }).region, 'eu-west-1');
    assert.equal(config(['--region', 'us-east-2'], { AWS_REGION: 'eu-west-1' }).region, 'us-east-2');
  });

  test('--read needs no interface and excludes -i', () => {
    assert.equal(config(['--read', 'x.pcap']).readFile, 'x.pcap');
    assert.match(problems(['--read', 'x.pcap', '-i', 'eth0']).join('\n'), /exclude each other/);
  });

  test('every problem is reported at once, each naming the flag, the value and what is allowed', () => {
    // Act
    const p = problems(['-s', 'abc', '--engine', 'foo', '--summary-interval', '-5', '--cloudwatch', 'maybe']);
    // Assess
    assert.equal(p.length, 4);
    assert.equal(p[0], '-s/--sample: "abc" is not an integer (1 = every flow, 10 = one flow in ten)');
    assert.equal(p[1], '--engine: "foo" is not one of: batch, pcap, cap');
    assert.match(p[2] ?? '', /^--summary-interval: -5 is out of range/);
    assert.equal(p[3], '--cloudwatch: "maybe" is not one of: auto, on, off');
  });

  test('--buffer-timeout above what libpcap is given here is a flag error, not a failure at capture start', () => {
    assert.deepEqual(problems(['--buffer-timeout', '100']), ['--buffer-timeout: 100 is out of range (milliseconds, 1..50)']);
  });

  test('a bad environment value names the variable and its flag', () => {
    assert.deepEqual(problems([], { LBTA_SAMPLE: '0' }), ['LBTA_SAMPLE (-s/--sample): 0 is out of range (1 = every flow, 10 = one flow in ten)']);
  });

  test('an unknown flag is named with a suggestion, and its value is not reported again', () => {
    assert.deepEqual(problems(['--intrface', 'eth0']), ['unknown flag --intrface (did you mean --interface?); see --help']);
  });

  test('a flag missing its value says which value it needs', () => {
    assert.deepEqual(problems(['-i']), ['-i/--interface: needs a value (IFACE)']);
  });

  test('no default route and no -i: the problem says how to list interfaces', () => {
    assert.throws(() => parseConfig([], {}, { defaultInterface: () => undefined }), /ip -br link/);
  });

  test('--help and --version are recognised anywhere', () => {
    assert.equal(parseConfig(['-s', '3', '--help'], {}, IFACE).kind, 'help');
    assert.equal(parseConfig(['--version'], {}, IFACE).kind, 'version');
  });

  test('the help text lists every flag and its environment variable', () => {
    const h = helpText('1.2.3');
    for (const o of OPTIONS) {
      assert.ok(h.includes(`--${o.long}`), o.long);
      assert.ok(h.includes(o.env), o.env);
    }
  });
});
