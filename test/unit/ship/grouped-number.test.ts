import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupedNumber } from '../../../agent/ship/grouped-number.js';

test('groupedNumber: what toLocaleString("en-US") gives, on chosen values', () => {
  const values = [0, -0, 1, -1, 7, 999, 1000, 1001, 12345, 999999, 1000000, -1234567, 2 ** 31, 2 ** 53, 1e21, 1.5e22,
    0.1, 0.5, 0.0005, 0.0004, 0.00049999, 1.0005, 1.0015, 2.675, 0.9995, 9.9995, 999.9995, 999999.9996, -0.0001, -0.0005,
    1e-7, 5e-7, 123.456, 123.4564, 123.4565, 3.14159, 1234.5, 0.30000000000000004, 1 / 3, 2 / 3, 100.1, Number.MAX_SAFE_INTEGER + 0.5,
    NaN, Infinity, -Infinity];
  for (const v of values) assert.equal(groupedNumber(v), v.toLocaleString('en-US'), `value ${v}`);
});

test('groupedNumber: what toLocaleString("en-US") gives, on 200,000 random values of the summary\'s kinds', () => {
  let s = 0x2545f491;
  const rnd = (): number => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 2 ** 32; };
  let checked = 0;
  for (let i = 0; i < 200_000; i++) {
    const kind = i % 4;
    const v = kind === 0 ? Math.floor(rnd() * 10 ** Math.floor(rnd() * 16)) // counts
      : kind === 1 ? Math.round(rnd() * 1e7) / 10 ** Math.floor(rnd() * 6) // rates and milliseconds as the summary rounds them
        : kind === 2 ? (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12) // any double
          : Math.floor(rnd() * 1e6) / 1000 + 0.0005; // near a rounding boundary
    assert.equal(groupedNumber(v), v.toLocaleString('en-US'), `value ${v}`);
    checked++;
  }
  assert.equal(checked, 200_000);
});
