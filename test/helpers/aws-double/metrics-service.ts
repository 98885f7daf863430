/**
 * CloudWatch as @aws-sdk/client-cloudwatch 3.11xx speaks it: JSON 1.0 with
 * X-Amz-Target: GraniteServiceVersion20100801.<Operation> (query-compatible errors).
 * Enforces: at most 1000 metrics per call, 1 MB request, no NaN/±Infinity, values
 * within ±2^360, SampleCount > 0 for statistic sets.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
import type { ServiceAnswer } from './aws-double.js';

export type StoredDatum = {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  timestamp: number | undefined;
  value: number | undefined;
  stats: { SampleCount: number; Sum: number; Minimum: number; Maximum: number } | undefined;
  unit: string | undefined;
};

const LIMIT = 2 ** 360;

export class MetricsService {
  readonly data: StoredDatum[] = [];
  readonly calls: number[] = [];
  readonly violations: string[] = [];

  handle(op: string, body: Record<string, unknown>, rawBytes: number): ServiceAnswer {
    if (op !== 'PutMetricData') return err('InvalidAction', `double does not implement ${op}`);
    if (rawBytes > 1_000_000) return this.#violation('RequestEntityTooLarge', `request ${rawBytes} bytes > 1 MB`, 413);
    const ns = body.Namespace;
    if (typeof ns !== 'string' || ns === '' || ns.startsWith('AWS/')) return this.#violation('InvalidParameterValue', `bad namespace ${String(ns)}`);
    const list = body.MetricData;
    if (!Array.isArray(list) || list.length === 0) return this.#violation('MissingParameter', 'MetricData is required');
    if (list.length > 1000) return this.#violation('InvalidParameterValue', `${list.length} metrics > 1000 per call`);
    const parsed: StoredDatum[] = [];
    for (const d of list as Array<Record<string, unknown>>) {
      const value = d.Value;
      const stats = d.StatisticValues as Record<string, unknown> | undefined;
      const numbers = value !== undefined ? [value] : stats ? [stats.SampleCount, stats.Sum, stats.Minimum, stats.Maximum] : [];
      if (numbers.length === 0) return this.#violation('MissingParameter', `${String(d.MetricName)} has neither Value nor StatisticValues`);
      for (const n of numbers) {
        // The SDK's JSON codec writes non-finite doubles as the strings "NaN"/"Infinity".
        if (typeof n !== 'number' || !Number.isFinite(n) || Math.abs(n) > LIMIT) {
          return this.#violation('InvalidParameterValue', `The value ${String(n)} for ${String(d.MetricName)} is not supported`);
        }
      }
      if (stats && !((stats.SampleCount as number) > 0)) return this.#violation('InvalidParameterValue', 'SampleCount must be > 0');
      const dims = (d.Dimensions as Array<{ Name: string; Value: string }> | undefined) ?? [];
      if (dims.length > 30) return this.#violation('InvalidParameterValue', 'more than 30 dimensions');
      parsed.push({
        namespace: ns, name: String(d.MetricName), dimensions: Object.fromEntries(dims.map((x) => [x.Name, x.Value])),
        timestamp: typeof d.Timestamp === 'number' ? d.Timestamp * 1000 : undefined,
        value: typeof value === 'number' ? value : undefined,
        stats: stats as StoredDatum['stats'], unit: typeof d.Unit === 'string' ? d.Unit : undefined,
      });
    }
    this.calls.push(list.length);
    this.data.push(...parsed);
    return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' };
  }

  #violation(code: string, message: string, status = 400): ServiceAnswer {
    this.violations.push(message);
    return err(code, message, status);
  }
}

/** A query-compatible JSON 1.0 error, as CloudWatch sends it. */
export function err(code: string, message: string, status = 400): ServiceAnswer {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-query-error': `${code};Sender`,
    },
    body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${code}`, message }),
  };
}
