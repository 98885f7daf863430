/**
 * Secrets never leave the box. Real HTTP requests (curl in a namespace, a real server
 * on the target side, some on kept-alive connections) carry Authorization (Basic and
 * Bearer), Proxy-Authorization, X-Api-Key, a forged X-Forwarded-For entry, Cookie,
 * Set-Cookie, query-string tokens and request and response bodies, each holding a
 * recognisable canary; some are answered 5xx and some are failing
 * ELB health checks, so events are made from exactly those requests. The real
 * binary captures live and ships to the local AWS double through a recording
 * relay, which keeps every byte the agent sent (PutLogEvents, PutMetricData,
 * discovery and IMDS calls). No canary may appear in the local log files, the
 * health file, stdout/stderr (summaries and the agent's own logs), or anything sent.
 * Then --log-query-strings does what the README says: query strings are kept in
 * event paths, and nothing else is.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MetricName } from '../../../agent/events/metric-names.js';
import { AwsDouble } from '../../helpers/aws-double/aws-double.js';
import { ImdsService } from '../../helpers/aws-double/imds-service.js';
import { netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { AgentProcess, inNamespace, missingTools, readAllFiles, readEvents } from './agent-process.js';

const NS = 'lbsc-sec';
const IF_TARGET = 'lbscs0';
const IF_PEER = 'lbscs1';
const TARGET = '198.18.47.17';
const CLIENT = '198.18.47.18';
const PORT = 8080;
const INSTANCE = 'i-05ec0000000000001';
/** The client address a proxy appended to X-Forwarded-For (after a forged, non-address entry). */
const CLIENT_IP = '203.0.113.9';

/** Every canary shares this marker, so one case-insensitive search finds any of them. */
const MARK = 'ZQXCANARY';
const C = {
  bearer: `${MARK}-bearer-eyJhbGciOiJIUzI1NiJ9`,
  basicUser: 'zqxuser',
  basicPassword: `${MARK}-basic-password`,
  proxyAuth: `${MARK}-proxy-authorization`,
  apiKeyHeader: `${MARK}-x-api-key`,
  cookie: `${MARK}-request-cookie`,
  setCookie: `${MARK}-set-cookie`,
  queryToken: `${MARK}-query-token`,
  queryApiKey: `${MARK}-query-api-key`,
  requestBody: `${MARK}-request-body`,
  forwardedFor: `${MARK}-forwarded-for`,
  responseBody: `${MARK}-response-body`,
} as const;
const BASIC_B64 = Buffer.from(`${C.basicUser}:${C.basicPassword}`).toString('base64');
/** What must never be found: the marker (any case) and the Basic credentials as sent (base64). */
const FORBIDDEN = [MARK, MARK.toLowerCase(), BASIC_B64, C.basicUser];
const QUERY = `token=${C.queryToken}&api_key=${C.queryApiKey}`;

const API_ERRORS = 4; // POST /api/orders → 500 (even: two per connection)
const ACCOUNT_ERRORS = 3; // GET /account (Basic) → 503
const HEALTH_FAILS = 3; // ELB-HealthChecker/2.0 GET /health → 500
const LOGINS = 3; // GET /login → 200 with Set-Cookie

type Sent = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

/**
 * A relay between the agent and the AWS double that keeps a copy of every request
 * (method, URL, headers, body un-gzipped), so the test judges what left the process.
 */
class RecordingRelay {
  readonly sent: Sent[] = [];
  #server: Server | undefined;

  async start(upstream: string): Promise<string> {
    const up = new URL(upstream);
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        this.sent.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('latin1') });
        const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        fwd.on('error', () => res.destroy());
        fwd.end(raw);
      });
    });
    await new Promise<void>((r) => this.#server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  calls(target: string): Sent[] {
    return this.sent.filter((s) => String(s.headers['x-amz-target'] ?? '').endsWith(target));
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

/** The target application: answers carry a Set-Cookie and a body with canaries. */
function targetApp(): Server {
  return createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const status = path === '/api/orders' || path === '/health' ? 500 : path === '/account' ? 503 : 200;
      res.writeHead(status, { 'content-type': 'text/plain', 'set-cookie': `sid=${C.setCookie}; HttpOnly; Path=/` });
      res.end(`${C.responseBody}\n`);
    });
  });
}

