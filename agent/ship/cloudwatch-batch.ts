import {
  LOGS_EVENT_OVERHEAD_BYTES,
  LOGS_MAX_BATCH_BYTES,
  LOGS_MAX_BATCH_SPAN_MS,
  LOGS_MAX_EVENT_BYTES,
  LOGS_MAX_EVENTS_PER_BATCH,
} from './aws-limits.js';
import type { LogLine } from './log-reader.js';

/** The PutLogEvents rules a batch must obey; tests may shrink them. */
export type BatchLimits = Readonly<{
  maxEvents: number;
  maxBytes: number;
  maxSpanMs: number;
  maxEventBytes: number;
  /** Lines consumed per batch at most, so a long run of skipped lines still moves the cursor. */
  maxLines: number;
}>;

export const PUT_LOG_EVENTS_LIMITS: BatchLimits = Object.freeze({
  maxEvents: LOGS_MAX_EVENTS_PER_BATCH,
  maxBytes: LOGS_MAX_BATCH_BYTES,
  maxSpanMs: LOGS_MAX_BATCH_SPAN_MS,
  maxEventBytes: LOGS_MAX_EVENT_BYTES,
  maxLines: 50_000,
});

/** Timestamps CloudWatch accepts now: [oldestMs, newestMs]. */
export type AcceptWindow = Readonly<{ oldestMs: number; newestMs: number }>;

export type InputLogEvent = { timestamp: number; message: string };

export type SkipCounts = { tooOld: number; tooNew: number; tooLarge: number };

/** A contiguous run of local-log lines, ready for one PutLogEvents call. */
export type PreparedBatch = {
  /** Sorted by timestamp (stable), as PutLogEvents requires. */
  events: InputLogEvent[];
  /** Sum of UTF-8 message bytes + 26 per event. */
  bytes: number;
  /** Cursor after the last line consumed (sent or skipped). */
  end: { file: string; offset: number };
  /** Id of the last event consumed in file order, for the cursor file. */
  lastId: string | undefined;
  /** Lines consumed but not sent: CloudWatch would never accept them. They stay in the local log. */
  skipped: SkipCounts;
  /** Id of one skipped event, for the log line that reports them. */
  firstSkippedId: string | undefined;
  /** Lines that were not JSON events; sent as they are, stamped with a neighbour's time. */
  unparsed: number;
};

export interface LineSource {
  next(): Promise<LogLine | undefined>;
  unread(line: LogLine): void;
}

type Parsed = { timestamp: number | undefined; id: string | undefined };

/** Reads the event's time and id; undefined fields when the line is not an event. */
export function parseLine(text: string): Parsed {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return { timestamp: undefined, id: undefined };
    const v = value as Record<string, unknown>;
    const ts = typeof v.time === 'string' ? Date.parse(v.time) : Number.NaN;
    return { timestamp: Number.isFinite(ts) ? ts : undefined, id: typeof v.id === 'string' ? v.id : undefined };
  } catch {
    return { timestamp: undefined, id: undefined };
  }
}

/**
 * Takes lines from the source into one batch until a limit would be broken or no
 * line is ready. Returns undefined when no line was consumed. Pure apart from
 * reading lines: the caller sends, then moves the cursor to `end`.
 */
export async function buildBatch(
  source: LineSource,
  window: AcceptWindow,
  nowMs: number,
  limits: BatchLimits = PUT_LOG_EVENTS_LIMITS,
): Promise<PreparedBatch | undefined> {
  const events: InputLogEvent[] = [];
  const skipped: SkipCounts = { tooOld: 0, tooNew: 0, tooLarge: 0 };
  let bytes = 0;
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  let lastGoodTs: number | undefined;
  let end: { file: string; offset: number } | undefined;
  let lastId: string | undefined;
  let firstSkippedId: string | undefined;
  let unparsed = 0;
  let lines = 0;
  let sorted = true;

  while (lines < limits.maxLines) {
    const line = await source.next();
    if (line === undefined) break;
    if (line.oversized) {
      skipped.tooLarge++;
      lines++;
      end = { file: line.file, offset: line.endOffset };
      continue;
    }
    if (line.text.trim() === '') {
      lines++;
      end = { file: line.file, offset: line.endOffset };
      continue;
    }
    const size = Buffer.byteLength(line.text, 'utf8');
    const parsed = parseLine(line.text);
    if (size > limits.maxEventBytes) {
      skipped.tooLarge++;
      firstSkippedId ??= parsed.id;
      lines++;
      end = { file: line.file, offset: line.endOffset };
      lastId = parsed.id ?? lastId;
      continue;
    }
    let ts = parsed.timestamp;
    if (ts === undefined) {
      unparsed++;
      ts = lastGoodTs ?? Math.min(Math.max(nowMs, window.oldestMs), window.newestMs);
    } else if (ts < window.oldestMs || ts > window.newestMs) {
      if (ts < window.oldestMs) skipped.tooOld++;
      else skipped.tooNew++;
      firstSkippedId ??= parsed.id;
      lines++;
      end = { file: line.file, offset: line.endOffset };
      lastId = parsed.id ?? lastId;
      continue;
    }
    const cost = size + LOGS_EVENT_OVERHEAD_BYTES;
    const span = Math.max(maxTs, ts) - Math.min(minTs, ts);
    if (events.length >= limits.maxEvents || bytes + cost > limits.maxBytes || span > limits.maxSpanMs) {
      source.unread(line);
      break;
    }
    if (ts < maxTs) sorted = false;
    events.push({ timestamp: ts, message: line.text });
    bytes += cost;
    minTs = Math.min(minTs, ts);
    maxTs = Math.max(maxTs, ts);
    if (parsed.timestamp !== undefined) lastGoodTs = parsed.timestamp;
    lines++;
    end = { file: line.file, offset: line.endOffset };
    lastId = parsed.id ?? lastId;
  }
  if (end === undefined) return undefined;
  // The local log is nearly, not strictly, time-ordered; Array.prototype.sort is stable.
  if (!sorted) events.sort((a, b) => a.timestamp - b.timestamp);
  return { events, bytes, end, lastId, skipped, firstSkippedId, unparsed };
}

/** The window CloudWatch accepts, narrowed by a safety margin. */
export function acceptWindow(nowMs: number, maxAgeMs: number, maxFutureMs: number, safetyMs: number): AcceptWindow {
  return { oldestMs: nowMs - maxAgeMs + safetyMs, newestMs: nowMs + maxFutureMs - safetyMs };
}
