/**
 * A local stand-in for the AWS endpoints the agent calls, speaking each service's
 * wire protocol so the real SDK clients can be pointed at it (endpoint option or
 * AWS_ENDPOINT_URL_*). It enforces the documented limits and injects faults:
 * throttling, 5xx, slow answers, dropped connections, and outages.
 * Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ImdsService } from './imds-service.js';
import { LogsService, err as logsError } from './logs-service.js';
import { MetricsService, err as metricsError } from './metrics-service.js';
import { ec2Error, QUERY_VERSIONS, QueryServices, queryError } from './query-services.js';

export type ServiceAnswer = { status: number; headers: Record<string, string>; body: string };
export type ServiceName = 'logs' | 'metrics' | 'query' | 'imds';

/**
 * How the double misbehaves. The first four are AWS's own failures; the others are what
 * a proxy, a middlebox or a dying connection makes of an answer.
 * - throttle, server-error: a valid AWS error (throttling body; 500/503 with the service's error shape)
 * - slow: the normal answer after `delayMs` (a client timeout makes it "sent, answer lost")
 * - drop: the socket is destroyed after the request was read
 * - malformed-json: 200 with the service's content type and a body that is not JSON
 * - truncated: 200, the real answer cut in half (Content-Length matches the cut body)
 * - html: an HTML error page from a proxy, with `status` (default 502; 200 is allowed)
 * - wrong-content-type: the real answer labelled text/html
 * - empty: 200 with no body and no content type
 * - close-after-request: the request is read, then the connection is half-closed (FIN) unanswered
 * - close-after-headers: status line and headers (with Content-Length) are sent, then FIN
 * - stall-after-headers: headers are sent, then nothing, the connection stays open
 * - reset: the connection is reset (RST) after the request was read
 * - trickle: headers, then the body one byte every `delayMs` (default 100 ms): never idle, never done in time
 */
export type FaultKind =
  | 'throttle' | 'server-error' | 'slow' | 'drop'
  | 'malformed-json' | 'truncated' | 'html' | 'wrong-content-type' | 'empty'
  | 'close-after-request' | 'close-after-headers' | 'stall-after-headers' | 'reset' | 'trickle';

export const ALL_FAULT_KINDS: readonly FaultKind[] = [
  'throttle', 'server-error', 'slow', 'drop', 'malformed-json', 'truncated', 'html', 'wrong-content-type', 'empty',
  'close-after-request', 'close-after-headers', 'stall-after-headers', 'reset', 'trickle',
];

/**
 * Faults that mangle an answer the service had already produced: the request WAS
 * processed (events stored) unless the test says otherwise. These are the ambiguous
 * "sent, answer lost" cases where a client may resend one batch (the id rule).
 */
const PROCESSED_BY_DEFAULT: ReadonlySet<FaultKind> = new Set([
  'slow', 'truncated', 'wrong-content-type', 'close-after-headers', 'stall-after-headers', 'trickle',
]);

export type Fault = {
  service: ServiceName;
  /** Operation (X-Amz-Target suffix, Query Action or IMDS path); any when absent. */
  op?: string;
  kind: FaultKind;
  /** How many matching requests it applies to. */
  times: number;
  /** For 'slow': delay before the normal answer. */
  delayMs?: number;
  /** For 'html': the status of the error page (default 502). */
  status?: number;
  /** Whether the service handles the request before the answer is mangled (default: see PROCESSED_BY_DEFAULT). */
  processed?: boolean;
};

/** Clearly fake credentials for the SDK clients (a fresh object: the SDK annotates it). */
export function fakeCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: 'AKIDEXAMPLEFAKEFAKE00', secretAccessKey: 'fake/secret/for/local/double/only/EXAMPLEKEY' };
}

