/**
 * Compares the health checks the analyzer saw on the wire with what each load
 * balancer reports for this target (DescribeTargetHealth / DescribeInstanceHealth).
 * A contradiction — the LB says unhealthy while every check seen passed, or healthy
 * while every check seen failed — is reported once per change as a
 * HEALTH_CHECK_MISMATCH event: it usually means checks fail on a path the
 * instance cannot see (another port, a security group, another node) or the
 * matcher differs from what the application returns.
 */
import type { EventFactory } from '../events/event-factory.js';
import { EventType, type EventSink } from '../events/schema.js';
import { healthVerdictDisagrees, type LbPicture, type TargetHealth } from './lb-picture.js';

/** Health-check outcomes per LB key (the LB's name), cumulative, as classify counts them. */
export type ChecksByLb = Readonly<Record<string, Readonly<{ ok: number; failed: number }>>>;

type Subject = { lbName: string; lbType: string; dimension: string; targetGroup: string | undefined; health: TargetHealth | undefined };

function subjects(p: LbPicture): Subject[] {
  const out: Subject[] = [];
  for (const tg of p.targetGroups) {
    for (const lb of tg.loadBalancers) {
      out.push({ lbName: lb.name, lbType: lb.type, dimension: lb.dimension, targetGroup: tg.dimension ?? tg.name, health: tg.health[0] });
    }
  }
  for (const lb of p.classic) out.push({ lbName: lb.name, lbType: lb.type, dimension: lb.dimension, targetGroup: undefined, health: lb.health });
  return out;
}

export class HealthReconciler {
  #previous: ChecksByLb = {};
  /** Last reported contradiction per LB/TG, so a lasting one is reported once. */
  readonly #reported = new Map<string, string>();

  constructor(private readonly sink: EventSink, private readonly events: EventFactory) {}

  /** Call once per interval with the newest picture and classify's cumulative counts. Returns events emitted. */
  check(picture: LbPicture | undefined, checks: ChecksByLb, nowMicros: number): number {
    const prev = this.#previous;
    this.#previous = checks;
    if (picture === undefined) return 0;
    let emitted = 0;
    for (const s of subjects(picture)) {
      const now = checks[s.lbName];
      const before = prev[s.lbName];
      const ok = (now?.ok ?? 0) - (before?.ok ?? 0);
      const failed = (now?.failed ?? 0) - (before?.failed ?? 0);
      const key = `${s.dimension}|${s.targetGroup ?? ''}`;
      // Only a clear verdict counts: some checks seen, all one way.
      if (ok + failed === 0 || (ok > 0 && failed > 0)) continue;
      const analyzerHealthy = failed === 0;
      const state = s.health?.state;
      if (!healthVerdictDisagrees(state, analyzerHealthy)) {
        this.#reported.delete(key);
        continue;
      }
      const signature = `${state}:${analyzerHealthy}`;
      if (this.#reported.get(key) === signature) continue;
      this.#reported.set(key, signature);
      const lbSays = analyzerHealthy ? 'unhealthy' : 'healthy';
      const seen = analyzerHealthy ? `all ${ok} health checks seen passed` : `all ${failed} health checks seen failed`;
      const why = s.health?.reason ? ` (${s.health.reason}${s.health.description ? `: ${s.health.description}` : ''})` : '';
      this.sink.emit(this.events.create(EventType.HEALTH_CHECK_MISMATCH, analyzerHealthy ? 'lb_reports_unhealthy' : 'lb_reports_healthy',
        `Load balancer ${s.lbName} reports this target ${lbSays}${why}, but ${seen} in the last interval`, nowMicros, {
          lb: { type: s.lbType as 'ALB', name: s.lbName, dimension: s.dimension },
          ...(s.targetGroup ? { target_group: { dimension: s.targetGroup } } : {}),
          lb_state: state ?? null,
          lb_reason: s.health?.reason ?? null,
          checks_ok: ok,
          checks_failed: failed,
        }));
      emitted++;
    }
    return emitted;
  }
}