/** curl from the client namespace; every request is bounded in time. */
function curl(args: readonly string[]): Promise<number | null> {
  return inNamespace(NS, ['curl', '-s', '-o', '/dev/null', '--max-time', '10', ...args]);
}

async function sendSecretTraffic(): Promise<void> {
  const base = `http://${TARGET}:${PORT}`;
  // Two requests per curl: the second travels on a kept-alive connection.
  for (let i = 0; i < API_ERRORS / 2; i++) {
    assert.equal(await curl(['-X', 'POST', '-H', `Authorization: Bearer ${C.bearer}`, '-H', `Cookie: session=${C.cookie}; theme=dark`,
      '-H', `X-Api-Key: ${C.apiKeyHeader}`, '-H', `X-Forwarded-For: ${C.forwardedFor}, ${CLIENT_IP}`, '-H', 'Content-Type: application/json',
      '--data', `{"password":"${C.requestBody}","n":${i}}`, `${base}/api/orders?${QUERY}`, `${base}/api/orders?${QUERY}`]), 0);
  }
  for (let i = 0; i < ACCOUNT_ERRORS; i++) {
    assert.equal(await curl(['-u', `${C.basicUser}:${C.basicPassword}`, '-H', `Proxy-Authorization: Basic ${C.proxyAuth}`, `${base}/account?${QUERY}`]), 0);
  }
  for (let i = 0; i < HEALTH_FAILS; i++) {
    assert.equal(await curl(['-A', 'ELB-HealthChecker/2.0', '-H', `Cookie: hc=${C.cookie}`, `${base}/health?${QUERY}`]), 0);
  }
  for (let i = 0; i < LOGINS; i++) {
    assert.equal(await curl(['-H', `Authorization: Bearer ${C.bearer}`, `${base}/login?${QUERY}`]), 0);
  }
}

/** Where a forbidden string was found, as "place: string" items (empty when clean). */
function leaks(places: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [place, text] of places) {
    for (const f of FORBIDDEN) if (text.includes(f)) found.push(`${place}: ${f}`);
  }
  return found;
}

