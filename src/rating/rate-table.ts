// A plan's rates in memory for rating: the prefix index plus the tariff of each row in typed
// arrays (a million rows in well under 100 MB). Pure: filled by the caller, no I/O.
import { PrefixIndex } from './prefix-index.js';
import type { Tariff } from './tariff.js';

export interface RateRow {
  prefix: string;
  destination: string;
  rateMicros: number;
  connectChargeMicros: number;
  initblock: number;
  billingblock: number;
  minimalTime: number;
}

export interface RateMatch {
  prefix: string;
  destination: string;
  tariff: Tariff;
}

export class RateTable {
  readonly #index: PrefixIndex;
  #count = 0;
  #prefixes: string[] = [];
  #rate: Float64Array;
  #connect: Float64Array;
  #blocks: Int32Array; // initblock, billingblock, minimal_time per row
  #destinationIds: Int32Array;
  readonly #destinations: string[] = [];
  readonly #destinationIds_byName = new Map<string, number>();

  constructor(expectedRows = 16) {
    const capacity = Math.max(16, expectedRows);
    this.#index = new PrefixIndex(capacity);
    this.#rate = new Float64Array(capacity);
    this.#connect = new Float64Array(capacity);
    this.#blocks = new Int32Array(capacity * 3);
    this.#destinationIds = new Int32Array(capacity);
  }

  get size(): number {
    return this.#count;
  }

  /** Adds or replaces the row of a prefix. */
  set(row: RateRow): void {
    let i = this.#index.get(row.prefix);
    if (i === -1) {
      i = this.#count++;
      if (i >= this.#rate.length) this.#grow();
      this.#index.set(row.prefix, i);
      this.#prefixes[i] = row.prefix;
    }
    let destinationId = this.#destinationIds_byName.get(row.destination);
    if (destinationId === undefined) {
      destinationId = this.#destinations.length;
      this.#destinations.push(row.destination);
      this.#destinationIds_byName.set(row.destination, destinationId);
    }
    this.#rate[i] = row.rateMicros;
    this.#connect[i] = row.connectChargeMicros;
    this.#blocks[i * 3] = row.initblock;
    this.#blocks[i * 3 + 1] = row.billingblock;
    this.#blocks[i * 3 + 2] = row.minimalTime;
    this.#destinationIds[i] = destinationId;
  }

  /** Row number of the longest prefix matching the dialled digits, or -1. */
  lookup(digits: string): number {
    return this.#index.longestMatch(digits);
  }

  match(digits: string): RateMatch | null {
    const i = this.#index.longestMatch(digits);
    if (i === -1) return null;
    return {
      prefix: this.#prefixes[i],
      destination: this.#destinations[this.#destinationIds[i]],
      tariff: {
        rateMicrosPerMinute: BigInt(this.#rate[i]),
        connectChargeMicros: BigInt(this.#connect[i]),
        initblockSeconds: this.#blocks[i * 3],
        billingblockSeconds: this.#blocks[i * 3 + 1],
        minimalTimeSeconds: this.#blocks[i * 3 + 2],
      },
    };
  }

  #grow(): void {
    const capacity = this.#rate.length * 2;
    const grow = <T extends Float64Array | Int32Array>(old: T, size: number): T => {
      const next = new (old.constructor as new (n: number) => T)(size);
      next.set(old);
      return next;
    };
    this.#rate = grow(this.#rate, capacity);
    this.#connect = grow(this.#connect, capacity);
    this.#blocks = grow(this.#blocks, capacity * 3);
    this.#destinationIds = grow(this.#destinationIds, capacity);
  }
}
