// Group commit at the SQL level, for SQLite. SQLite has one writer, so transactions run one
// after another anyway; on its own each pays a BEGIN and a COMMIT that writes every page it
// touched to the WAL (the accounts row, the calls and ledger indexes...). The batcher runs the
// transactions that arrive in the same turn of the event loop inside one SQLite transaction,
// each in its own savepoint: one that fails rolls back to its savepoint alone, exactly as if it
// had been a transaction of its own, and none of them hears "done" before the shared COMMIT.
// Pages touched by many of them are then written once per batch.
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type ControlledTransaction } from 'kysely';
import { OverloadedError } from '../errors.js';
import { sqliteBatchSize } from '../metrics.js';
import type { Database, Db, Trx } from './schema.js';
import { runTransactionCallback, type TransactionRunner } from './tx.js';

interface Item {
  fn: (trx: Trx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const SAVEPOINT = CompiledQuery.raw('savepoint batch_item');
const RELEASE = CompiledQuery.raw('release batch_item');
const ROLLBACK_TO = CompiledQuery.raw('rollback to batch_item');

export interface BatchLimits {
  /** Transactions sharing one COMMIT; bounds how long the first of them waits for the last. */
  maxPerBatch: number;
  /** Waiting transactions beyond this are refused (OverloadedError) rather than queued without bound. */
  maxQueued: number;
}

/** How long a batch waits for the write lock another process holds before its transactions fail (503 DATABASE_BUSY). */
const LOCK_WAIT_MS = 5_000;
/** The connection's own busy_timeout (connect.ts), restored after a BEGIN that did not wait in SQLite. */
const CONNECTION_BUSY_TIMEOUT_MS = 5_000;

const isBusy = (err: unknown) => (err as { code?: string }).code === 'SQLITE_BUSY';

export class TransactionBatcher implements TransactionRunner {
  #queue: Item[] = [];
  #scheduled = false;
  #running = false;

  /**
   * `sqlite`, the connection under `db`: when given, a BEGIN that finds the write lock held by
   * another process (a CSV import) is retried on a timer instead of waiting in SQLite's busy
   * handler, which sleeps on the event loop and would stall every request meanwhile.
   */
  constructor(private readonly db: Db, private readonly limits: BatchLimits = { maxPerBatch: 200, maxQueued: 20_000 },
    private readonly sqlite?: SqliteDatabase.Database) {}

  async #begin(): Promise<ControlledTransaction<Database>> {
    if (!this.sqlite) return this.db.startTransaction().execute();
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      this.sqlite.pragma('busy_timeout = 0');
      try {
        return await this.db.startTransaction().execute();
      } catch (err) {
        if (!isBusy(err) || performance.now() >= deadline) throw err;
      } finally {
        this.sqlite.pragma(`busy_timeout = ${CONNECTION_BUSY_TIMEOUT_MS}`);
      }
      // Requests keep arriving meanwhile and join the next batch.
      await new Promise((resolve) => setTimeout(resolve, attempt < 5 ? 0 : 1));
    }
  }

  run<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    if (this.#queue.length >= this.limits.maxQueued) {
      return Promise.reject(new OverloadedError('Too many writes waiting; retry shortly'));
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  // setImmediate: let every request already readable in this turn join the batch first.
  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    setImmediate(() => void this.#drain());
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    this.#running = true;
    try {
      await this.#runBatch(this.#queue.splice(0, this.limits.maxPerBatch));
    } finally {
      this.#running = false;
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  async #runBatch(batch: Item[]): Promise<void> {
    let trx: ControlledTransaction<Database>;
    try {
      trx = await this.#begin();
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    const succeeded: Array<{ item: Item; value: unknown }> = [];
    const failed = new Set<Item>();
    try {
      if (batch.length === 1) {
        // Alone in its batch: the transaction is its own, no savepoint needed.
        succeeded.push({ item: batch[0], value: await runTransactionCallback(this.db, trx, batch[0].fn) });
      } else {
        for (const item of batch) {
          await trx.executeQuery(SAVEPOINT);
          let value: unknown;
          try {
            value = await runTransactionCallback(this.db, trx, item.fn);
          } catch (err) {
            // If SQLite already aborted the whole transaction (I/O error, disk full), this throws
            // and the whole batch fails below: nothing of it is applied, and everyone is told.
            await trx.executeQuery(ROLLBACK_TO);
            await trx.executeQuery(RELEASE);
            failed.add(item);
            item.reject(err);
            continue;
          }
          await trx.executeQuery(RELEASE);
          succeeded.push({ item, value });
        }
      }
      await trx.commit().execute();
      sqliteBatchSize.observe(batch.length);
    } catch (err) {
      try {
        await trx.rollback().execute();
      } catch {
        // SQLite rolled it back itself.
      }
      for (const item of batch) if (!failed.has(item)) item.reject(err);
      return;
    }
    for (const { item, value } of succeeded) item.resolve(value);
  }
}
