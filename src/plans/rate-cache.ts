// Rate tables of plans, loaded into memory for rating and kept current by the plan's
// `rates_version` (bumped in the transaction of every rate change).
//
// No call waits for a load it does not need, and no load holds the event loop:
// - At start every plan with rates is loaded in the background (preload()); `/readyz` answers
//   503 until they all are (readiness()). A call for a plan not loaded yet waits for that
//   plan's load, which goes to the front of the queue; a plan loaded once is never waited for
//   again (short of eviction, below).
// - A change (a newer version asked for) reloads a large plan in the background while the old
//   table keeps rating, and swaps when the new one is built. Small plans (at most
//   INLINE_MAX_ROWS rows, a few milliseconds) reload before answering, so a change applies at once.
// - Large loads run one at a time (plans/rate-loaders.ts: a thread of their own on a SQLite
//   file, small yielding batches on PostgreSQL); a newer version asked for during a plan's load
//   is loaded right after it, never beside it, so memory holds at most one table in the making.
// - The cache is sized in rows, not plans: hundreds of small (reseller) tables cost little, and
//   past the bound the least recently used tables are dropped.
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Db, Trx } from '../db/connect.js';
import { outsideTransaction } from '../db/tx.js';
import type { RateTable } from '../rating/rate-table.js';
import { loadBatched, loadInline, loadInThread, rowCountUpTo, type LoadedTable } from './rate-loaders.js';

/** Plans of at most this many rows load inline (through the caller's connection), before answering. */
export const INLINE_MAX_ROWS = 5_000;
/** Rows held in memory across all tables (about 70 bytes each) before least recently used tables go. */
export const DEFAULT_MAX_CACHED_ROWS = 8_000_000;
/** What an empty or tiny table costs, counted in rows: its fixed arrays. */
const MIN_TABLE_WEIGHT_ROWS = 64;

export interface RateCacheOptions {
  /** SQLite file the load threads open read-only; absent for PostgreSQL and in-memory SQLite. */
  sqliteFile?: string;
  /** Whether `db` is PostgreSQL (loads in yielding batches) rather than SQLite. */
  postgres?: boolean;
  maxCachedRows?: number;
  log?: Logger;
}

export interface RateReadiness {
  ready: boolean;
  /** Plans whose first load is still to finish. */
  loading: number[];
  /** Plans with a table in memory. */
  loaded: number;
}

interface Deferred { promise: Promise<RateTable>; resolve(t: RateTable): void; reject(e: unknown): void }

function deferred(): Deferred {
  let resolve!: (t: RateTable) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<RateTable>((res, rej) => { resolve = res; reject = rej; });
  // A background load nobody awaits must not surface as an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface Entry {
  table: RateTable | null;
  /** Version of `table` (-1 while there is none). */
  version: number;
  /** The newest version asked for. */
  wantedVersion: number;
  /** A queued or running large load, and whether it is running. */
  pending: Deferred | null;
  running: boolean;
  lastUsed: number;
}

export class RateCache {
  readonly #entries = new Map<number, Entry>();
  readonly #queue: number[] = [];
  #running = 0;
  #tick = 0;
  #closed = false;
  /** Plans the preload has still to load; null until it has listed them. */
  #preloading: Set<number> | null = null;
  readonly #threads = new Set<Worker>();
  readonly #opts: RateCacheOptions;
  readonly #maxRows: number;

  constructor(private readonly db: Db, opts: RateCacheOptions = {}) {
    this.#opts = opts;
    this.#maxRows = opts.maxCachedRows ?? DEFAULT_MAX_CACHED_ROWS;
  }

  /**
   * The plan's rate table at `version` (or newer); for large plans a stale one while reloading.
   * `db` is the caller's transaction, if any: a small plan is read through it (on SQLite the
   * transaction holds the only connection, so reading beside it would wait for itself).
   */
  async table(planId: number, version: number, db: Db | Trx = this.db): Promise<RateTable> {
    const entry = this.#entries.get(planId);
    if (entry?.table) {
      entry.lastUsed = ++this.#tick;
      if (entry.version >= version) return entry.table;
      if (entry.wantedVersion < version) entry.wantedVersion = version;
      // Stale. A load in flight (or a large plan) swaps the new table in when built; until then the old one rates.
      if (entry.pending || entry.table.size > INLINE_MAX_ROWS) {
        this.#enqueue(planId, entry, false);
        return entry.table;
      }
    }
    if (entry?.pending && !entry.table) {
      // Never loaded, and already queued (the preload): to the front of the queue, and wait.
      this.#prioritize(planId);
      return entry.pending.promise;
    }
    return this.#loadNow(planId, version, db, true);
  }

