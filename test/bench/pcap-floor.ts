/**
 * The benchmark's floor rows (not a test): the agent's own live source for an engine, opened
 * on an interface with the agent's default capture settings (snaplen, kernel buffer, buffer
 * timeout, wake-up interval, taken from the option table), with a handler that only counts
 * packets. Its CPU is what delivery costs before any analysis: for `pcap`, a read per
 * wake-up and one JavaScript callback per packet (node_pcap); for `batch`, a few dispatches
 * per wake-up and a handler call per packet (the agent's addon).
 * Prints "ready", then "counted N" on SIGTERM.
 *
 * Usage: node dist/test/bench/pcap-floor.js IFACE [pcap|batch]
 */
import { OPTIONS } from '../../agent/config/parse.js';
import { BatchLiveSource } from '../../agent/capture/batch-live-source.js';
import { PcapLiveSource } from '../../agent/capture/pcap-live-source.js';

const def = (key: string): number => Number(OPTIONS.find((o) => o.key === key)?.def);
const [iface, engine = 'pcap'] = process.argv.slice(2);
if (iface === undefined || (engine !== 'pcap' && engine !== 'batch')) {
  process.stderr.write('usage: pcap-floor IFACE [pcap|batch]\n');
  process.exit(2);
}
const settings = {
  interfaceName: iface, filter: '', snaplen: def('snaplen'), bufferSizeMb: def('bufferSizeMb'), bufferTimeoutMs: def('bufferTimeoutMs'),
  wakeupIntervalMs: def('wakeupIntervalMs'),
};
let packets = 0;
let bytes = 0;
const source = engine === 'pcap' ? new PcapLiveSource(settings) : new BatchLiveSource(settings);
source.start((_buf, capLen) => { packets++; bytes += capLen; });
process.on('SIGTERM', () => {
  process.stdout.write(`counted ${packets} packets, ${bytes} bytes\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
