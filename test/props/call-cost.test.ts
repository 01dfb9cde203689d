// The cost of a call against CONTRACT §4, computed independently here with exact rationals:
//   billed(N) = 0 if N <= 0 or N <= minimal_time; initblock if N <= initblock;
//               initblock + ceil((N - initblock) / billingblock) * billingblock otherwise
//   cost(N)   = 0 if billed(N) = 0, else connect_charge + rate * billed(N) / 60,
//               rounded half-up to 6 decimals.
// A call starts only when each payer can afford the first billed block, connect_charge +
// rate * initblock / 60: also when minimal_time >= initblock, where cost(initblock) is 0 but
// no call that gets billed at all could be paid (docs/rating.md).
// test/rating/rating-core.test.ts checks the implementation against itself (monotony,
// affordability); this file checks it against the formula.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  billedSeconds, callCostMicros, maxAffordableSeconds, maxDurationForAll, minimumBlockCostMicros, type Tariff,
} from '../../src/rating/tariff.js';
import { propOptions } from './seed.js';

/** An exact non-negative rational n/d. */
interface Ratio { n: bigint; d: bigint }
const ratio = (n: bigint, d = 1n): Ratio => ({ n, d });
const add = (a: Ratio, b: Ratio): Ratio => ({ n: a.n * b.d + b.n * a.d, d: a.d * b.d });
const mul = (a: Ratio, b: Ratio): Ratio => ({ n: a.n * b.n, d: a.d * b.d });
/** Half-up to 6 decimals, as micro-units: floor(x * 10^6 + 1/2). */
const toMicrosHalfUp = (x: Ratio): bigint => (2n * x.n * 1_000_000n + x.d) / (2n * x.d);

function refBilled(t: Tariff, n: number): number {
  if (n <= 0 || n <= t.minimalTimeSeconds) return 0;
  if (n <= t.initblockSeconds) return t.initblockSeconds;
  // ceil(a / b) as floor((a + b - 1) / b), in integers.
  const over = BigInt(n - t.initblockSeconds);
  const block = BigInt(t.billingblockSeconds);
  return t.initblockSeconds + Number((over + block - 1n) / block) * t.billingblockSeconds;
}

function refCostMicros(t: Tariff, n: number): bigint {
  const billed = refBilled(t, n);
  if (billed === 0) return 0n;
  const connect = ratio(t.connectChargeMicros, 1_000_000n); // units
  const rate = ratio(t.rateMicrosPerMinute, 1_000_000n); // units per minute
  return toMicrosHalfUp(add(connect, mul(rate, ratio(BigInt(billed), 60n))));
}

/** The price of the first billed block, whatever minimal_time says. */
function refFirstBlockMicros(t: Tariff): bigint {
  const connect = ratio(t.connectChargeMicros, 1_000_000n);
  const rate = ratio(t.rateMicrosPerMinute, 1_000_000n);
  return toMicrosHalfUp(add(connect, mul(rate, ratio(BigInt(t.initblockSeconds), 60n))));
}

/** Largest N in 0..maxSeconds with cost(N) <= available, by scanning; 0 when the first block is unaffordable. */
function refMaxAffordable(t: Tariff, availableMicros: bigint, maxSeconds: number): number {
  if (maxSeconds <= 0 || refFirstBlockMicros(t) > availableMicros) return 0;
  let best = 0;
  for (let n = 0; n <= maxSeconds; n++) if (refCostMicros(t, n) <= availableMicros) best = n;
  return best;
}

// Rates from a micro-unit per minute (where the rounding of every second shows) to 100,000 a
// minute; blocks and minimal times around each other so every branch of billed() is taken.
const tariffArb: fc.Arbitrary<Tariff> = fc.record({
  rateMicrosPerMinute: fc.oneof(
    fc.bigInt({ min: 0n, max: 1_000n }),
    fc.bigInt({ min: 0n, max: 5_000_000n }),
    fc.bigInt({ min: 0n, max: 100_000_000_000n }),
  ),
  connectChargeMicros: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10_000_000n })),
  initblockSeconds: fc.oneof(fc.constantFrom(1, 6, 30, 60), fc.integer({ min: 1, max: 600 })),
  billingblockSeconds: fc.oneof(fc.constantFrom(1, 6, 60), fc.integer({ min: 1, max: 300 })),
  minimalTimeSeconds: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 90 })),
});

describe('call cost against the contract formula (exact rationals)', () => {
  it('billed(N) and cost(N) for every duration, including 0, negatives and block edges', () => {
    fc.assert(fc.property(tariffArb, fc.integer({ min: -5, max: 7_200 }), (t, n) => {
      // The duration, and the seconds at either side of the block edge it falls in.
      for (const d of [n, t.initblockSeconds, t.initblockSeconds + 1, t.minimalTimeSeconds, t.minimalTimeSeconds + 1, n + t.billingblockSeconds]) {
        assert.equal(billedSeconds(t, d), refBilled(t, d), `billed(${d})`);
        assert.equal(callCostMicros(t, d), refCostMicros(t, d), `cost(${d})`);
      }
      assert.equal(minimumBlockCostMicros(t), refFirstBlockMicros(t));
    }), propOptions(2_000));
  });

  it('maxAffordableSeconds is the largest N <= max with cost(N) <= available', () => {
    fc.assert(fc.property(
      tariffArb,
      fc.integer({ min: -1, max: 900 }),
      fc.oneof(fc.bigInt({ min: 0n, max: 2_000n }), fc.bigInt({ min: 0n, max: 5_000_000n }), fc.bigInt({ min: 0n, max: 10_000_000_000n })),
      (t, maxSeconds, availableMicros) => {
        assert.equal(maxAffordableSeconds(t, availableMicros, maxSeconds), refMaxAffordable(t, availableMicros, maxSeconds));
      },
    ), propOptions(400));
  });

  it('available exactly at a block price: that block fits, one micro less and it does not', () => {
    fc.assert(fc.property(tariffArb, fc.integer({ min: 1, max: 3_600 }), (t, n) => {
      const price = refCostMicros(t, n);
      const maxSeconds = 3_600;
      const fits = maxAffordableSeconds(t, price, maxSeconds);
      assert.ok(fits >= Math.min(n, maxSeconds) || refFirstBlockMicros(t) > price, `cost(${n}) = ${price} must buy ${n} s`);
      if (price > 0n && fits > 0) assert.ok(refCostMicros(t, fits) <= price);
      const short = maxAffordableSeconds(t, price - 1n, maxSeconds);
      if (price > 0n) assert.ok(short < n || refBilled(t, short) < refBilled(t, n), 'one micro less buys less');
    }), propOptions(1_000));
  });

  it('several payers: the limit is the smallest of each one\'s own', () => {
    const payerArb = fc.record({ tariff: tariffArb, availableMicros: fc.bigInt({ min: 0n, max: 50_000_000n }) });
    fc.assert(fc.property(fc.array(payerArb, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 600 }), (payers, maxSeconds) => {
      // Each one's own limit is checked against the reference above; this is about combining them.
      const expected = Math.min(maxSeconds, ...payers.map((p) => maxAffordableSeconds(p.tariff, p.availableMicros, maxSeconds)));
      assert.equal(maxDurationForAll(payers, maxSeconds), expected);
    }), propOptions(200));
  });
});