  /**
   * First load, or reload of a small plan: inline when small, else through the queue (first in
   * line when a call waits for it, in turn for the preload).
   */
  async #loadNow(planId: number, version: number, db: Db | Trx, first: boolean): Promise<RateTable> {
    const inlineOnly = !this.#opts.sqliteFile && !this.#opts.postgres;
    if (!inlineOnly && await rowCountUpTo(db, planId, INLINE_MAX_ROWS) > INLINE_MAX_ROWS) {
      const entry = this.#entry(planId);
      if (entry.wantedVersion < version) entry.wantedVersion = version;
      if (entry.table) {
        // It grew past the inline bound: the current table rates while the new one loads.
        this.#enqueue(planId, entry, false);
        return entry.table;
      }
      this.#enqueue(planId, entry, first);
      return entry.pending!.promise;
    }
    const started = performance.now();
    const loaded = await loadInline(db, planId);
    this.#install(planId, loaded, 'inline', started);
    return loaded.table;
  }

  #entry(planId: number): Entry {
    let entry = this.#entries.get(planId);
    if (!entry) {
      entry = { table: null, version: -1, wantedVersion: 0, pending: null, running: false, lastUsed: ++this.#tick };
      this.#entries.set(planId, entry);
    }
    return entry;
  }

  #enqueue(planId: number, entry: Entry, first: boolean): void {
    if (this.#closed) return;
    if (!entry.pending) {
      entry.pending = deferred();
      this.#queue.push(planId);
    }
    if (first) this.#prioritize(planId);
    this.#pump();
  }

  #prioritize(planId: number): void {
    const at = this.#queue.indexOf(planId);
    if (at > 0) {
      this.#queue.splice(at, 1);
      this.#queue.unshift(planId);
    }
  }

  /** Runs queued large loads, one at a time. */
  #pump(): void {
    while (this.#running < 1 && this.#queue.length > 0 && !this.#closed) {
      const planId = this.#queue.shift()!;
      const entry = this.#entries.get(planId);
      if (!entry?.pending) continue;
      entry.running = true;
      this.#running++;
      const started = performance.now();
      // Not awaited by anyone's transaction: its queries (PostgreSQL) must not count as inside one.
      void outsideTransaction(() => this.#loadLarge(planId)).then(
        (loaded) => {
          const done = entry.pending!;
          entry.pending = null;
          entry.running = false;
          this.#install(planId, loaded, this.#opts.sqliteFile ? 'thread' : 'batches', started);
          done.resolve(entry.table!);
          // Asked for something newer meanwhile: load again, right after.
          if (entry.wantedVersion > entry.version) this.#enqueue(planId, entry, false);
        },
        (err: unknown) => {
          const done = entry.pending!;
          entry.pending = null;
          entry.running = false;
          if (!this.#closed) this.#opts.log?.error({ err, planId }, 'rate table load failed');
          done.reject(err);
          if (!entry.table && this.#entries.get(planId) === entry) this.#entries.delete(planId);
          this.#preloading?.delete(planId);
        },
      ).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  #loadLarge(planId: number): Promise<LoadedTable> {
    if (this.#opts.sqliteFile) {
      return loadInThread(this.#opts.sqliteFile, planId, (thread) => {
        this.#threads.add(thread);
        thread.once('exit', () => this.#threads.delete(thread));
      });
    }
    if (this.#opts.postgres) return loadBatched(this.db, planId);
    return loadInline(this.db, planId);
  }

  #install(planId: number, loaded: LoadedTable, via: string, started: number): void {
    const entry = this.#entry(planId);
    if (entry.table && entry.version > loaded.version) return;
    entry.table = loaded.table;
    entry.version = loaded.version;
    entry.lastUsed = ++this.#tick;
    this.#preloading?.delete(planId);
    if (loaded.table.size > INLINE_MAX_ROWS) {
      this.#opts.log?.info({ planId, rows: loaded.table.size, version: loaded.version, via, ms: Math.round(performance.now() - started) }, 'rate table loaded');
    }
    this.#evict(planId);
  }

  /** Drops least recently used tables (never one loading, never the one just installed) past the row bound. */
  #evict(keep: number): void {
    let total = 0;
    for (const e of this.#entries.values()) if (e.table) total += Math.max(MIN_TABLE_WEIGHT_ROWS, e.table.size);
    while (total > this.#maxRows) {
      let victim: number | null = null;
      let oldest = Infinity;
      for (const [id, e] of this.#entries) {
        if (id === keep || !e.table || e.pending || e.lastUsed >= oldest) continue;
        victim = id;
        oldest = e.lastUsed;
      }
      if (victim === null) return;
      const e = this.#entries.get(victim)!;
      total -= Math.max(MIN_TABLE_WEIGHT_ROWS, e.table!.size);
      this.#entries.delete(victim);
      this.#opts.log?.warn({ planId: victim, rows: e.table!.size, maxCachedRows: this.#maxRows }, 'rate table evicted: the cache is at its row bound');
    }
  }

  /**
   * Loads every plan that has rates, in id order, in the background: small ones inline between
   * turns of the event loop, large ones through the queue. Resolves when all are loaded.
   */
  async preload(): Promise<void> {
    const plans = await this.db.selectFrom('plans').select('id')
      .where((eb) => eb.exists(eb.selectFrom('rates').select('rates.id').whereRef('rates.plan_id', '=', 'plans.id')))
      .orderBy('id').execute();
    const ids = plans.map((p) => Number(p.id));
    this.#preloading = new Set(ids.filter((id) => !this.#entries.get(id)?.table));
    const waits: Promise<unknown>[] = [];
    for (const planId of ids) {
      if (this.#closed) return;
      const entry = this.#entries.get(planId);
      if (entry?.table) continue;
      if (entry?.pending) {
        waits.push(entry.pending.promise);
        continue;
      }
      waits.push(this.#loadNow(planId, 0, this.db, false).catch(() => {}));
      // Small plans load inline: one at a time, each in its own turn of the event loop.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(waits);
  }

  readiness(): RateReadiness {
    const loaded = [...this.#entries.values()].filter((e) => e.table).length;
    if (!this.#preloading) return { ready: false, loading: [], loaded };
    const loading = [...this.#preloading].sort((a, b) => a - b);
    return { ready: loading.length === 0, loading, loaded };
  }

  /** Stops loading (on shutdown): nothing more starts, a running load thread is ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    await Promise.all([...this.#threads].map((t) => t.terminate()));
  }
}
