/**
 * Recognising load-balancer health checks and judging their outcome the way the
 * load balancer does.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-healthchecks.html
 */
export const HealthCheckKind = { HTTP: 'http', TCP: 'tcp' } as const;
export type HealthCheckKind = (typeof HealthCheckKind)[keyof typeof HealthCheckKind];

/** ALB and NLB HTTP(S) checks send this User-Agent; CLB sends ELB-HealthChecker/1.0. */
export const ELBV2_HEALTH_CHECKER_UA = 'ELB-HealthChecker/2.0';
export const CLB_HEALTH_CHECKER_UA = 'ELB-HealthChecker/1.0';

/** Default success codes of an HTTP health check when the matcher is unknown. */
export const DEFAULT_HEALTH_CHECK_MATCHER = '200-399';
/** ALB's default health check timeout (5 s for HTTP target groups); NLB/CLB use 5-10 s too. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_SEC = 5;

export const HealthCheckFailReason = {
  STATUS: 'unexpected_status',
  TIMEOUT: 'timeout',
  CLOSED: 'closed_before_response',
  RESET: 'reset',
  REFUSED: 'refused',
  UNANSWERED: 'unanswered',
} as const;
export type HealthCheckFailReason = (typeof HealthCheckFailReason)[keyof typeof HealthCheckFailReason];

/** 'v2' (ALB/NLB), 'v1' (CLB) or undefined when the User-Agent is not an ELB health checker. */
export function healthCheckerVersion(userAgent: string | undefined): 'v2' | 'v1' | undefined {
  if (userAgent === undefined) return undefined;
  if (userAgent.startsWith(ELBV2_HEALTH_CHECKER_UA)) return 'v2';
  if (userAgent.startsWith(CLB_HEALTH_CHECKER_UA)) return 'v1';
  return undefined;
}

const V2_BYTES = Buffer.from(ELBV2_HEALTH_CHECKER_UA, 'latin1');
const V1_BYTES = Buffer.from(CLB_HEALTH_CHECKER_UA, 'latin1');

function startsWithBytes(buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (buf[start + k] !== prefix[k]) return false;
  return true;
}

/** healthCheckerVersion() of the User-Agent value at buf[start, end) (start < 0: no User-Agent), without a string. */
export function healthCheckerVersionOf(buf: Uint8Array, start: number, end: number): 'v2' | 'v1' | undefined {
  if (start < 0) return undefined;
  if (startsWithBytes(buf, start, end, V2_BYTES)) return 'v2';
  if (startsWithBytes(buf, start, end, V1_BYTES)) return 'v1';
  return undefined;
}

export type StatusMatcher = (status: number) => boolean;

/**
 * Compile an ELBv2 matcher ("200", "200,202", "200-299", or a mix). Anything
 * unparseable falls back to the default 200-399 rather than failing every check.
 */
export function compileMatcher(spec: string | undefined): StatusMatcher {
  const ranges: Array<[number, number]> = [];
  for (const part of (spec ?? DEFAULT_HEALTH_CHECK_MATCHER).split(',')) {
    const m = /^\s*([0-9]{3})\s*(?:-\s*([0-9]{3})\s*)?$/.exec(part);
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (lo <= hi) ranges.push([lo, hi]);
  }
  if (ranges.length === 0) ranges.push([200, 399]);
  return (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi);
}
