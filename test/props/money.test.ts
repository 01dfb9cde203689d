// Money text in and out (src/money.ts), against references written here: parsing of strings
// and JSON numbers, formatting with 4 and 6 decimals (half-up, away from zero), round trips,
// and the half-up division and markup everything else rounds with.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyMarkup, divRoundHalfUp, formatMoney, MAX_AMOUNT_MICROS, MoneyFormatError, parseMoney } from '../../src/money.js';
import { propOptions } from './seed.js';

const MAX_WHOLE_DIGITS = 13;
/** Amounts as the system holds them: small ones (where rounding shows) up to the accepted maximum. */
const microsArb = fc.oneof(
  fc.bigInt({ min: -1_000_000n, max: 1_000_000n }),
  fc.bigInt({ min: -MAX_AMOUNT_MICROS, max: MAX_AMOUNT_MICROS }),
);

/** Reference rendering of micros with all 6 decimals, by string slicing. */
function refText6(micros: bigint): string {
  const digits = (micros < 0n ? -micros : micros).toString().padStart(7, '0');
  return `${micros < 0n ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

/** Reference half-up (away from zero) to `decimals`, by comparing the dropped digits with 5000…. */
function refFormat(micros: bigint, decimals: number): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const unit = 10n ** BigInt(6 - decimals);
  let kept = abs / unit;
  if ((abs % unit) * 2n >= unit) kept += 1n;
  const text = kept.toString().padStart(decimals + 1, '0');
  const whole = decimals === 0 ? text : text.slice(0, -decimals);
  const frac = decimals === 0 ? '' : `.${text.slice(-decimals)}`;
  return `${negative && kept !== 0n ? '-' : ''}${whole}${frac}`;
}

describe('money: parse, format, round', () => {
  it('parse(text) of a plain decimal with up to 6 places is exact; extra zeros are fine', () => {
    fc.assert(fc.property(microsArb, fc.integer({ min: 0, max: 6 }), fc.constantFrom('', '+'), fc.constantFrom('', ' '), (micros, extraZeros, plus, pad) => {
      let text = refText6(micros) + '0'.repeat(extraZeros);
      if (plus && micros >= 0n) text = plus + text;
      assert.equal(parseMoney(pad + text + pad), micros);
      // Without trailing zeros in the fraction, and without a fraction at all when whole.
      assert.equal(parseMoney(text.replace(/0+$/, '').replace(/\.$/, '')), micros);
    }), propOptions(2_000));
  });

  it('parse refuses a 7th significant decimal rather than rounding it away', () => {
    fc.assert(fc.property(microsArb, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), (micros, digit, zeros) => {
      const text = refText6(micros) + '0'.repeat(zeros) + String(digit);
      assert.throws(() => parseMoney(text), MoneyFormatError);
    }), propOptions(500));
  });

  it('parse refuses what is not a plain decimal', () => {
    const bad = fc.oneof(
      fc.constantFrom('', ' ', '.', '1.', '.5', '1..2', '1,5', '1e3', '0x10', '--1', '+-1', 'NaN', 'Infinity', '1 000', '١٢'),
      fc.string({ maxLength: 12 }).filter((s) => !/^\s*[+-]?\d{1,13}(\.\d+)?\s*$/.test(s)),
      fc.constant('1'.repeat(MAX_WHOLE_DIGITS + 1)),
    );
    fc.assert(fc.property(bad, (text) => {
      assert.throws(() => parseMoney(text), MoneyFormatError, JSON.stringify(text));
    }), propOptions(1_000));
    for (const v of [null, undefined, true, {}, [], Number.NaN, Number.POSITIVE_INFINITY, 1e21, 1e-7]) {
      assert.throws(() => parseMoney(v), MoneyFormatError, String(v));
    }
  });

  it('parse(JSON number) gives what the sender wrote, whenever a double holds it', () => {
    // Up to 15 significant digits, a decimal survives the trip through a double and back
    // through its shortest text: what a JSON sender wrote is what is parsed.
    const upTo15Digits = fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n });
    fc.assert(fc.property(upTo15Digits, (micros) => {
      assert.equal(parseMoney(Number(refText6(micros))), micros);
    }), propOptions(2_000));
    // Any other double is read as its shortest text, or refused when that has an exponent.
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e13, max: 1e13 }), (n) => {
      const text = String(n);
      let expected: bigint | 'refused';
      try { expected = /e/i.test(text) ? 'refused' : parseMoney(text); } catch { expected = 'refused'; }
      let actual: bigint | 'refused';
      try { actual = parseMoney(n); } catch (err) { assert.ok(err instanceof MoneyFormatError); actual = 'refused'; }
      assert.equal(actual, expected, text);
    }), propOptions(2_000));
  });

  it('format with 6 decimals and parse are inverse', () => {
    fc.assert(fc.property(microsArb, (micros) => {
      const text = formatMoney(micros, 6);
      assert.equal(text, refText6(micros));
      assert.equal(parseMoney(text), micros);
    }), propOptions(2_000));
  });

  it('format with 0-6 decimals rounds half-up, away from zero, never showing -0', () => {
    // Within a unit of the range's ends, rounding can show an amount just past it, which
    // parseMoney rightly refuses: those are left to the inverse property above.
    const roundable = microsArb.filter((m) => (m < 0n ? -m : m) <= MAX_AMOUNT_MICROS - 1_000_000n);
    fc.assert(fc.property(roundable, fc.integer({ min: 0, max: 6 }), (micros, decimals) => {
      const text = formatMoney(micros, decimals);
      assert.equal(text, refFormat(micros, decimals));
      // Reading it back gives the amount rounded to that many places: within half a unit of it.
      const back = parseMoney(text);
      const unit = 10n ** BigInt(6 - decimals);
      const diff = back - micros;
      assert.ok(2n * (diff < 0n ? -diff : diff) <= unit, `${micros} -> ${text}`);
    }), propOptions(2_000));
    // The edges by hand: half a unit of the last shown place goes away from zero.
    assert.equal(formatMoney(50n, 4), '0.0001');
    assert.equal(formatMoney(49n, 4), '0.0000');
    assert.equal(formatMoney(-50n, 4), '-0.0001');
    assert.equal(formatMoney(-49n, 4), '0.0000');
    assert.equal(formatMoney(999_950n, 4), '1.0000');
  });

  it('divRoundHalfUp is the nearest integer, halves away from zero', () => {
    const nonZero = fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).filter((d) => d !== 0n);
    fc.assert(fc.property(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), nonZero, (n, d) => {
      const q = divRoundHalfUp(n, d);
      // |n/d - q| <= 1/2, i.e. |n - q*d| * 2 <= |d|; on a tie, |q| is the larger candidate.
      const r = n - q * d;
      const absD = d < 0n ? -d : d;
      const twiceR = 2n * (r < 0n ? -r : r);
      assert.ok(twiceR <= absD, `${n}/${d} -> ${q}`);
      const abs = (x: bigint) => (x < 0n ? -x : x);
      if (twiceR === absD) assert.ok(abs(q) * absD > abs(n), `${n}/${d} -> ${q}: a tie goes away from zero`);
      assert.ok(q === 0n || (q < 0n) === ((n < 0n) !== (d < 0n)), 'the sign of the quotient');
    }), propOptions(2_000));
  });

  it('applyMarkup is price * (1 + percent/100), half-up to a micro', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.bigInt({ min: 0n, max: 1_000_000_000n }), (micros, markupMicroPercent) => {
      // Exact: micros * (100 + p) / 100 with p = markupMicroPercent / 10^6.
      const num = micros * (100_000_000n + markupMicroPercent);
      const den = 100_000_000n;
      const expected = num / den + ((num % den) * 2n >= den ? 1n : 0n);
      assert.equal(applyMarkup(micros, markupMicroPercent), expected);
    }), propOptions(2_000));
  });
});
