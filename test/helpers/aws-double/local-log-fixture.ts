/** Writes local-log files the way ship/local-log.ts does: errors_YYYY-MM-DD.log, one JSON event per line. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UlidFactory } from '../../../agent/events/id.js';
import { formatMicros } from '../../../agent/events/schema.js';

export type FixtureEvent = { id: string; timeMs: number; line: string };

export class LocalLogFixture {
  readonly dir: string;
  readonly #ids = new UlidFactory();
  readonly written: FixtureEvent[] = [];

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  static fileFor(timeMs: number): string {
    return `errors_${new Date(timeMs).toISOString().slice(0, 10)}.log`;
  }

  /** Appends `count` events with times from `timeMs(i)`, to the file named by `fileDate` (default: the event's own date). */
  append(count: number, timeMs: (i: number) => number, options: { file?: string; padding?: number } = {}): FixtureEvent[] {
    const out: FixtureEvent[] = [];
    const byFile = new Map<string, string[]>();
    const pad = 'x'.repeat(options.padding ?? 0);
    for (let i = 0; i < count; i++) {
      const t = timeMs(i);
      const id = this.#ids.next();
      const event = {
        v: 1, id, time: formatMicros(t * 1000), type: 'TCP_ERROR', reason: 'reset_by_target',
        message: `Connection reset: 10.0.2.100:8080->10.0.1.50:${40000 + (i % 20000)}`,
        proto: 'tcp', src_ip: '10.0.2.100', src_port: 8080, dst_ip: '10.0.1.50', dst_port: 40000 + (i % 20000),
        ...(pad ? { pad } : {}),
      };
      const line = JSON.stringify(event);
      const file = options.file ?? LocalLogFixture.fileFor(t);
      const list = byFile.get(file) ?? [];
      list.push(line);
      byFile.set(file, list);
      out.push({ id, timeMs: t, line });
    }
    for (const [file, lines] of byFile) appendFileSync(join(this.dir, file), lines.join('\n') + '\n');
    this.written.push(...out);
    return out;
  }
}
