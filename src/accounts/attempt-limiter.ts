// Limits failed password (and voucher) attempts per login and per address: a fixed window
// counter in a bounded map, so a flood of distinct keys cannot grow memory without limit.

export interface LimiterOptions {
  maxFailures: number;
  windowMs: number;
  maxKeys: number;
}

export class AttemptLimiter {
  readonly #failures = new Map<string, { count: number; resetAt: number }>();
  constructor(readonly options: LimiterOptions = { maxFailures: 5, windowMs: 15 * 60_000, maxKeys: 100_000 }) {}

  /** True when any of the keys has used up its failures in the current window. */
  isBlocked(keys: string[], now = Date.now()): boolean {
    return keys.some((k) => {
      const entry = this.#failures.get(k);
      return entry !== undefined && entry.resetAt > now && entry.count >= this.options.maxFailures;
    });
  }

  recordFailure(keys: string[], now = Date.now()): void {
    for (const k of keys) {
      const entry = this.#failures.get(k);
      if (entry && entry.resetAt > now) {
        entry.count += 1;
        continue;
      }
      if (this.#failures.size >= this.options.maxKeys) this.#evict(now);
      this.#failures.set(k, { count: 1, resetAt: now + this.options.windowMs });
    }
  }

  /**
   * Counts an attempt as failed before it is checked, so concurrent attempts cannot outrun the
   * limit while a slow check is in flight. False (and nothing counted) when already blocked.
   * Take the count back with `forgive` when the attempt turns out to succeed.
   */
  tryAttempt(keys: string[], now = Date.now()): boolean {
    if (this.isBlocked(keys, now)) return false;
    this.recordFailure(keys, now);
    return true;
  }

  /** Takes back one failure counted by `tryAttempt`. */
  forgive(keys: string[], now = Date.now()): void {
    for (const k of keys) {
      const entry = this.#failures.get(k);
      if (!entry || entry.resetAt <= now) continue;
      entry.count -= 1;
      if (entry.count <= 0) this.#failures.delete(k);
    }
  }

  /** A success clears the login's counter (not the address's: one address may try many logins). */
  recordSuccess(key: string): void {
    this.#failures.delete(key);
  }

  #evict(now: number): void {
    for (const [k, v] of this.#failures) if (v.resetAt <= now) this.#failures.delete(k);
    // Still full: drop the oldest entries (Map keeps insertion order).
    const excess = this.#failures.size - Math.floor(this.options.maxKeys * 0.9);
    if (excess > 0) {
      let dropped = 0;
      for (const k of this.#failures.keys()) {
        if (dropped++ >= excess) break;
        this.#failures.delete(k);
      }
    }
  }
}
