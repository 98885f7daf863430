/**
 * The benchmark's floor rows (not a test): a capture engine opened on an interface with the
 * agent's default capture settings (snaplen, kernel buffer, buffer timeout, taken from the
 * option table) and a handler that only counts packets. Its CPU is what delivery costs
 * before any analysis: for `pcap`, one JavaScript callback per packet (node_pcap); for
 * `batch`, one dispatch per wake-up and a loop over the records (the agent's addon).
 * Prints "ready", then "counted N" on SIGTERM.
 *
 * Usage: node dist/test/bench/pcap-floor.js IFACE [pcap|batch]
 */
import { OPTIONS } from '../../agent/config/parse.js';
import { batchBytes, loadPcapBatch } from '../../agent/capture/batch-live-source.js';
import { HeaderField, loadPcapBinding } from '../../agent/capture/pcap-binding.js';

const def = (key: string): number => Number(OPTIONS.find((o) => o.key === key)?.def);
const [iface, engine = 'pcap'] = process.argv.slice(2);
if (iface === undefined || (engine !== 'pcap' && engine !== 'batch')) {
  process.stderr.write('usage: pcap-floor IFACE [pcap|batch]\n');
  process.exit(2);
}
const snaplen = def('snaplen');
let packets = 0;
let bytes = 0;
if (engine === 'pcap') {
  const buf = Buffer.alloc(snaplen);
  const header = Buffer.alloc(16);
  const hv = new Uint32Array(header.buffer, header.byteOffset, 4);
  const session = new (loadPcapBinding().PcapSession)();
  session.open_live(iface, '', def('bufferSizeMb') * 1024 * 1024, snaplen, '', () => { packets++; bytes += hv[HeaderField.CAPLEN] ?? 0; },
    false, def('bufferTimeoutMs'), () => undefined, false);
  session.read_callback = () => { session.dispatch(buf, header); };
  session.start_polling();
} else {
  const native = loadPcapBatch();
  if (typeof native === 'string') throw new Error(native);
  const batch = Buffer.alloc(batchBytes(snaplen)); // as the agent
  const words = new Uint32Array(batch.buffer, batch.byteOffset, batch.length >> 2);
  const s = native.open(iface, '', snaplen, def('bufferSizeMb') * 1024 * 1024, def('bufferTimeoutMs'), 0, batch, () => {
    for (let n = native.dispatch(s.handle); n > 0; n = native.dispatch(s.handle)) {
      let at = 0;
      for (let i = 0; i < n; i++) {
        const capLen = words[(at >> 2) + 2] ?? 0;
        packets++;
        bytes += capLen;
        at += 16 + ((capLen + 3) & ~3);
      }
    }
  });
}
process.on('SIGTERM', () => {
  process.stdout.write(`counted ${packets} packets, ${bytes} bytes\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
