import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PrefixIndex } from '../../src/rating/prefix-index.js';
import {
  billedSeconds, callCostMicros, maxAffordableSeconds, maxDurationForAll, minimumBlockCostMicros, type Tariff,
} from '../../src/rating/tariff.js';
import { formatMoney, parseMoney } from '../../src/money.js';
import { propOptions } from '../props/seed.js';

const tariffArb: fc.Arbitrary<Tariff> = fc.record({
  rateMicrosPerMinute: fc.bigInt({ min: 0n, max: 50_000_000n }),
  connectChargeMicros: fc.bigInt({ min: 0n, max: 1_000_000n }),
  initblockSeconds: fc.integer({ min: 1, max: 120 }),
  billingblockSeconds: fc.integer({ min: 1, max: 60 }),
  minimalTimeSeconds: fc.integer({ min: 0, max: 30 }),
});

const tariff = (rate: string, initblock: number, billingblock: number, extra: Partial<Tariff> = {}): Tariff => ({
  rateMicrosPerMinute: parseMoney(rate), connectChargeMicros: 0n, initblockSeconds: initblock,
  billingblockSeconds: billingblock, minimalTimeSeconds: 0, ...extra,
});

describe('rating core: cost and call limits', () => {
  it('hand-computed cases of CONTRACT §4', () => {
    const t = tariff('1.20', 60, 6);
    assert.equal(formatMoney(callCostMicros(t, 61), 4), '1.3200');
    assert.equal(billedSeconds(t, 61), 66);
    assert.equal(billedSeconds(t, 1), 60);
    assert.equal(billedSeconds(t, 0), 0);
    assert.equal(maxAffordableSeconds(t, parseMoney('10.0000'), 3600), 498);
    assert.equal(callCostMicros(tariff('1.20', 60, 6, { minimalTimeSeconds: 5 }), 5), 0n);
    assert.equal(formatMoney(callCostMicros(tariff('0.03', 30, 6, { connectChargeMicros: parseMoney('0.01') }), 31), 6), '0.028000');
    // rate 0.0001/min for 1 s: 0.0000016666 -> half-up 0.000002
    assert.equal(callCostMicros(tariff('0.0001', 1, 1), 1), 2n);
  });

  it('cost never decreases with duration', () => {
    fc.assert(fc.property(tariffArb, fc.integer({ min: 0, max: 7200 }), fc.integer({ min: 0, max: 600 }), (t, n, extra) => {
      assert.ok(callCostMicros(t, n) <= callCostMicros(t, n + extra));
    }), propOptions(500));
  });

  it('cost(maxDuration(b)) <= b and one more billing block exceeds b', () => {
    fc.assert(fc.property(tariffArb, fc.bigInt({ min: 0n, max: 100_000_000n }), fc.integer({ min: 1, max: 7200 }), (t, balance, maxS) => {
      const n = maxAffordableSeconds(t, balance, maxS);
      if (n === 0) {
        assert.ok(minimumBlockCostMicros(t) > balance || maxS <= 0);
        return;
      }
      assert.ok(n <= maxS);
      assert.ok(callCostMicros(t, n) <= balance);
      if (n < maxS) assert.ok(callCostMicros(t, n + 1) > balance, 'the next second starts a block that is not affordable');
    }), propOptions(500));
  });

  it('several payers: the limit is affordable for each', () => {
    fc.assert(fc.property(fc.array(fc.record({ tariff: tariffArb, availableMicros: fc.bigInt({ min: 0n, max: 50_000_000n }) }), { minLength: 1, maxLength: 3 }), (payers) => {
      const n = maxDurationForAll(payers, 3600);
      for (const p of payers) {
        if (n > 0) assert.ok(callCostMicros(p.tariff, n) <= p.availableMicros);
      }
    }), propOptions(500));
  });

  it('the longest prefix wins', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.stringMatching(/^[0-9]{1,8}$/), { minLength: 1, maxLength: 200 }),
      fc.stringMatching(/^[0-9]{1,15}$/),
      (prefixes, number) => {
        const idx = new PrefixIndex(4);
        prefixes.forEach((p, i) => idx.set(p, i));
        const expected = prefixes
          .map((p, i) => ({ p, i }))
          .filter(({ p }) => number.startsWith(p))
          .sort((a, b) => b.p.length - a.p.length)[0];
        assert.equal(idx.longestMatch(number), expected ? expected.i : -1);
      },
    ), propOptions(300));
  });

  it('prefix index: replace, leading zeros, non-digits', () => {
    const idx = new PrefixIndex();
    idx.set('44', 1);
    idx.set('447', 2);
    idx.set('044', 3);
    assert.equal(idx.longestMatch('447575396991'), 2);
    assert.equal(idx.longestMatch('441234'), 1);
    assert.equal(idx.longestMatch('0441'), 3);
    idx.set('447', 9);
    assert.equal(idx.longestMatch('4475'), 9);
    assert.equal(idx.size, 3);
    assert.equal(idx.longestMatch('49'), -1);
    assert.equal(idx.longestMatch('+44'), -1);
    assert.throws(() => idx.set('1234567890123456', 1));
  });
});
