/**
 * The benchmark's floor row (not a test): node_pcap's binding opened on an interface with
 * the agent's default capture settings (snaplen, kernel buffer, buffer timeout, taken from
 * the option table) and a handler that only counts packets. Its CPU is what one JavaScript
 * callback per packet costs before any analysis. Prints "ready", then "counted N" on SIGTERM.
 *
 * Usage: node dist/test/bench/pcap-floor.js IFACE
 */
import { OPTIONS } from '../../agent/config/parse.js';
import { HeaderField, loadPcapBinding } from '../../agent/capture/pcap-binding.js';

const def = (key: string): number => Number(OPTIONS.find((o) => o.key === key)?.def);
const iface = process.argv[2];
if (iface === undefined) {
  process.stderr.write('usage: pcap-floor IFACE\n');
  process.exit(2);
}
const snaplen = def('snaplen');
const buf = Buffer.alloc(snaplen);
const header = Buffer.alloc(16);
const hv = new Uint32Array(header.buffer, header.byteOffset, 4);
let packets = 0;
let bytes = 0;
const session = new (loadPcapBinding().PcapSession)();
session.open_live(iface, '', def('bufferSizeMb') * 1024 * 1024, snaplen, '', () => { packets++; bytes += hv[HeaderField.CAPLEN] ?? 0; },
  false, def('bufferTimeoutMs'), () => undefined, false);
session.read_callback = () => { session.dispatch(buf, header); };
session.start_polling();
process.on('SIGTERM', () => {
  process.stdout.write(`counted ${packets} packets, ${bytes} bytes\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
