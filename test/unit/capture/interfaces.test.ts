import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CaptureError, CaptureErrorCode } from '../../../agent/capture/packet-source.js';
import {
  assertInterfaceExists, defaultRouteInterface, interfaceNames, listInterfaces, localAddresses,
  parseDefaultRoute4, parseDefaultRoute6,
} from '../../../agent/capture/interfaces.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';

/** /proc/net/route of an EC2 instance with a secondary ENI (metric 10001) and docker0. */
const EC2_ROUTE = [
  HEADER,
  'ens6\t00000000\t0120A8C0\t0003\t0\t0\t10001\t00000000\t0\t0\t0',
  'ens5\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
  'ens5\t0000A8C0\t00000000\t0001\t0\t0\t100\t00F0FFFF\t0\t0\t0',
  'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  '',
].join('\n');

const V6_ROUTE = [
  // fd00:18:10::/64 on lbcap0
  'fd000018001000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   lbcap0',
  // default via fe80::1 dev ens5 metric 1024
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003     ens5',
  // the kernel's unreachable default on lo
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
  '',
].join('\n');

describe('default route interface', () => {
  it('picks the IPv4 default route with the lowest metric', () => {
    // Act / Assess
    assert.equal(parseDefaultRoute4(EC2_ROUTE), 'ens5');
  });

  it('ignores routes that are down, rejecting or not default', () => {
    // Prepare
    const text = [
      HEADER,
      'eth1\t00000000\t0100A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0', // not RTF_UP
      'eth2\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0', // RTF_REJECT
      'eth3\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0', // not default
    ].join('\n');
    // Act / Assess
    assert.equal(parseDefaultRoute4(text), undefined);
    assert.equal(parseDefaultRoute4(''), undefined);
    assert.equal(parseDefaultRoute4('garbage\nmore garbage'), undefined);
  });

  it('finds the IPv6 default route and skips the unreachable one on lo', () => {
    // Act / Assess
    assert.equal(parseDefaultRoute6(V6_ROUTE), 'ens5');
    assert.equal(parseDefaultRoute6(V6_ROUTE.split('\n').filter((l) => !l.includes('ens5')).join('\n')), undefined);
  });

  it('falls back to the IPv6 table when there is no IPv4 default route', (t) => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'lbcap-route-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const route4 = join(dir, 'route');
    const route6 = join(dir, 'ipv6_route');
    writeFileSync(route4, `${HEADER}\n`);
    writeFileSync(route6, V6_ROUTE);
    // Act / Assess
    assert.equal(defaultRouteInterface({ route4, route6 }), 'ens5');
    writeFileSync(route4, EC2_ROUTE);
    assert.equal(defaultRouteInterface({ route4, route6 }), 'ens5');
    assert.equal(defaultRouteInterface({ route4: join(dir, 'missing'), route6: join(dir, 'missing6') }), undefined);
  });
});

describe('interfaces of this host', () => {
  it('lists lo, up, with its loopback addresses', () => {
    // Act
    const lo = listInterfaces().find((i) => i.name === 'lo');
    // Assess
    assert.ok(lo, 'lo is listed');
    assert.equal(lo.up, true);
    assert.equal(lo.loopback, true);
    assert.ok(localAddresses('lo').includes('127.0.0.1'));
    assert.deepEqual(localAddresses('no-such-if0'), []);
  });

  it('refuses a missing interface in one line naming the available ones', () => {
    // Act
    const err = (() => {
      try {
        assertInterfaceExists('eth9x');
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    // Assess
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.NO_SUCH_INTERFACE);
    assert.equal(err.message, `no such interface "eth9x"; available: ${interfaceNames().join(', ')} (list them with: ip -br link)`);
    assert.doesNotThrow(() => assertInterfaceExists('lo'));
  });
});
