/**
 * CloudWatch Logs, JSON 1.1 (X-Amz-Target: Logs_20140328.<Operation>), enforcing the
 * documented PutLogEvents rules so a client that breaks one fails the test.
 * @see https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
import type { ServiceAnswer } from './aws-double.js';

export const LOGS_LIMITS = Object.freeze({
  maxEvents: 10_000,
  maxBytes: 1_048_576,
  overhead: 26,
  maxEventBytes: 262_144,
  maxSpanMs: 24 * 3600_000,
  maxAgeMs: 14 * 24 * 3600_000,
  maxFutureMs: 2 * 3600_000,
  retentionAllowed: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
});

export type StoredEvent = { group: string; stream: string; timestamp: number; message: string; batch: number };
export type BatchRecord = { group: string; stream: string; count: number; bytes: number; spanMs: number; ordered: boolean; accepted: number };

export class LogsService {
  readonly groups = new Map<string, { retentionDays: number | undefined; streams: Set<string> }>();
  readonly events: StoredEvent[] = [];
  readonly batches: BatchRecord[] = [];
  /** Requests refused for breaking a rule: a correct client never causes one. */
  readonly violations: string[] = [];
  readonly calls = new Map<string, number>();
  now: () => number = Date.now;
  /** Keep only counts and ids, not messages (large backlogs). */
  storeMessages = true;
  readonly ids: string[] = [];

  handle(op: string, body: Record<string, unknown>): ServiceAnswer {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const group = String(body.logGroupName ?? '');
    switch (op) {
      case 'CreateLogGroup':
        if (this.groups.has(group)) return err('ResourceAlreadyExistsException', 'The specified log group already exists');
        this.groups.set(group, { retentionDays: undefined, streams: new Set() });
        return ok({});
      case 'PutRetentionPolicy': {
        const g = this.groups.get(group);
        if (!g) return err('ResourceNotFoundException', 'The specified log group does not exist.');
        const days = Number(body.retentionInDays);
        if (!LOGS_LIMITS.retentionAllowed.includes(days)) return this.#violation('InvalidParameterException', `retentionInDays ${days} not allowed`);
        g.retentionDays = days;
        return ok({});
      }
      case 'CreateLogStream': {
        const g = this.groups.get(group);
        if (!g) return err('ResourceNotFoundException', 'The specified log group does not exist.');
        const stream = String(body.logStreamName ?? '');
        if (g.streams.has(stream)) return err('ResourceAlreadyExistsException', 'The specified log stream already exists');
        g.streams.add(stream);
        return ok({});
      }
      case 'PutLogEvents':
        return this.#put(group, String(body.logStreamName ?? ''), body.logEvents);
      default:
        return err('UnknownOperationException', `double does not implement ${op}`);
    }
  }

  /** Deletes the group (and its streams), as an operator might. */
  deleteGroup(group: string): void {
    this.groups.delete(group);
  }

  #put(group: string, stream: string, raw: unknown): ServiceAnswer {
    const g = this.groups.get(group);
    if (!g) return err('ResourceNotFoundException', 'The specified log group does not exist.');
    if (!g.streams.has(stream)) return err('ResourceNotFoundException', 'The specified log stream does not exist.');
    if (!Array.isArray(raw) || raw.length === 0) return this.#violation('InvalidParameterException', 'logEvents must have at least one event');
    const events = raw as Array<{ timestamp: number; message: string }>;
    if (events.length > LOGS_LIMITS.maxEvents) return this.#violation('InvalidParameterException', `${events.length} events > ${LOGS_LIMITS.maxEvents}`);
    let bytes = 0;
    for (const e of events) {
      const size = Buffer.byteLength(e.message, 'utf8');
      if (size + LOGS_LIMITS.overhead > LOGS_LIMITS.maxEventBytes) return this.#violation('InvalidParameterException', 'event too large');
      bytes += size + LOGS_LIMITS.overhead;
    }
    if (bytes > LOGS_LIMITS.maxBytes) return this.#violation('InvalidParameterException', `batch ${bytes} bytes > ${LOGS_LIMITS.maxBytes}`);
    for (let i = 1; i < events.length; i++) {
      if ((events[i]?.timestamp ?? 0) < (events[i - 1]?.timestamp ?? 0)) {
        return this.#violation('InvalidParameterException', 'Log events in a single PutLogEvents request must be in chronological order.');
      }
    }
    const now = this.now();
    const ageLimit = Math.min(LOGS_LIMITS.maxAgeMs, (g.retentionDays ?? 3653) * 24 * 3600_000);
    let tooOldEnd = 0;
    while (tooOldEnd < events.length && (events[tooOldEnd]?.timestamp ?? 0) < now - ageLimit) tooOldEnd++;
    let tooNewStart = events.length;
    while (tooNewStart > tooOldEnd && (events[tooNewStart - 1]?.timestamp ?? 0) > now + LOGS_LIMITS.maxFutureMs) tooNewStart--;
    // The 24-hour span applies to the valid events (current API reference).
    const first = events[tooOldEnd]?.timestamp ?? 0;
    const last = events[Math.max(tooOldEnd, tooNewStart - 1)]?.timestamp ?? 0;
    if (last - first > LOGS_LIMITS.maxSpanMs) return this.#violation('InvalidParameterException', 'A batch of log events in a single request cannot span more than 24 hours.');
    const batch = this.batches.length;
    for (let i = tooOldEnd; i < tooNewStart; i++) {
      const e = events[i];
      if (!e) continue;
      const id = /"id":"([^"]+)"/.exec(e.message)?.[1] ?? '';
      this.ids.push(id);
      this.events.push({ group, stream, timestamp: e.timestamp, message: this.storeMessages ? e.message : id, batch });
    }
    this.batches.push({ group, stream, count: events.length, bytes, spanMs: last - first, ordered: true, accepted: tooNewStart - tooOldEnd });
    const rejected: Record<string, number> = {};
    if (tooOldEnd > 0) rejected.tooOldLogEventEndIndex = tooOldEnd;
    if (tooNewStart < events.length) rejected.tooNewLogEventStartIndex = tooNewStart;
    return ok({ nextSequenceToken: String(batch), ...(Object.keys(rejected).length ? { rejectedLogEventsInfo: rejected } : {}) });
  }

  #violation(type: string, message: string): ServiceAnswer {
    this.violations.push(message);
    return err(type, message);
  }
}

function ok(body: unknown): ServiceAnswer {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) };
}

export function err(type: string, message: string, status = 400): ServiceAnswer {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: type, message }),
  };
}
