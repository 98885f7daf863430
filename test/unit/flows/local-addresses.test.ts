import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseIp } from '../../helpers/packet-builder.js';
import { NO_LOCAL_ADDRESSES, StaticLocalAddresses } from '../../../agent/flows/local-addresses.js';

const u32 = (s: string): number => parseIp(s).readUInt32BE(0);

describe('Local addresses tell this instance from its peers', () => {
  it('recognises IPv4 and IPv6 addresses given as strings, with or without prefix length or zone', () => {
    // Prepare
    const local = new StaticLocalAddresses(['10.0.2.100', '10.0.2.101/24', 'fe80::1%eth0', '2001:db8::100']);
    const v6 = Buffer.concat([Buffer.alloc(3), parseIp('2001:db8::100'), parseIp('fe80::1'), parseIp('2001:db8::1')]);
    // Act / Assess
    assert.equal(local.known, true);
    assert.equal(local.has4(u32('10.0.2.100')), true);
    assert.equal(local.has4(u32('10.0.2.101')), true);
    assert.equal(local.has4(u32('10.0.1.50')), false);
    assert.equal(local.has6(v6, 3), true);
    assert.equal(local.has6(v6, 19), true);
    assert.equal(local.has6(v6, 35), false);
  });

  it('treats an IPv4-mapped IPv6 address as the IPv4 address', () => {
    const local = new StaticLocalAddresses(['10.0.2.100']);
    assert.equal(local.has6(parseIp('::ffff:a00:264'), 0), true, '::ffff:10.0.2.100');
    assert.equal(new StaticLocalAddresses(['::ffff:10.0.2.7']).has4(u32('10.0.2.7')), true);
  });

  it('an empty set is "unknown", so the SYN receiver is taken as this instance', () => {
    assert.equal(new StaticLocalAddresses([]).known, false);
    assert.equal(NO_LOCAL_ADDRESSES.known, false);
  });

  it('refuses a string that is not an address, naming it', () => {
    assert.throws(() => new StaticLocalAddresses(['eth0']), /"eth0" is neither IPv4 nor IPv6/);
    assert.throws(() => new StaticLocalAddresses(['10.0.0.256']), /10\.0\.0\.256/);
  });
});
