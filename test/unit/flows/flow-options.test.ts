import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { FlowTable, flowOptionsFromConfig } from '../../../agent/flows/tcp-table.js';

const base = { sink: { emit: () => undefined }, events: new EventFactory() };

describe('Flow table settings', () => {
  it('take -s, --max-connections, --syn-timeout and --idle-timeout from Config', () => {
    const opts = flowOptionsFromConfig({ sample: 10, maxConnections: 5000, synTimeoutSec: 2, idleTimeoutSec: 60 });
    assert.deepEqual(opts, { sample: 10, maxConnections: 5000, synTimeoutSec: 2, idleTimeoutSec: 60 });
    assert.equal(new FlowTable({ ...base, ...opts }).snapshot().sample, 10);
  });

  it('refuse nonsense at construction, naming the setting and the value', () => {
    assert.throws(() => new FlowTable({ ...base, sample: 0 }), /sample must be a positive integer, got 0/);
    assert.throws(() => new FlowTable({ ...base, maxConnections: 1.5 }), /maxConnections .* got 1\.5/);
    assert.throws(() => new FlowTable({ ...base, synTimeoutSec: -1 }), /synTimeoutSec .* got -1/);
  });
});
