// A reseller's retail prices are not stored: a retail plan holds only the rows its operator set
// for it on purpose (overrides), and every other price is its wholesale plan's row times the
// reseller's markup, computed when it is needed (applyMarkup in rating, applyMarkupSql in the
// listings: one rule, half-up to a micro-unit). So a reseller costs no storage and no memory in
// proportion to the wholesale deck, and a wholesale change reaches every reseller at once.
//
// The effective retail plan is the union of the two tables: the longest matching prefix wins
// across both, and an override beats a wholesale row of the same prefix. Pure: plain values.
import { applyMarkup, microsFromDb } from '../money.js';
import type { RateMatch } from '../rating/rate-table.js';

/** A reseller's markup when none was given at its creation: 20% (CONTRACT §4). */
export const DEFAULT_MARKUP_MICRO_PERCENT = 20_000_000n;

/** A reseller's markup from its stored `markup_micro_percent` column (null: the default). */
export const markupOrDefault = (stored: number | string | bigint | null): bigint =>
  stored === null ? DEFAULT_MARKUP_MICRO_PERCENT : microsFromDb(stored);

/** A wholesale match as the reseller's client pays it: both prices marked up, the rest as is. */
export function markedUpMatch(wholesale: RateMatch, markupMicroPercent: bigint): RateMatch {
  return {
    prefix: wholesale.prefix,
    destination: wholesale.destination,
    tariff: {
      ...wholesale.tariff,
      rateMicrosPerMinute: applyMarkup(wholesale.tariff.rateMicrosPerMinute, markupMicroPercent),
      connectChargeMicros: applyMarkup(wholesale.tariff.connectChargeMicros, markupMicroPercent),
    },
  };
}

/**
 * The retail row of a dialled number: the override or the marked-up wholesale match, whichever
 * has the longer prefix (both match the same digits, so the longer one is the more specific);
 * on equal length the override, the reseller's own price.
 */
export function effectiveRetailMatch(override: RateMatch | null, wholesale: RateMatch | null, markupMicroPercent: bigint): RateMatch | null {
  if (override && (!wholesale || override.prefix.length >= wholesale.prefix.length)) return override;
  return wholesale ? markedUpMatch(wholesale, markupMicroPercent) : null;
}
