// A plan's rates in memory for rating: the prefix index over the rows of a RateColumns store
// (rate-columns.ts, the same store the CSV import validates into). Pure: filled by the caller,
// no I/O. A table is typed arrays and one list of destination names, so a loader thread builds
// it and hands it over whole (snapshot(), buffers(), fromSnapshot()) without a copy.
import { RateColumns, type RateColumnsSnapshot, type RateRow } from './rate-columns.js';
import { PrefixIndex, type PrefixIndexSnapshot } from './prefix-index.js';
import type { Tariff } from './tariff.js';

export type { RateRow };

export interface RateMatch {
  prefix: string;
  destination: string;
  tariff: Tariff;
}

export interface RateTableSnapshot {
  index: PrefixIndexSnapshot;
  rows: RateColumnsSnapshot;
}

export class RateTable {
  readonly #index: PrefixIndex;
  readonly #rows: RateColumns;

  constructor(expectedRows = 16, built?: { index: PrefixIndex; rows: RateColumns }) {
    const capacity = Math.max(16, expectedRows);
    this.#index = built?.index ?? new PrefixIndex(capacity);
    this.#rows = built?.rows ?? new RateColumns(capacity);
  }

  /** A table over the buffers of another thread's snapshot(). */
  static fromSnapshot(s: RateTableSnapshot): RateTable {
    return new RateTable(0, { index: PrefixIndex.fromSnapshot(s.index), rows: RateColumns.fromSnapshot(s.rows) });
  }

  snapshot(): RateTableSnapshot {
    return { index: this.#index.snapshot(), rows: this.#rows.snapshot() };
  }

  /** Every buffer of snapshot(): the transfer list that moves the table instead of copying it. */
  buffers(): ArrayBuffer[] {
    return [...this.#index.buffers(), ...this.#rows.buffers()];
  }

  get size(): number {
    return this.#rows.count;
  }

  /** Adds or replaces the row of a prefix. */
  set(row: RateRow): void {
    const i = this.#index.get(row.prefix);
    if (i === -1) this.#index.set(row.prefix, this.#rows.push(row));
    else this.#rows.write(i, row);
  }

  /** Row number of the longest prefix matching the dialled digits, or -1. */
  lookup(digits: string): number {
    return this.#index.longestMatch(digits);
  }

  match(digits: string): RateMatch | null {
    const i = this.#index.longestMatch(digits);
    if (i === -1) return null;
    const rows = this.#rows;
    return {
      prefix: rows.prefixOf(i),
      destination: rows.destinations[rows.destinationId[i]],
      tariff: {
        rateMicrosPerMinute: BigInt(rows.rateMicros[i]),
        connectChargeMicros: BigInt(rows.connectMicros[i]),
        initblockSeconds: rows.blocks[i * 3],
        billingblockSeconds: rows.blocks[i * 3 + 1],
        minimalTimeSeconds: rows.blocks[i * 3 + 2],
      },
    };
  }
}
