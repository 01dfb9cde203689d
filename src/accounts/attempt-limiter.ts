// Limits failed password (and voucher) attempts per login and per address (CONTRACT §3): a
// fixed window of `maxFailures` per key. An attempt is counted before it is checked, so a burst
// of concurrent guesses cannot outrun the limit while slow checks are in flight; a success takes
// its count back.
//
// Two stores: in memory for SQLite, where one server process owns the database; and a table
// for PostgreSQL, where several instances share the database and must share the count, else
// each of N instances would allow its own five guesses.
import type pg from 'pg';

export interface LimiterOptions {
  maxFailures: number;
  windowMs: number;
  /** Memory store: keys kept at most, so a flood of distinct keys cannot grow memory without limit. */
  maxKeys: number;
}

export const DEFAULT_LIMITS: LimiterOptions = { maxFailures: 5, windowMs: 15 * 60_000, maxKeys: 100_000 };

export interface AttemptLimiter {
  /** True when any of the keys has used up its failures in the current window. */
  isBlocked(keys: string[]): Promise<boolean>;
  /** Counts a failure that was found out (for checks that are serialized by other means). */
  recordFailure(keys: string[]): Promise<void>;
  /**
   * Counts an attempt as failed before it is checked. False (and nothing counted) when any of
   * the keys has used up its failures in the current window.
   */
  tryAttempt(keys: string[]): Promise<boolean>;
  /** Takes back one failure counted by `tryAttempt` (the attempt succeeded, or was not a guess). */
  forgive(keys: string[]): Promise<void>;
  /** A success clears the login's counter (not the address's: one address may try many logins). */
  clear(key: string): Promise<void>;
}

export class MemoryAttemptLimiter implements AttemptLimiter {
  readonly #failures = new Map<string, { count: number; resetAt: number }>();
  constructor(readonly options: LimiterOptions = DEFAULT_LIMITS, private readonly now: () => number = Date.now) {}

  async isBlocked(keys: string[]): Promise<boolean> {
    return this.#blocked(keys, this.now());
  }

  async recordFailure(keys: string[]): Promise<void> {
    this.#count(keys, this.now());
  }

  async tryAttempt(keys: string[]): Promise<boolean> {
    const now = this.now();
    if (this.#blocked(keys, now)) return false;
    this.#count(keys, now);
    return true;
  }

  #blocked(keys: string[], now: number): boolean {
    return keys.some((k) => {
      const entry = this.#failures.get(k);
      return entry !== undefined && entry.resetAt > now && entry.count >= this.options.maxFailures;
    });
  }

  #count(keys: string[], now: number): void {
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

  async forgive(keys: string[]): Promise<void> {
    const now = this.now();
    for (const k of keys) {
      const entry = this.#failures.get(k);
      if (!entry || entry.resetAt <= now) continue;
      entry.count -= 1;
      if (entry.count <= 0) this.#failures.delete(k);
    }
  }

  async clear(key: string): Promise<void> {
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

// One statement counts the attempt on every key atomically: concurrent attempts on any instance
// each see their own count, so exactly `maxFailures` of them pass in a window.
const COUNT_ATTEMPT = `
  insert into attempt_counters (key, failures, reset_at_ms)
  select k, 1, $2::bigint + $3::bigint from unnest($1::text[]) as k
  on conflict (key) do update set
    failures = case when attempt_counters.reset_at_ms <= $2::bigint then 1 else attempt_counters.failures + 1 end,
    reset_at_ms = case when attempt_counters.reset_at_ms <= $2::bigint then excluded.reset_at_ms else attempt_counters.reset_at_ms end
  returning failures`;
const FORGIVE = `update attempt_counters set failures = failures - 1
  where key = any($1::text[]) and reset_at_ms > $2::bigint and failures > 0`;
const BLOCKED = `select 1 from attempt_counters
  where key = any($1::text[]) and reset_at_ms > $2::bigint and failures >= $3::int limit 1`;
const CLEAR = 'delete from attempt_counters where key = $1';
const SWEEP = 'delete from attempt_counters where reset_at_ms <= $1::bigint';

/**
 * PostgreSQL store. Its statements commit on their own, on a pool of their own: a failed
 * attempt must stay counted when the request's transaction rolls back, and a request holding a
 * connection of the main pool must never wait for another one to count.
 */
export class SharedAttemptLimiter implements AttemptLimiter {
  #lastSweepMs = 0;
  constructor(
    private readonly pool: pg.Pool,
    /** Reports a failed take-back: it runs after the request's work, which must not fail for it. */
    private readonly onError: (err: unknown) => void,
    readonly options: LimiterOptions = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  async isBlocked(keys: string[]): Promise<boolean> {
    const { rowCount } = await this.pool.query(BLOCKED, [keys, this.now(), this.options.maxFailures]);
    return (rowCount ?? 0) > 0;
  }

  async recordFailure(keys: string[]): Promise<void> {
    const now = this.now();
    await this.#sweep(now);
    await this.pool.query(COUNT_ATTEMPT, [keys, now, this.options.windowMs]);
  }

  async tryAttempt(keys: string[]): Promise<boolean> {
    const now = this.now();
    await this.#sweep(now);
    const { rows } = await this.pool.query<{ failures: number }>(COUNT_ATTEMPT, [keys, now, this.options.windowMs]);
    if (rows.every((r) => r.failures <= this.options.maxFailures)) return true;
    // Over the limit: this attempt is refused, so it takes its count back.
    await this.forgive(keys);
    return false;
  }

  // Take-backs are best effort: one lost leaves the limit stricter by one until the window ends.
  async forgive(keys: string[]): Promise<void> {
    await this.pool.query(FORGIVE, [keys, this.now()]).catch(this.onError);
  }

  async clear(key: string): Promise<void> {
    await this.pool.query(CLEAR, [key]).catch(this.onError);
  }

  /** Expired counters are deleted at most once a minute per instance; the table stays small. */
  async #sweep(now: number): Promise<void> {
    if (now - this.#lastSweepMs < 60_000) return;
    this.#lastSweepMs = now;
    await this.pool.query(SWEEP, [now]);
  }
}
