import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Db, Trx } from './connect.js';

/**
 * Runs fn in a transaction: joins the caller's when there is one (an idempotent request
 * wraps a service in its own), else opens one. One service function = one transaction.
 */
export function inTx<T>(db: Db | Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if ((db as Kysely<Database>).isTransaction) return fn(db as Trx);
  return db.transaction().execute(fn);
}
