import { IMDS_DEFAULT_ENDPOINT, IMDS_TOKEN_TTL_SECONDS } from '../ship/aws-limits.js';

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
  if (token === undefined || token.status !== 200 || token.body === '') return undefined;
  const headers = { 'X-aws-ec2-metadata-token': token.body };
  const get = async (path: string): Promise<string | undefined> => {
    const r = await request(doFetch, `${base}/latest/meta-data/${path}`, timeoutMs, 'GET', headers);
    return r !== undefined && r.status === 200 ? r.body.trim() : undefined;
  };
  const [instanceId, region, availabilityZone, localIpv4, macs] = await Promise.all([
    get('instance-id'), get('placement/region'), get('placement/availability-zone'), get('local-ipv4'),
    get('network/interfaces/macs/'),
  ]);
  if (instanceId === undefined || region === undefined) return undefined;
  const addresses = new Set<string>();
  if (localIpv4) addresses.add(localIpv4);
  for (const mac of splitLines(macs)) {
    const m = mac.replace(/\/$/, '');
    const [v4, v6] = await Promise.all([
      get(`network/interfaces/macs/${m}/local-ipv4s`), get(`network/interfaces/macs/${m}/ipv6s`),
    ]);
    for (const a of [...splitLines(v4), ...splitLines(v6)]) addresses.add(a);
  }
  return { instanceId, region, availabilityZone, localIpv4, addresses: [...addresses] };
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
