import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBpfFilter } from '../../../agent/capture/bpf-filter.js';
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
});
