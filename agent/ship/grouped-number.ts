/**
 * A number as the summary table shows it: what `toLocaleString('en-US')` gives (thousands
 * separated by commas, at most three fraction digits rounded half away from zero, trailing
 * zeros dropped), without it. `toLocaleString` loads ICU's locale data, which is part of the
 * node binary's file: the first call brought ~5.8 MB of it into the agent's resident memory
 * (Node.js 20), for commas.
 */
export function groupedNumber(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '-∞';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  let int: string;
  let frac = '';
  if (Number.isInteger(a)) {
    int = a < 1e21 ? String(a) : BigInt(a).toString();
  } else {
    // The shortest decimal that reads back as the number (what ICU rounds too), then three digits.
    let t = String(a);
    if (t.includes('e')) t = a.toFixed(20); // below 1e-6: far from any rounding boundary at three digits
    const dot = t.indexOf('.');
    int = t.slice(0, dot);
    const digits = t.slice(dot + 1);
    if (digits.length <= 3) frac = digits;
    else {
      frac = digits.slice(0, 3);
      if (digits.charCodeAt(3) >= 0x35) {
        // Half away from zero: add one in the third place, carrying into the integer part.
        const up = (BigInt(int + frac) + 1n).toString().padStart(int.length + 3, '0');
        int = up.slice(0, up.length - 3);
        frac = up.slice(up.length - 3);
      }
    }
    frac = frac.replace(/0+$/, '');
  }
  let grouped = '';
  let i = int.length;
  for (; i > 3; i -= 3) grouped = `,${int.slice(i - 3, i)}${grouped}`;
  grouped = int.slice(0, i) + grouped;
  return frac === '' ? sign + grouped : `${sign}${grouped}.${frac}`;
}
