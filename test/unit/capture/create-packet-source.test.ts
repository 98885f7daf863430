import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPacketSource, liveLinkType, resolveInterface } from '../../../agent/capture/create-packet-source.js';
import { FileSource } from '../../../agent/capture/file-source.js';
import { defaultRouteInterface } from '../../../agent/capture/interfaces.js';
import { CaptureError, CaptureErrorCode, LinkType } from '../../../agent/capture/packet-source.js';
import { DEFAULT_SNAPLEN } from '../../../agent/capture/pcap-live-source.js';
import { pcapBatchUnavailable } from '../../../agent/capture/batch-live-source.js';
import { ResilientLiveSource } from '../../../agent/capture/resilient-source.js';

describe('createPacketSource', () => {
  it('chooses the file source for readFile, otherwise batch, or pcap or cap when asked; live ones resume after interface loss', () => {
    // Act
    const file = createPacketSource({ readFile: '/tmp/x.pcap', interface: 'lo' });
    const batch = createPacketSource({ interface: 'lo' });
    const pcap = createPacketSource({ interface: 'lo', engine: 'pcap' });
    const cap = createPacketSource({ interface: 'lo', engine: 'cap' });
    // Assess: nothing is opened before start().
    assert.ok(file instanceof FileSource);
    assert.equal(file.name, '/tmp/x.pcap');
    assert.ok(batch instanceof ResilientLiveSource);
    assert.equal(batch.engine, 'batch', `the addon is built by npm run build: ${pcapBatchUnavailable() ?? ''}`);
    assert.equal(batch.name, 'lo');
    assert.ok(pcap instanceof ResilientLiveSource);
    assert.equal(pcap.engine, 'pcap');
    assert.ok(cap instanceof ResilientLiveSource);
    assert.equal(cap.engine, 'cap');
    assert.equal(cap.stats(), undefined);
  });

  it('falls back to the pcap engine, saying why, when the batch addon is missing', () => {
    // Prepare
    const warnings: string[] = [];
    // Act
    const source = createPacketSource({ interface: 'lo', batchAddonPath: '/nonexistent/pcap_batch.node', warn: (m) => warnings.push(m) });
    // Assess
    assert.equal(source.engine, 'pcap');
    assert.deepEqual(warnings, ['batch capture engine unavailable, capturing with pcap (one call per packet, more CPU): '
      + '/nonexistent/pcap_batch.node was not built (npm run build compiles it; it needs libpcap-dev, python3, make and a C compiler)']);
  });

  it('captures on the default-route interface when none is given', (t) => {
    // Prepare
    const expected = defaultRouteInterface();
    if (expected === undefined) {
      t.skip('SKIPPED: this host has no default route');
      return;
    }
    // Act / Assess
    assert.equal(resolveInterface(undefined), expected);
    assert.equal(createPacketSource({}).name, expected);
  });

  it('refuses a missing interface before opening anything', () => {
    // Act
    let err: unknown;
    try {
      createPacketSource({ interface: 'nope0' });
    } catch (e) {
      err = e;
    }
    // Assess
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.NO_SUCH_INTERFACE);
    assert.match(err.message, /^no such interface "nope0"; available: .*lo.* \(list them with: ip -br link\)$/);
  });

  it('refuses a snaplen or buffer timeout outside what libpcap and the design allow', () => {
    // Act / Assess
    assert.equal(DEFAULT_SNAPLEN, 9216);
    assert.throws(() => createPacketSource({ interface: 'lo', snaplen: 300_000 }), /snaplen must be an integer from 64 to 262144, got 300000/);
    assert.throws(() => createPacketSource({ interface: 'lo', bufferTimeoutMs: 0 }), /buffer timeout must be 1 to 50 ms, got 0/);
    assert.throws(() => createPacketSource({ interface: 'lo', bufferTimeoutMs: 51 }), /got 51/);
  });

  it('expects Ethernet framing on lo and Ethernet-like interfaces, cooked framing on "any"', () => {
    // Act / Assess
    assert.equal(liveLinkType('lo'), LinkType.ETHERNET);
    assert.equal(liveLinkType('any'), LinkType.LINUX_SLL);
  });
});
