// Rate rows in compact columns: typed arrays for the numbers and the prefixes (value and digit
// count, so "0044" stays itself), destination names interned. The one store of a plan's rates
// in memory, shared by rating (RateTable) and the CSV import (plans/csv-rows.ts): a million rows
// take about 40 MB and no string per row, so a table built in a loader thread moves to the
// server's thread by handing over its buffers (snapshot()/fromSnapshot()). Pure: no I/O.
//
// Money is integer micro-units in doubles, exact below 2^53 micros (every tariff amount is).
import { MAX_PREFIX_DIGITS } from './prefix-index.js';

export interface RateRow {
  prefix: string;
  destination: string;
  rateMicros: number;
  connectChargeMicros: number;
  initblock: number;
  billingblock: number;
  minimalTime: number;
}

/** The columns as plain data: what crosses a thread boundary (the buffers are transferred, not copied). */
export interface RateColumnsSnapshot {
  count: number;
  destinations: string[];
  prefixValue: Float64Array;
  prefixLength: Uint8Array;
  destinationId: Int32Array;
  rateMicros: Float64Array;
  connectMicros: Float64Array;
  blocks: Int32Array;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The digits of a prefix stored as (value, digit count): leading zeros come back. */
export function prefixText(value: number, length: number): string {
  const s = String(value);
  return s.length >= length ? s : '0'.repeat(length - s.length) + s;
}

export class RateColumns {
  count = 0;
  readonly destinations: string[] = [];
  readonly #destinationIds = new Map<string, number>();
  /** The prefix of each row as a number, and its digit count. */
  prefixValue: Float64Array;
  prefixLength: Uint8Array;
  /** Index into `destinations` per row. */
  destinationId: Int32Array;
  rateMicros: Float64Array;
  connectMicros: Float64Array;
  /** initblock, billingblock, minimal_time per row. */
  blocks: Int32Array;

  constructor(expectedRows = 16) {
    const n = Math.max(16, expectedRows);
    this.prefixValue = new Float64Array(n);
    this.prefixLength = new Uint8Array(n);
    this.destinationId = new Int32Array(n);
    this.rateMicros = new Float64Array(n);
    this.connectMicros = new Float64Array(n);
    this.blocks = new Int32Array(n * 3);
  }

  /** Columns over buffers built elsewhere (a loader thread); they are used as they are, not copied. */
  static fromSnapshot(s: RateColumnsSnapshot): RateColumns {
    const c = new RateColumns(0);
    c.count = s.count;
    c.prefixValue = s.prefixValue;
    c.prefixLength = s.prefixLength;
    c.destinationId = s.destinationId;
    c.rateMicros = s.rateMicros;
    c.connectMicros = s.connectMicros;
    c.blocks = s.blocks;
    for (const d of s.destinations) c.#intern(d);
    return c;
  }

  snapshot(): RateColumnsSnapshot {
    return {
      count: this.count, destinations: this.destinations, prefixValue: this.prefixValue, prefixLength: this.prefixLength,
      destinationId: this.destinationId, rateMicros: this.rateMicros, connectMicros: this.connectMicros, blocks: this.blocks,
    };
  }

  /** The buffers of snapshot(), for a transfer list. */
  buffers(): ArrayBuffer[] {
    return [this.prefixValue, this.prefixLength, this.destinationId, this.rateMicros, this.connectMicros, this.blocks]
      .map((a) => a.buffer as ArrayBuffer);
  }

  /** Appends a row; answers its row number. */
  push(row: RateRow): number {
    const i = this.count++;
    if (i >= this.rateMicros.length) this.#grow();
    this.prefixValue[i] = Number(row.prefix);
    this.prefixLength[i] = row.prefix.length;
    this.write(i, row);
    return i;
  }

  #intern(destination: string): number {
    let d = this.#destinationIds.get(destination);
    if (d === undefined) {
      d = this.destinations.length;
      this.destinations.push(destination);
      this.#destinationIds.set(destination, d);
    }
    return d;
  }

  /** Replaces the tariff and destination of row `i` (its prefix stays). */
  write(i: number, row: RateRow): void {
    this.destinationId[i] = this.#intern(row.destination);
    this.rateMicros[i] = row.rateMicros;
    this.connectMicros[i] = row.connectChargeMicros;
    this.blocks[i * 3] = row.initblock;
    this.blocks[i * 3 + 1] = row.billingblock;
    this.blocks[i * 3 + 2] = row.minimalTime;
  }

  prefixOf(i: number): string {
    return prefixText(this.prefixValue[i], this.prefixLength[i]);
  }

  destinationOf(i: number): string {
    return this.destinations[this.destinationId[i]];
  }

  /** Row numbers in prefix order (as text sorts, the order of the (plan_id, prefix) index). */
  prefixOrder(): Uint32Array {
    const n = this.count;
    // Digit strings compare like their values padded right to 15 digits, the shorter first on a tie.
    const key = new Float64Array(n);
    const len = this.prefixLength;
    for (let i = 0; i < n; i++) key[i] = this.prefixValue[i] * POW10[MAX_PREFIX_DIGITS - len[i]];
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => (key[a] - key[b]) || (len[a] - len[b]));
  }

  #grow(): void {
    const n = this.rateMicros.length * 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(old: T, size: number): T => {
      const next = new (old.constructor as new (len: number) => T)(size);
      next.set(old as never);
      return next;
    };
    this.prefixValue = grow(this.prefixValue, n);
    this.prefixLength = grow(this.prefixLength, n);
    this.destinationId = grow(this.destinationId, n);
    this.rateMicros = grow(this.rateMicros, n);
    this.connectMicros = grow(this.connectMicros, n);
    this.blocks = grow(this.blocks, n * 3);
  }
}
