// The cost of a call (CONTRACT §4), pure: plain values in, plain values out, no I/O, no dates.
import { divRoundHalfUp } from '../money.js';

export interface Tariff {
  /** Price per minute, micro-units. */
  rateMicrosPerMinute: bigint;
  connectChargeMicros: bigint;
  /** First billed block, seconds (>= 1). */
  initblockSeconds: number;
  /** Increment after the first block, seconds (>= 1). */
  billingblockSeconds: number;
  /** Calls of at most this many seconds cost nothing. */
  minimalTimeSeconds: number;
}

/** Seconds billed for an answered call of `durationSeconds`. */
export function billedSeconds(t: Tariff, durationSeconds: number): number {
  if (durationSeconds <= 0 || durationSeconds <= t.minimalTimeSeconds) return 0;
  if (durationSeconds <= t.initblockSeconds) return t.initblockSeconds;
  const blocks = Math.ceil((durationSeconds - t.initblockSeconds) / t.billingblockSeconds);
  return t.initblockSeconds + blocks * t.billingblockSeconds;
}

/** Cost of `billed` seconds: connect charge + rate × billed / 60, half-up to a micro-unit. */
export function costOfBilled(t: Tariff, billed: number): bigint {
  if (billed <= 0) return 0n;
  return t.connectChargeMicros + divRoundHalfUp(t.rateMicrosPerMinute * BigInt(billed), 60n);
}

export function callCostMicros(t: Tariff, durationSeconds: number): bigint {
  return costOfBilled(t, billedSeconds(t, durationSeconds));
}

/** Cost of the minimum billing block: what an account must afford for a call to start. */
export function minimumBlockCostMicros(t: Tariff): bigint {
  return costOfBilled(t, t.initblockSeconds);
}

/**
 * The largest duration N <= maxSeconds with cost(N) <= availableMicros. Returns 0 when not even
 * the minimum block is affordable. N always ends a billed block (or equals maxSeconds), so
 * one more second starts a block the account cannot pay.
 */
export function maxAffordableSeconds(t: Tariff, availableMicros: bigint, maxSeconds: number): number {
  if (maxSeconds <= 0) return 0;
  if (minimumBlockCostMicros(t) > availableMicros) return 0;
  if (callCostMicros(t, maxSeconds) <= availableMicros) return maxSeconds;
  // cost is non-decreasing in N: binary search the last affordable second.
  let lo = Math.min(t.initblockSeconds, maxSeconds); // affordable
  let hi = maxSeconds; // not affordable
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (callCostMicros(t, mid) <= availableMicros) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The call limit when several accounts pay for one call (client at retail, reseller at wholesale). */
export function maxDurationForAll(payers: Array<{ tariff: Tariff; availableMicros: bigint }>, maxSeconds: number): number {
  let limit = maxSeconds;
  for (const p of payers) limit = Math.min(limit, maxAffordableSeconds(p.tariff, p.availableMicros, maxSeconds));
  return limit;
}
