import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Db, Trx } from './connect.js';
import type { TransactionBatcher } from './tx-batch.js';

/** Databases whose transactions share commits (SQLite, see tx-batch.ts). */
const batchers = new WeakMap<Db, TransactionBatcher>();

export function batchTransactionsOf(db: Db, batcher: TransactionBatcher): void {
  batchers.set(db, batcher);
}

/**
 * Runs fn in a transaction: joins the caller's when there is one (an idempotent request
 * wraps a service in its own), else opens one. One service function = one transaction.
 */
export function inTx<T>(db: Db | Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if ((db as Kysely<Database>).isTransaction) return fn(db as Trx);
  const batcher = batchers.get(db as Db);
  return batcher ? batcher.run(fn) : db.transaction().execute(fn);
}
