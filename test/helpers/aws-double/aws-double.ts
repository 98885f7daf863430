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

export type FaultKind = 'throttle' | 'server-error' | 'slow' | 'drop';
export type Fault = {
  service: ServiceName;
  /** Operation (X-Amz-Target suffix or Query Action); any when absent. */
  op?: string;
  kind: FaultKind;
  /** How many matching requests it applies to. */
  times: number;
  /** For 'slow': delay before the normal answer. */
  delayMs?: number;
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
      if (fault.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      else {
        this.#send(res, this.#faultAnswer(service, body, fault.kind));
        return;
      }
    }
    this.#note(`${service}:${op}:ok`);
    let answer: ServiceAnswer;
    try {
      if (service === 'imds') answer = this.imds.handle(req.method ?? 'GET', url, req.headers);
      else if (service === 'logs') answer = this.logs.handle(op, JSON.parse(body || '{}') as Record<string, unknown>);
      else if (service === 'metrics') answer = this.metrics.handle(op, JSON.parse(body || '{}') as Record<string, unknown>, raw.length);
      else answer = this.query.handle(body);
    } catch (e) {
      answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: `double failed: ${String(e)}` };
    }
    if (!res.destroyed) this.#send(res, answer);
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