describe('secrets in requests and responses never leave the box', () => {
  const skip = netnsUnavailableReason() ?? missingTools(['curl']);
  const net = new TestNetwork();
  const double = new AwsDouble();
  const relay = new RecordingRelay();
  const agents: AgentProcess[] = [];
  let app: Server | undefined;
  let dir = '';
  let endpoint = '';
  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'lbsc-sec-'));
    chmodSync(dir, 0o755);
    net.addNamespace(NS);
    net.addVeth({ nameA: IF_TARGET, nameB: IF_PEER, nsB: NS, addrA: `${TARGET}/28`, addrB: `${CLIENT}/28` });
    app = targetApp();
    await new Promise<void>((r) => app?.listen(PORT, TARGET, r));
    double.imds = ImdsService.typical(INSTANCE, 'eu-west-1');
    endpoint = await relay.start(await double.start());
  });
  after(async () => {
    for (const a of agents) a.kill();
    app?.closeAllConnections();
    app?.close();
    await relay.stop();
    await double.stop();
    net.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('no Authorization, Cookie, Set-Cookie, query token or body reaches the log, the summary, the health file or CloudWatch', { skip, timeout: 90_000 }, async () => {
    // Prepare: the real binary, live capture, CloudWatch on and pointed at the relay; debug logging.
    const logs = join(dir, 'logs');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEFAKEFAKE00',
      AWS_SECRET_ACCESS_KEY: 'fake/secret/for/local/double/only/EXAMPLEKEY',
      AWS_REGION: 'eu-west-1',
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      NODE_NO_WARNINGS: '1',
    };
    const agent = new AgentProcess([], ['-i', IF_TARGET, '-l', logs, '--cloudwatch', 'on', '--imds-endpoint', endpoint,
      '--metrics-interval', '10', '--summary-format', 'json', '--summary-interval', '1', '--log-level', 'debug'], env);
    agents.push(agent);
    await waitFor(() => agent.capturing || agent.proc.exitCode !== null, 30_000, 'the agent to capture');
    assert.ok(agent.capturing, `the agent did not start capturing: ${agent.stderr}`);

    // Act: the requests, then wait until CloudWatch has every event, then an orderly stop (flushes metrics).
    await sendSecretTraffic();
    const expected = API_ERRORS + ACCOUNT_ERRORS + HEALTH_FAILS;
    await waitFor(() => readEvents(logs).length >= expected, 15_000, `${expected} events in the local log`);
    await waitFor(() => double.logs.events.length >= readEvents(logs).length, 20_000, 'every local event in CloudWatch Logs');
    await new Promise((r) => setTimeout(r, 1500)); // at least one summary after the traffic
    const code = await agent.stop();

    // Assess: the events are about those very requests (so the search below is meaningful).
    assert.equal(code, 0, agent.stderr);
    const events = readEvents(logs);
    const appErrors = events.filter((e) => e['type'] === 'APP_ERROR');
    assert.equal(appErrors.filter((e) => e['path'] === '/api/orders' && e['method'] === 'POST' && e['status'] === 500 && e['client_ip'] === CLIENT_IP).length, API_ERRORS, JSON.stringify(events));
    assert.equal(appErrors.filter((e) => e['path'] === '/account' && e['status'] === 503).length, ACCOUNT_ERRORS, JSON.stringify(events));
    assert.equal(events.filter((e) => e['type'] === 'HEALTH_CHECK_FAIL').length, HEALTH_FAILS, JSON.stringify(events));
    assert.ok(relay.calls('PutLogEvents').length > 0, 'PutLogEvents was called');
    assert.ok(relay.calls('PutMetricData').length > 0, 'PutMetricData was called');
    assert.ok(double.metrics.data.some((d) => d.name === MetricName.HTTP5xx), `5xx metrics shipped: ${double.metrics.data.map((d) => d.name).join(',')}`);
    assert.ok(agent.stdout.includes('"summary":"final"'), 'a final summary on stdout');
    // Assess: no canary anywhere.
    const places = new Map<string, string>();
    for (const [name, text] of readAllFiles(logs)) places.set(`local file ${name}`, text);
    places.set('stdout (summaries, agent log)', agent.stdout);
    places.set('stderr', agent.stderr);
    relay.sent.forEach((s, i) => places.set(`sent #${i} ${s.method} ${s.url} ${String(s.headers['x-amz-target'] ?? '')}`, `${s.url}\n${JSON.stringify(s.headers)}\n${s.body}`));
    double.logs.events.forEach((e, i) => places.set(`CloudWatch Logs event #${i}`, e.message));
    assert.ok(places.has('local file health.json'), 'the health file was written');
    assert.deepEqual(leaks(places), []);
  });

  test('--log-query-strings keeps query strings in event paths, and still nothing else', { skip, timeout: 60_000 }, async () => {
    // Prepare
    const logs = join(dir, 'logs-query');
    const agent = new AgentProcess([], ['-i', IF_TARGET, '-l', logs, '--cloudwatch', 'off', '--log-query-strings',
      '--summary-format', 'json', '--summary-interval', '0']);
    agents.push(agent);
    await waitFor(() => agent.capturing || agent.proc.exitCode !== null, 30_000, 'the agent to capture');
    assert.ok(agent.capturing, `the agent did not start capturing: ${agent.stderr}`);
    // Act
    await sendSecretTraffic();
    await waitFor(() => readEvents(logs).length >= API_ERRORS + ACCOUNT_ERRORS + HEALTH_FAILS, 15_000, 'the events in the local log');
    const code = await agent.stop();
    // Assess: the documented exception, and only it.
    assert.equal(code, 0, agent.stderr);
    const events = readEvents(logs);
    assert.equal(events.filter((e) => e['type'] === 'APP_ERROR' && e['path'] === `/api/orders?${QUERY}`).length, API_ERRORS, JSON.stringify(events));
    assert.equal(events.filter((e) => e['type'] === 'APP_ERROR' && e['path'] === `/account?${QUERY}`).length, ACCOUNT_ERRORS, JSON.stringify(events));
    const places = new Map<string, string>();
    for (const [name, text] of readAllFiles(logs)) places.set(`local file ${name}`, text.replaceAll(C.queryToken, '').replaceAll(C.queryApiKey, ''));
    places.set('stdout', agent.stdout.replaceAll(C.queryToken, '').replaceAll(C.queryApiKey, ''));
    places.set('stderr', agent.stderr);
    assert.deepEqual(leaks(places), []);
  });
});
