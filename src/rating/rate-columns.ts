// Rate rows in compact columns: typed arrays for the numbers, destination names interned. The
// one store of a plan's rates in memory, shared by rating (RateTable) and the CSV import
// (plans/csv-rows.ts): a million rows take well under 100 MB. Pure: no I/O.
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

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

export class RateColumns {
  count = 0;
  readonly prefixes: string[] = [];
  readonly destinations: string[] = [];
  readonly #destinationIds = new Map<string, number>();
  /** Index into `destinations` per row. */
  destinationId: Int32Array;
  rateMicros: Float64Array;
  connectMicros: Float64Array;
  /** initblock, billingblock, minimal_time per row. */
  blocks: Int32Array;

  constructor(expectedRows = 16) {
    const n = Math.max(16, expectedRows);
    this.destinationId = new Int32Array(n);
    this.rateMicros = new Float64Array(n);
    this.connectMicros = new Float64Array(n);
    this.blocks = new Int32Array(n * 3);
  }

  /** Appends a row; answers its row number. */
  push(row: RateRow): number {
    const i = this.count++;
    if (i >= this.rateMicros.length) this.#grow();
    this.prefixes.push(row.prefix);
    this.write(i, row);
    return i;
  }

  /** Replaces the tariff and destination of row `i` (its prefix stays). */
  write(i: number, row: RateRow): void {
    let d = this.#destinationIds.get(row.destination);
    if (d === undefined) {
      d = this.destinations.length;
      this.destinations.push(row.destination);
      this.#destinationIds.set(row.destination, d);
    }
    this.destinationId[i] = d;
    this.rateMicros[i] = row.rateMicros;
    this.connectMicros[i] = row.connectChargeMicros;
    this.blocks[i * 3] = row.initblock;
    this.blocks[i * 3 + 1] = row.billingblock;
    this.blocks[i * 3 + 2] = row.minimalTime;
  }

  destinationOf(i: number): string {
    return this.destinations[this.destinationId[i]];
  }

  /** Row numbers in prefix order (as text sorts, the order of the (plan_id, prefix) index). */
  prefixOrder(): Uint32Array {
    const n = this.count;
    // Digit strings compare like their values padded right to 15 digits, the shorter first on a tie.
    const key = new Float64Array(n);
    const len = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = this.prefixes[i];
      len[i] = p.length;
      key[i] = Number(p) * POW10[MAX_PREFIX_DIGITS - p.length];
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => (key[a] - key[b]) || (len[a] - len[b]));
  }

  #grow(): void {
    const n = this.rateMicros.length * 2;
    const grow = <T extends Int32Array | Float64Array>(old: T, size: number): T => {
      const next = new (old.constructor as new (len: number) => T)(size);
      next.set(old as never);
      return next;
    };
    this.destinationId = grow(this.destinationId, n);
    this.rateMicros = grow(this.rateMicros, n);
    this.connectMicros = grow(this.connectMicros, n);
    this.blocks = grow(this.blocks, n * 3);
  }
}
