/**
 * IMDSv2: PUT /latest/api/token (with X-aws-ec2-metadata-token-ttl-seconds) returns a
 * token; GET /latest/meta-data/... requires it (401 otherwise). IMDSv1 GETs without a
 * token are refused, as on an instance with HttpTokens=required.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ServiceAnswer } from './aws-double.js';

export class ImdsService {
  readonly tokens = new Set<string>();
  /** Paths under /latest/meta-data/ and their answers; set by the test. */
  readonly metadata = new Map<string, string>();
  tokenRequests = 0;
  refusedWithoutToken = 0;

  /** A typical instance: one interface with two IPv4 addresses and one IPv6. */
  static typical(instanceId = 'i-0123456789abcdef0', region = 'eu-west-1'): ImdsService {
    const s = new ImdsService();
    const mac = '0e:11:22:33:44:55';
    s.metadata.set('instance-id', instanceId);
    s.metadata.set('placement/region', region);
    s.metadata.set('placement/availability-zone', `${region}a`);
    s.metadata.set('local-ipv4', '10.0.2.100');
    s.metadata.set('network/interfaces/macs/', `${mac}/`);
    s.metadata.set(`network/interfaces/macs/${mac}/local-ipv4s`, '10.0.2.100\n10.0.2.101');
    s.metadata.set(`network/interfaces/macs/${mac}/ipv6s`, '2001:db8::100');
    return s;
  }

  handle(method: string, url: string, headers: IncomingHttpHeaders): ServiceAnswer {
    if (url === '/latest/api/token') {
      if (method !== 'PUT') return { status: 405, headers: {}, body: '' };
      const ttl = Number(headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!(ttl >= 1 && ttl <= 21600)) return { status: 400, headers: {}, body: '' };
      this.tokenRequests++;
      const token = `tok-${this.tokenRequests}-${Math.random().toString(36).slice(2)}`;
      this.tokens.add(token);
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: token };
    }
    if (!url.startsWith('/latest/meta-data/')) return { status: 404, headers: {}, body: '' };
    const token = headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !this.tokens.has(token)) {
      this.refusedWithoutToken++;
      return { status: 401, headers: {}, body: '' };
    }
    const value = this.metadata.get(url.slice('/latest/meta-data/'.length));
    return value === undefined ? { status: 404, headers: {}, body: '' } : { status: 200, headers: { 'content-type': 'text/plain' }, body: value };
  }
}
