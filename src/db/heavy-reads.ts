// Long or heavy reads (history pages, reports, ledger verification): the way list and report
// queries are run, so that they are kept off the event loop that serves the switch.
// better-sqlite3 runs a query on the thread that calls it: a 250 ms history page run there
// stops every authorize and CDR for 250 ms. So on a SQLite file a heavy read is compiled here
// and run by a small pool of worker threads, each with its own read-only connection
// (read-workers.ts); on PostgreSQL, where queries are already asynchronous, on a few connections
// of their own, so reports can never take the connections the switch path needs. Both are
// bounded: a fixed number run at once, a bounded number wait (beyond: OVERLOADED), and each has
// a deadline. An in-memory SQLite database cannot be shared between threads: its reads run in
// place (InlineReads). A query given here is only ever read, never written, and it sees
// committed data only, which is why it must be built on the base database, never on a
// transaction.
import type { CompiledQuery } from 'kysely';
import type pg from 'pg';
import { OverloadedError } from '../errors.js';
import { heavyReadSeconds, heavyReadsRefused } from '../metrics.js';

/** A Kysely select, before it runs. */
export interface ReadQuery<R> {
  compile(): CompiledQuery<R>;
  execute(): Promise<R[]>;
}

export interface HeavyReads {
  /** The rows of a read-only query built on the base database (never on a transaction). */
  all<R>(query: ReadQuery<R>): Promise<R[]>;
  close(): Promise<void>;
}

export interface HeavyReadLimits {
  /** Reads running at once: worker threads on SQLite, connections on PostgreSQL (HEAVY_READ_WORKERS). */
  concurrency: number;
  /** Reads waiting for one of those; a read beyond is refused OVERLOADED (HEAVY_READ_QUEUE). */
  maxQueued: number;
  /** From its arrival: a read not answered by then is stopped and answered OVERLOADED (HEAVY_READ_TIMEOUT_SECONDS). */
  timeoutMs: number;
}

export const DEFAULT_HEAVY_READ_LIMITS: HeavyReadLimits = { concurrency: 2, maxQueued: 64, timeoutMs: 30_000 };

export class InlineReads implements HeavyReads {
  all<R>(query: ReadQuery<R>): Promise<R[]> {
    return query.execute();
  }

  async close(): Promise<void> {}
}

/** A read that was given up on: every edge answers it 503 OVERLOADED, which says "retry later". */
export const tooManyReads = () => new OverloadedError('Too many reports and history pages are being read at once; retry shortly');
export const readTimedOut = (timeoutMs: number) => new OverloadedError(
  `The read did not finish within ${timeoutMs / 1000} s and was stopped; ask for less (a smaller page, or the next page by its cursor) or retry later`,
);

interface Waiter {
  start(): void;
  /** Answers the caller without running (the database is closing). */
  refuse(err: unknown): void;
  cancelled: boolean;
}

/**
 * A fixed number of slots for reads, a bounded wait for one, and a deadline per read counted
 * from its arrival (a read that waited long has less time to run: its caller is waiting too).
 */
export class ReadSlots {
  #free: number;
  #waiters: Waiter[] = [];
  #waiting = 0;
  #closed = false;

  constructor(private readonly limits: HeavyReadLimits) {
    this.#free = limits.concurrency;
  }

  /** Reads running now (for tests and metrics). */
  get running(): number {
    return this.limits.concurrency - this.#free;
  }

  /**
   * Runs `work` in a free slot. `onTimeout` registers how to stop the work if the deadline
   * passes while it runs; the caller is answered at the deadline in any case, and the slot is
   * free again once the work has settled.
   */
  run<R>(work: (onTimeout: (stop: () => void) => void) => Promise<R>): Promise<R> {
    if (this.#closed) return Promise.reject(new Error('the database is closing'));
    if (this.#free === 0 && this.#waiting >= this.limits.maxQueued) {
      heavyReadsRefused.inc({ reason: 'queue_full' });
      return Promise.reject(tooManyReads());
    }
    const endTimer = heavyReadSeconds.startTimer();
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      let stop: (() => void) | undefined;
      let waiter: Waiter | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        endTimer();
        fn();
      };
      const timer = setTimeout(() => settle(() => {
        if (waiter && !waiter.cancelled) {
          waiter.cancelled = true;
          this.#waiting--;
        }
        stop?.();
        heavyReadsRefused.inc({ reason: 'deadline' });
        reject(readTimedOut(this.limits.timeoutMs));
      }), this.limits.timeoutMs);
      const start = () => {
        waiter = undefined;
        let running: Promise<R>;
        try {
          running = work((fn) => { stop = fn; });
        } catch (err) {
          running = Promise.reject(err);
        }
        running.then(
          (rows) => { this.#release(); settle(() => resolve(rows)); },
          (err: unknown) => { this.#release(); settle(() => reject(err)); },
        );
      };
      if (this.#free > 0) {
        this.#free--;
        start();
      } else {
        waiter = { start, refuse: (err) => settle(() => reject(err)), cancelled: false };
        this.#waiters.push(waiter);
        this.#waiting++;
      }
    });
  }

  #release(): void {
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) {
      if (w.cancelled) continue;
      this.#waiting--;
      w.start();
      return;
    }
    this.#free++;
  }

  /** Refuses new reads and the waiting ones; running ones are the owner's to stop. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      if (w.cancelled) continue;
      w.cancelled = true;
      w.refuse(new Error('the database is closing'));
    }
    this.#waiting = 0;
  }
}

/**
 * PostgreSQL: heavy reads on a pool of their own (connect.ts opens it with `concurrency`
 * connections and a statement_timeout of the deadline, so the server itself stops a runaway
 * report), never on the connections of the switch path.
 */
const QUERY_CANCELED = '57014';

export class PostgresReads implements HeavyReads {
  readonly slots: ReadSlots;
  private readonly timeoutMs: number;

  constructor(private readonly pool: pg.Pool, limits: HeavyReadLimits) {
    this.slots = new ReadSlots(limits);
    this.timeoutMs = limits.timeoutMs;
  }

  all<R>(query: ReadQuery<R>): Promise<R[]> {
    const { sql, parameters } = query.compile();
    return this.slots.run(async () => {
      try {
        return (await this.pool.query(sql, parameters as unknown[])).rows as R[];
      } catch (err) {
        // The server's statement_timeout may strike before our timer: the same answer.
        if ((err as { code?: string }).code === QUERY_CANCELED) {
          heavyReadsRefused.inc({ reason: 'deadline' });
          throw readTimedOut(this.timeoutMs);
        }
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    this.slots.close();
    await this.pool.end();
  }
}
