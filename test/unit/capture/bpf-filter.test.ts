import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analysisSelection, buildBpfFilter, HEAD_PREFIXES } from '../../../agent/capture/bpf-filter.js';
import { LinkType } from '../../../agent/capture/packet-source.js';

describe('buildBpfFilter', () => {
  it('selects TCP and UDP, untagged or VLAN-tagged, by default', () => {
    // Act
    const f = buildBpfFilter();
    // Assess
    assert.equal(f, '(tcp or udp) or (vlan and (tcp or udp))');
  });

  it('repeats the user filter after `vlan`, because vlan shifts the offsets of every later test', () => {
    // Act
    const f = buildBpfFilter({ userFilter: '  port 80 ' });
    // Assess
    assert.equal(f, '((tcp or udp) and (port 80)) or (vlan and (tcp or udp) and (port 80))');
  });

  it('leaves the VLAN branch out for link types that carry no 802.1Q tag', () => {
    // Act
    const raw = buildBpfFilter({ linkType: LinkType.RAW, userFilter: 'host 198.18.10.1' });
    const sll = buildBpfFilter({ linkType: LinkType.LINUX_SLL });
    // Assess
    assert.equal(raw, '(tcp or udp) and (host 198.18.10.1)');
    assert.equal(sll, '(tcp or udp)');
  });

  it('ANDs further clauses (later: sampling, payload prefixes) into both branches', () => {
    // Act
    const f = buildBpfFilter({ protocols: ['tcp'], clauses: ['tcp[13] & 4 != 0'], userFilter: 'port 443' });
    // Assess
    assert.equal(f, '((tcp) and (tcp[13] & 4 != 0) and (port 443)) or (vlan and (tcp) and (tcp[13] & 4 != 0) and (port 443))');
  });

  it('ignores an empty user filter and refuses an empty protocol list', () => {
    // Act / Assess
    assert.equal(buildBpfFilter({ userFilter: '  ' }), buildBpfFilter());
    assert.throws(() => buildBpfFilter({ protocols: [] }), RangeError);
  });

  it('at -s 1 thins nothing: the expression is the same as without sampling', () => {
    // Act / Assess
    assert.equal(buildBpfFilter({ sample: 1 }), buildBpfFilter());
    assert.equal(analysisSelection(1), 'tcp or udp');
  });

  it('at -s N keeps UDP whole and samples TCP by the XOR of addresses and ports mod N (IPv4 and IPv6)', () => {
    // Act
    const f = analysisSelection(100);
    // Assess
    assert.match(f, /^udp or /);
    assert.ok(f.includes('(ip[12:4] ^ ip[16:4] ^ tcp[0:2] ^ tcp[2:2]) % 100 = 0'));
    assert.ok(f.includes('(ip6[8:4] ^ ip6[12:4] ^ ip6[16:4] ^ ip6[20:4] ^ ip6[24:4] ^ ip6[28:4] ^ ip6[32:4] ^ ip6[36:4] ^ ip6[40:2] ^ ip6[42:2]) % 100 = 0'));
    assert.ok(f.includes('tcp[13] & 0x07 != 0'), 'SYN, FIN and RST always');
  });

  it('compares the first payload word with each needed prefix as big-endian u32', () => {
    // Act / Assess
    assert.equal(HEAD_PREFIXES['GET '], 0x47455420);
    assert.equal(HEAD_PREFIXES['HTTP'], 0x48545450);
    assert.equal(HEAD_PREFIXES['\r\n\r\n'], 0x0d0a0d0a);
    assert.ok(analysisSelection(10).includes('tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420'));
  });

  it('keeps the VLAN branch and the user filter in both branches when sampling', () => {
    // Act
    const f = buildBpfFilter({ sample: 10, userFilter: 'port 80' });
    const needs = analysisSelection(10);
    // Assess
    assert.equal(f, `((${needs}) and (port 80)) or (vlan and (${needs}) and (port 80))`);
  });

  it('refuses a sample that is not a positive integer, naming the value', () => {
    // Act / Assess
    assert.throws(() => buildBpfFilter({ sample: 0 }), /sample must be an integer 1\.\.\d+, got 0/);
    assert.throws(() => buildBpfFilter({ sample: 2.5 }), RangeError);
    assert.throws(() => buildBpfFilter({ sample: 10, protocols: ['tcp'] }), /needs both tcp and udp/);
  });
});
