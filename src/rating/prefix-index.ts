// Longest-prefix match over a plan's rates, built for a million prefixes: an open-addressing
// hash table in typed arrays keyed by (numeric prefix value, prefix length). A lookup walks
// the dialled digits once and probes only the prefix lengths the plan has, longest first.
// Pure: no I/O.

/** Prefixes up to 15 digits (E.164 maximum) keep every key an exact double. */
export const MAX_PREFIX_DIGITS = 15;
const POW10_MAX = 10 ** MAX_PREFIX_DIGITS;

/** The index as plain data: what crosses a thread boundary (the buffers are transferred, not copied). */
export interface PrefixIndexSnapshot {
  keys: Float64Array;
  lengths: Uint8Array;
  values: Int32Array;
  size: number;
  lengthsPresent: number;
  maxLength: number;
}

export class PrefixIndex {
  #keys: Float64Array;
  #lengths: Uint8Array;
  #values: Int32Array;
  #mask: number;
  #size = 0;
  /** Bit L set when some prefix has L digits. */
  #lengthsPresent = 0;
  #maxLength = 0;

  constructor(expectedEntries = 16) {
    let capacity = 16;
    while (capacity < expectedEntries * 2) capacity *= 2;
    this.#keys = new Float64Array(capacity);
    this.#lengths = new Uint8Array(capacity);
    this.#values = new Int32Array(capacity);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** An index over buffers built elsewhere (a loader thread), used as they are. */
  static fromSnapshot(s: PrefixIndexSnapshot): PrefixIndex {
    const index = new PrefixIndex(0);
    index.#keys = s.keys;
    index.#lengths = s.lengths;
    index.#values = s.values;
    index.#mask = s.keys.length - 1;
    index.#size = s.size;
    index.#lengthsPresent = s.lengthsPresent;
    index.#maxLength = s.maxLength;
    return index;
  }

  snapshot(): PrefixIndexSnapshot {
    return {
      keys: this.#keys, lengths: this.#lengths, values: this.#values,
      size: this.#size, lengthsPresent: this.#lengthsPresent, maxLength: this.#maxLength,
    };
  }

  /** The buffers of snapshot(), for a transfer list. */
  buffers(): ArrayBuffer[] {
    return [this.#keys.buffer as ArrayBuffer, this.#lengths.buffer as ArrayBuffer, this.#values.buffer as ArrayBuffer];
  }

  /** Sets the value of a prefix given as (numeric value, digit count), as set() does for its text. */
  setNumeric(key: number, len: number, value: number): void {
    if (!(len >= 1 && len <= MAX_PREFIX_DIGITS) || !Number.isInteger(key) || key < 0 || key >= POW10_MAX) {
      throw new RangeError(`prefix must be 1-${MAX_PREFIX_DIGITS} digits: ${key}/${len}`);
    }
    this.#insert(key, len, value, true);
  }

  /** The value stored for exactly (numeric value, digit count), or -1. */
  getNumeric(key: number, len: number): number {
    return this.#probe(key, len);
  }

  static #hash(value: number, length: number): number {
    const lo = value >>> 0;
    const hi = (value / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1) ^ length, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  static #parse(prefix: string): number {
    if (prefix.length === 0 || prefix.length > MAX_PREFIX_DIGITS || !/^\d+$/.test(prefix)) {
      throw new RangeError(`prefix must be 1-${MAX_PREFIX_DIGITS} digits: "${prefix}"`);
    }
    return Number(prefix);
  }

  /** Sets (or replaces) the value of a prefix. */
  set(prefix: string, value: number): void {
    this.#store(prefix, value, true);
  }

  /** Stores the value unless the prefix is present; returns the value already stored, or -1 when it stored this one. */
  setIfAbsent(prefix: string, value: number): number {
    return this.#store(prefix, value, false);
  }

  /** Inserts, or finds the prefix and (when `replace`) overwrites it; returns the previous value or -1. */
  #store(prefix: string, value: number, replace: boolean): number {
    return this.#insert(PrefixIndex.#parse(prefix), prefix.length, value, replace);
  }

  #insert(key: number, len: number, value: number, replace: boolean): number {
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow();
    let slot = PrefixIndex.#hash(key, len) & this.#mask;
    for (;;) {
      const l = this.#lengths[slot];
      if (l === 0) {
        this.#keys[slot] = key;
        this.#lengths[slot] = len;
        this.#values[slot] = value;
        this.#size++;
        this.#lengthsPresent |= 1 << len;
        if (len > this.#maxLength) this.#maxLength = len;
        return -1;
      }
      if (l === len && this.#keys[slot] === key) {
        const previous = this.#values[slot];
        if (replace) this.#values[slot] = value;
        return previous;
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  /** The value stored for exactly this prefix, or -1. */
  get(prefix: string): number {
    return this.#probe(PrefixIndex.#parse(prefix), prefix.length);
  }

  #probe(key: number, len: number): number {
    let slot = PrefixIndex.#hash(key, len) & this.#mask;
    for (;;) {
      const l = this.#lengths[slot];
      if (l === 0) return -1;
      if (l === len && this.#keys[slot] === key) return this.#values[slot];
      slot = (slot + 1) & this.#mask;
    }
  }

  /** The value of the longest prefix of `digits`, or -1 when none matches. */
  longestMatch(digits: string): number {
    const n = Math.min(digits.length, this.#maxLength);
    // Prefix values of every length, computed in one pass over the digits.
    const prefixValues = PREFIX_SCRATCH;
    let value = 0;
    for (let i = 0; i < n; i++) {
      const d = digits.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      value = value * 10 + d;
      prefixValues[i + 1] = value;
    }
    for (let len = n; len >= 1; len--) {
      if ((this.#lengthsPresent & (1 << len)) === 0) continue;
      const found = this.#probe(prefixValues[len], len);
      if (found !== -1) return found;
    }
    return -1;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldLengths = this.#lengths;
    const oldValues = this.#values;
    const capacity = oldKeys.length * 2;
    this.#keys = new Float64Array(capacity);
    this.#lengths = new Uint8Array(capacity);
    this.#values = new Int32Array(capacity);
    this.#mask = capacity - 1;
    this.#size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const len = oldLengths[i];
      if (len === 0) continue;
      let slot = PrefixIndex.#hash(oldKeys[i], len) & this.#mask;
      while (this.#lengths[slot] !== 0) slot = (slot + 1) & this.#mask;
      this.#keys[slot] = oldKeys[i];
      this.#lengths[slot] = len;
      this.#values[slot] = oldValues[i];
      this.#size++;
    }
  }
}

const PREFIX_SCRATCH = new Float64Array(MAX_PREFIX_DIGITS + 1);
