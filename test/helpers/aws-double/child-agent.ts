/** Starts ship-child.js as a separate process and follows its JSON-line reports. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ChildReport = { type: string; rss?: number; heapUsed?: number; peakRss?: number; peakHeap?: number; sent?: number; caughtUp?: boolean; flushTookMs?: number };

export class ChildAgent {
  readonly proc: ChildProcess;
  readonly reports: ChildReport[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(env: Record<string, string>) {
    const script = fileURLToPath(new URL('./ship-child.js', import.meta.url));
    this.proc = spawn(process.execPath, ['--max-old-space-size=256', script], {
      env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.reports.push(JSON.parse(line) as ChildReport);
        } catch {
          // not a report line
        }
      }
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  last(type: string): ChildReport | undefined {
    return [...this.reports].reverse().find((r) => r.type === type);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null) this.proc.kill(signal);
  }
}
