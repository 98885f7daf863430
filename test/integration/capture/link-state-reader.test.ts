/**
 * The capture watchdog's link reader against the kernel's sysfs: its kept-open attributes
 * answer as the files read afresh each time do, through up, down, delete and re-create under
 * the same name, and it holds three descriptors at most.
 * Needs root; interfaces lbrls0 / lbrls1 in the root namespace.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { LinkStateReader, type LinkState } from '../../../agent/capture/interfaces.js';
import { netnsUnavailableReason, run, TestNetwork } from '../../helpers/netns.js';

const IF = 'lbrls0';
const PEER = 'lbrls1';
const skip = netnsUnavailableReason();

/** The reference: each attribute opened, read and closed, parsed as text. */
function readLinkState(name: string): LinkState {
  const read = (f: string): string => {
    try {
      return readFileSync(`/sys/class/net/${name}/${f}`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const ifindex = parseInt(read('ifindex'), 10);
  if (!Number.isInteger(ifindex)) return { exists: false, up: false, ifindex: -1 };
  const flags = parseInt(read('flags') || '0', 16);
  const downs = parseInt(read('carrier_down_count') || read('carrier_changes'), 10);
  return { exists: true, up: (flags & 1) !== 0, ifindex, downs: Number.isInteger(downs) ? downs : undefined };
}

/**
 * Descriptors of this process open on the interface's sysfs files (/sys/devices/.../net/IF/...).
 * Not all of the process's descriptors: the test runner and libuv open and close their own
 * meanwhile (a CI run once counted one more while the reader held its three).
 */
function openFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(`/net/${IF}/`)) n++;
    } catch {
      // closed between the listing and the readlink (the listing's own descriptor)
    }
  }
  return n;
}

describe('LinkStateReader', { skip }, () => {
  const net = new TestNetwork();
  after(() => net.destroy());

  it('answers as the files read afresh do at each step of an interface\'s life, finding it again once re-created', () => {
    // Prepare
    net.addVeth({ nameA: IF, nameB: PEER });
    const reader = new LinkStateReader(IF);
    const lo = new LinkStateReader('lo');
    const seen: Array<{ step: string; exists: boolean; up: boolean; ifindex: number }> = [];
    const look = (step: string): void => {
      const got = reader.read();
      assert.deepEqual(got, readLinkState(IF), step);
      seen.push({ step, exists: got.exists, up: got.up, ifindex: got.ifindex });
    };
    // Act
    look('up');
    run('ip', ['link', 'set', IF, 'down']);
    look('down');
    run('ip', ['link', 'set', IF, 'up']);
    look('up again');
    run('ip', ['link', 'del', IF]);
    look('deleted');
    look('still deleted');
    run('ip', ['link', 'add', IF, 'type', 'veth', 'peer', 'name', PEER]);
    look('re-created');
    run('ip', ['link', 'set', IF, 'up']);
    look('re-created and up');
    // Assess
    const [first, , , deleted, , recreated, recreatedUp] = seen;
    assert.equal(first?.up, true);
    assert.equal(seen[1]?.up, false);
    assert.equal(deleted?.exists, false);
    assert.equal(recreated?.exists, true);
    assert.notEqual(recreated?.ifindex, first?.ifindex, 'a re-created interface has another ifindex');
    assert.equal(recreatedUp?.up, true);
    assert.deepEqual(lo.read(), readLinkState('lo'));
    reader.close();
    lo.close();
  });

  it('keeps at most three descriptors open however often it reads, and none once closed', () => {
    // Prepare
    net.addVeth({ nameA: IF, nameB: PEER });
    const before = openFds();
    const reader = new LinkStateReader(IF);
    // Act
    for (let i = 0; i < 500; i++) reader.read();
    const reading = openFds();
    run('ip', ['link', 'del', IF]);
    for (let i = 0; i < 50; i++) reader.read();
    const gone = openFds();
    reader.close();
    // Assess
    assert.equal(before, 0);
    assert.ok(reading >= 1 && reading <= 3, `${reading} descriptors while reading`);
    assert.equal(gone, before, 'a deleted interface leaves no descriptor open');
    assert.equal(openFds(), before);
  });
});
