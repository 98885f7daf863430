import { isIP } from 'node:net';
import { IMDS_DEFAULT_ENDPOINT, IMDS_TOKEN_TTL_SECONDS } from '../ship/aws-limits.js';

/**
 * What IMDS values look like. A proxy's HTML page or a garbled answer with status 200
 * must not become the instance id (the log stream name) or the region (the endpoint).
 */
const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Local Zones and Wavelength zones look like us-west-2-lax-1a: only the character set is checked. */
const AVAILABILITY_ZONE = /^[a-z0-9-]{4,40}$/;
/** Tokens are opaque printable text; anything with spaces, markup or control characters is not one. */
const TOKEN = /^[\x21-\x7e]{1,4096}$/;

/** Who and where this instance is, from the instance metadata service (IMDSv2). */
export type InstanceIdentity = Readonly<{
  instanceId: string;
  region: string;
  availabilityZone: string | undefined;
  localIpv4: string | undefined;
  /** Every IPv4 and IPv6 address of every interface (for ip-type target groups). */
  addresses: readonly string[];
}>;

export type ImdsOptions = Readonly<{
  endpoint?: string | undefined;
  /** Per request. IMDS answers in milliseconds on EC2; off EC2 we must not hang. */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}>;

/**
 * Reads the instance identity with IMDSv2: PUT a session token, then GET with it.
 * Returns undefined when IMDS cannot be reached (not on EC2, or the token response's
 * hop limit of 1 was exceeded because the container is not on the host network).
 */
export async function fetchInstanceIdentity(options: ImdsOptions = {}): Promise<InstanceIdentity | undefined> {
  const base = (options.endpoint ?? IMDS_DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 1000;
  const doFetch = options.fetchImpl ?? fetch;
  const token = await request(doFetch, `${base}/latest/api/token`, timeoutMs, 'PUT', {
    'X-aws-ec2-metadata-token-ttl-seconds': String(IMDS_TOKEN_TTL_SECONDS),
  });
  if (token === undefined || token.status !== 200 || !TOKEN.test(token.body) || token.body.includes('<')) return undefined;
  const headers = { 'X-aws-ec2-metadata-token': token.body };
  const get = async (path: string): Promise<string | undefined> => {
    const r = await request(doFetch, `${base}/latest/meta-data/${path}`, timeoutMs, 'GET', headers);
    return r !== undefined && r.status === 200 ? r.body.trim() : undefined;
  };
  const [instanceId, region, availabilityZone, localIpv4, macs] = await Promise.all([
    get('instance-id'), get('placement/region'), get('placement/availability-zone'), get('local-ipv4'),
    get('network/interfaces/macs/'),
  ]);
  if (instanceId === undefined || region === undefined || !INSTANCE_ID.test(instanceId) || !REGION.test(region)) return undefined;
  const addresses = new Set<string>();
  const ipv4 = localIpv4 !== undefined && isIP(localIpv4) === 4 ? localIpv4 : undefined;
  if (ipv4) addresses.add(ipv4);
  for (const mac of splitLines(macs).filter((m) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}\/?$/.test(m))) {
    const m = mac.replace(/\/$/, '');
    const [v4, v6] = await Promise.all([
      get(`network/interfaces/macs/${m}/local-ipv4s`), get(`network/interfaces/macs/${m}/ipv6s`),
    ]);
    for (const a of [...splitLines(v4), ...splitLines(v6)]) if (isIP(a) !== 0) addresses.add(a);
  }
  const az = availabilityZone !== undefined && AVAILABILITY_ZONE.test(availabilityZone) ? availabilityZone : undefined;
  return { instanceId, region, availabilityZone: az, localIpv4: ipv4, addresses: [...addresses] };
}

function splitLines(text: string | undefined): string[] {
  return (text ?? '').split('\n').map((s) => s.trim()).filter((s) => s !== '');
}

async function request(
  doFetch: typeof fetch, url: string, timeoutMs: number, method: string, headers: Record<string, string>,
): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await doFetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}