export class AwsDouble {
  readonly logs = new LogsService();
  readonly metrics = new MetricsService();
  readonly query = new QueryServices();
  imds = new ImdsService();
  readonly faults: Fault[] = [];
  /** Services answering nothing useful: every request is dropped or gets a 503. */
  outage: { services: ReadonlySet<ServiceName>; kind: 'drop' | 'server-error' } | undefined;
  /** What the double did, by service and outcome, e.g. "logs:PutLogEvents:throttle". */
  readonly log = new Map<string, number>();
  #server: Server | undefined;
  readonly #sockets = new Set<import('node:net').Socket>();

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    return this.endpoint;
  }

  get endpoint(): string {
    const addr = this.#server?.address() as AddressInfo | undefined;
    if (!addr) throw new Error('AwsDouble not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Faults not yet used up. */
  faultsLeft(): number {
    return this.faults.reduce((n, f) => n + f.times, 0);
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  count(key: string): number {
    return this.log.get(key) ?? 0;
  }

  /** Requests of a service that met an outage, whatever the operation. */
  outageHits(service: ServiceName): number {
    let n = 0;
    for (const [k, v] of this.log) if (k.startsWith(`${service}:`) && k.endsWith(':outage')) n += v;
    return n;
  }

  #note(key: string): void {
    this.log.set(key, (this.log.get(key) ?? 0) + 1);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    // The SDK gzips PutMetricData bodies above 10 KB (CloudWatch accepts Content-Encoding: gzip).
    const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
    const target = String(req.headers['x-amz-target'] ?? '');
    const url = req.url ?? '/';
    let service: ServiceName;
    let op: string;
    if (url.startsWith('/latest/')) {
      service = 'imds';
      op = url;
    } else if (target.startsWith('Logs_20140328.')) {
      service = 'logs';
      op = target.slice('Logs_20140328.'.length);
    } else if (target.startsWith('GraniteServiceVersion20100801.')) {
      service = 'metrics';
      op = target.slice('GraniteServiceVersion20100801.'.length);
    } else {
      service = 'query';
      op = new URLSearchParams(body).get('Action') ?? '';
    }

    if (this.outage?.services.has(service)) {
      this.#note(`${service}:${op}:outage`);
      if (this.outage.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      this.#send(res, this.#faultAnswer(service, body, 'server-error'));
      return;
    }
    const fault = this.faults.find((f) => f.times > 0 && f.service === service && (f.op === undefined || f.op === op));
    if (fault) {
      fault.times--;
      this.#note(`${service}:${op}:${fault.kind}`);
      if (fault.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      if (fault.kind === 'trickle') {
        // Headers at once, then the real answer a byte at a time, padded so it outlasts any deadline.
        const processed = fault.processed ?? PROCESSED_BY_DEFAULT.has(fault.kind);
        const real = processed ? this.#answer(service, op, url, req, body, raw) : undefined;
        if (real !== undefined) this.#note(`${service}:${op}:processed`);
        this.#trickle(res, real ?? { status: 200, headers: { 'content-type': CONTENT_TYPES[service] }, body: SAMPLE_BODIES[service] }, fault.delayMs ?? 100);
        return;
      }
      const processed = fault.processed ?? PROCESSED_BY_DEFAULT.has(fault.kind);
      const real = processed ? this.#answer(service, op, url, req, body, raw) : undefined;
      if (real !== undefined) this.#note(`${service}:${op}:processed`);
      this.#misbehave(req, res, fault, service, body, real);
      return;
    }
    this.#note(`${service}:${op}:ok`);
    const answer = this.#answer(service, op, url, req, body, raw);
    if (!res.destroyed) this.#send(res, answer);
  }

  #answer(service: ServiceName, op: string, url: string, req: IncomingMessage, body: string, raw: Buffer): ServiceAnswer {
    try {
      if (service === 'imds') return this.imds.handle(req.method ?? 'GET', url, req.headers);
      if (service === 'logs') return this.logs.handle(op, JSON.parse(body || '{}') as Record<string, unknown>);
      if (service === 'metrics') return this.metrics.handle(op, JSON.parse(body || '{}') as Record<string, unknown>, raw.length);
      return this.query.handle(body);
    } catch (e) {
      return { status: 500, headers: { 'content-type': 'text/plain' }, body: `double failed: ${String(e)}` };
    }
  }

  /** Answers (or fails to answer) the way `fault` says; `real` is the service's own answer when it processed the request. */
  #misbehave(req: IncomingMessage, res: ServerResponse, fault: Fault, service: ServiceName, body: string, real: ServiceAnswer | undefined): void {
    const socket = req.socket;
    const normal = real ?? { status: 200, headers: { 'content-type': CONTENT_TYPES[service] }, body: SAMPLE_BODIES[service] };
    switch (fault.kind) {
      case 'throttle':
      case 'server-error':
        this.#send(res, this.#faultAnswer(service, body, fault.kind));
        return;
      case 'slow':
        if (!res.destroyed) this.#send(res, normal);
        return;
      case 'drop':
        socket.destroy();
        return;
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'close-after-request':
        socket.end();
        return;
      case 'malformed-json':
        this.#send(res, { status: 200, headers: { 'content-type': CONTENT_TYPES[service] }, body: MALFORMED_BODIES[service] });
        return;
      case 'truncated':
        this.#send(res, { ...normal, body: normal.body.slice(0, Math.max(1, Math.floor(normal.body.length / 2))) });
        return;
      case 'html': {
        const status = fault.status ?? 502;
        this.#send(res, { status, headers: { 'content-type': 'text/html' }, body: htmlPage(status) });
        return;
      }
      case 'wrong-content-type':
        this.#send(res, { ...normal, headers: { ...normal.headers, 'content-type': 'text/html; charset=utf-8' } });
        return;
      case 'empty':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      case 'trickle': // answered in #handle
        return;
      case 'close-after-headers':
      case 'stall-after-headers':
        res.writeHead(normal.status, { ...normal.headers, 'content-length': Buffer.byteLength(normal.body) });
        res.flushHeaders();
        if (fault.kind === 'close-after-headers') setImmediate(() => socket.end());
        return;
    }
  }

  #trickle(res: ServerResponse, a: ServiceAnswer, everyMs: number): void {
    const body = Buffer.from(a.body.padEnd(4096, ' '));
    res.writeHead(a.status, { ...a.headers, 'content-length': body.length });
    res.flushHeaders();
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed || i >= body.length) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(body.subarray(i, i + 1));
      i++;
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  }

  #faultAnswer(service: ServiceName, body: string, kind: 'throttle' | 'server-error'): ServiceAnswer {
    const throttle = kind === 'throttle';
    switch (service) {
      case 'logs':
        return throttle ? logsError('ThrottlingException', 'Rate exceeded') : logsError('ServiceUnavailableException', 'The service cannot complete the request.', 503);
      case 'metrics':
        return throttle ? metricsError('Throttling', 'Rate exceeded') : metricsError('InternalServiceError', 'Internal failure', 500);
      case 'query': {
        const isEc2 = new URLSearchParams(body).get('Version') === QUERY_VERSIONS.ec2;
        if (isEc2) return throttle ? ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503) : ec2Error('InternalError', 'internal', 500);
        return throttle ? queryError('Throttling', 'Rate exceeded') : queryError('InternalFailure', 'internal', 500);
      }
      case 'imds':
        return { status: throttle ? 429 : 500, headers: {}, body: '' };
    }
  }

  #send(res: ServerResponse, a: ServiceAnswer): void {
    res.writeHead(a.status, { ...a.headers, 'x-amzn-requestid': 'req-double', 'content-length': Buffer.byteLength(a.body) });
    res.end(a.body);
  }
}

const CONTENT_TYPES: Record<ServiceName, string> = {
  logs: 'application/x-amz-json-1.1', metrics: 'application/x-amz-json-1.0', query: 'text/xml', imds: 'text/plain',
};
/** Representative successful answers, for faults that mangle an answer the service never produced. */
const SAMPLE_BODIES: Record<ServiceName, string> = {
  logs: '{"nextSequenceToken":"49650000000000000000000000000000000000000000000000000000"}',
  metrics: '{}',
  query: '<DescribeTargetGroupsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTargetGroupsResult><TargetGroups/></DescribeTargetGroupsResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeTargetGroupsResponse>',
  imds: 'i-0123456789abcdef0',
};
const MALFORMED_BODIES: Record<ServiceName, string> = {
  logs: '{"nextSequenceToken":"4965000000",,"rejectedLogEventsInfo":{tooOld',
  metrics: '{"__type":',
  query: '<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member><TargetGroupArn>arn:aws:elasticloadbalancing:',
  imds: '\u0000\u0001<?xml garbage',
};

function htmlPage(status: number): string {
  const title = status === 200 ? 'Please log in' : `${status} Bad Gateway`;
  return `<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>proxy</center></body></html>\n`;
}
