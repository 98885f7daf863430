import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureErrorFromPcap } from '../../../agent/capture/capture-errors.js';
import { CaptureErrorCode } from '../../../agent/capture/packet-source.js';
import { linkTypeFromName } from '../../../agent/capture/pcap-binding.js';

describe('libpcap error mapping', () => {
  it('maps a missing device to NO_SUCH_INTERFACE naming the available ones', () => {
    // Act
    const e = captureErrorFromPcap('No such device exists', { interfaceName: 'eth9', available: ['ens5', 'lo'] });
    // Assess
    assert.equal(e.code, CaptureErrorCode.NO_SUCH_INTERFACE);
    assert.equal(e.message, 'no such interface "eth9"; available: ens5, lo (list them with: ip -br link)');
  });

  it('maps "Operation not permitted" to NO_PERMISSION with the fix', () => {
    // Act
    const e = captureErrorFromPcap('socket: Operation not permitted', { interfaceName: 'ens5', filter: '(tcp or udp)' });
    // Assess
    assert.equal(e.code, CaptureErrorCode.NO_PERMISSION);
    assert.equal(e.message, 'cannot capture on "ens5": permission denied; run as root or grant CAP_NET_RAW '
      + '(docker run --cap-add=NET_RAW, or setcap cap_net_raw+ep $(readlink -f $(which node)))');
  });

  it('maps a compile error to BAD_FILTER naming the expression', () => {
    // Act
    const e = captureErrorFromPcap("can't parse filter expression: syntax error", { interfaceName: 'lo', filter: 'tcp and and' });
    // Assess
    assert.equal(e.code, CaptureErrorCode.BAD_FILTER);
    assert.equal(e.message, `bad capture filter "tcp and and": can't parse filter expression: syntax error`);
  });

  it('maps any error while opening a file to BAD_FILE with the file and the reason, on one line', () => {
    // Act
    const unknown = captureErrorFromPcap('unknown file format', { file: '/tmp/x.txt' });
    const missing = captureErrorFromPcap('/tmp/none.pcap: No such file or directory', { file: '/tmp/none.pcap' });
    const multi = captureErrorFromPcap('truncated dump file;\ntried to read 24 bytes.', { file: 'f.pcap' });
    // Assess
    assert.equal(unknown.code, CaptureErrorCode.BAD_FILE);
    assert.equal(unknown.message, 'cannot read capture file "/tmp/x.txt": unknown file format');
    assert.equal(missing.message, 'cannot read capture file "/tmp/none.pcap": No such file or directory');
    assert.equal(multi.message, 'cannot read capture file "f.pcap": truncated dump file; tried to read 24 bytes');
  });

  it('says how to bring a down interface up, and keeps other reasons under OTHER', () => {
    // Act
    const down = captureErrorFromPcap('That device is not up', { interfaceName: 'lbcap0' });
    const other = captureErrorFromPcap('error setting buffer size', { interfaceName: 'lbcap0' });
    // Assess
    assert.equal(down.code, CaptureErrorCode.OTHER);
    assert.match(down.message, /ip link set lbcap0 up$/);
    assert.equal(other.message, 'cannot capture on "lbcap0": error setting buffer size');
  });
});

describe('link type names from the bindings', () => {
  it('turns both bindings\' names and "Unknown linktype N" into DLT numbers', () => {
    // Act / Assess
    assert.equal(linkTypeFromName('LINKTYPE_ETHERNET'), 1);
    assert.equal(linkTypeFromName('ETHERNET'), 1);
    assert.equal(linkTypeFromName('LINKTYPE_LINUX_SLL'), 113);
    assert.equal(linkTypeFromName('RAW'), 101);
    assert.equal(linkTypeFromName('Unknown linktype 276'), 276);
    assert.equal(linkTypeFromName('what'), -1);
  });
});
