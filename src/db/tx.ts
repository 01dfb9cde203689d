// Transactions, and the guard that keeps their callbacks on the transaction.
//
// A service given `ctx` opens a transaction with inTx(ctx.db, (trx) => ...). Inside, every
// query must go through `trx`. One through the base database instead is always a bug:
// - SQLite: the transaction holds the only connection (batched, it shares it with the
//   transactions beside it, see tx-batch.ts), so the stray query waits for it to end, and
//   it never ends, since it is waiting for the stray query: the whole batch hangs.
// - PostgreSQL: it runs on another pooled connection, outside the transaction: it misses the
//   transaction's own writes, and it hangs (undetected by the server) once the pool is
//   exhausted or it needs a row the transaction has locked.
// So while a transaction callback runs, an AsyncLocalStorage mark names its database, and
// the base database's driver refuses any connection asked for from inside it, at once,
// with StrayQueryError (logged). Work meant to outlive the transaction, not awaited by it,
// runs through outsideTransaction().
import { AsyncLocalStorage } from 'node:async_hooks';
import { Kysely, type Dialect as KyselyDialect, type Driver } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import type { Db, Trx } from './connect.js';
import type { TransactionBatcher } from './tx-batch.js';

/** Databases whose transactions share commits (SQLite, see tx-batch.ts). */
const batchers = new WeakMap<Db, TransactionBatcher>();
/** Where each database reports a stray query (the server's logger). */
const loggers = new WeakMap<Db, Logger>();

export function batchTransactionsOf(db: Db, batcher: TransactionBatcher): void {
  batchers.set(db, batcher);
}

/** Stray queries on `db` are logged here, besides being thrown to the caller (who may swallow them). */
export function reportStrayQueriesTo(db: Db, log: Logger): void {
  loggers.set(db, log);
}

/** A programming error: a query or transaction on the base database from inside a transaction on it. */
export class StrayQueryError extends Error {
  readonly code = 'QUERY_OUTSIDE_TRANSACTION';
  constructor() {
    super('A query on the base database (ctx.db) ran inside a transaction on that database: '
      + 'use the transaction handed to the callback (trx, or withTrx(ctx, trx) for a service taking ctx); '
      + 'for work meant to outlive the transaction, use outsideTransaction()');
    this.name = 'StrayQueryError';
  }
}

interface OpenTransaction {
  readonly db: Db;
  /** False once the callback has settled: work it left behind may use the database again. */
  open: boolean;
}

const openTransaction = new AsyncLocalStorage<OpenTransaction>();

function refuseIfInTransactionOn(db: Db): void {
  const mark = openTransaction.getStore();
  if (mark === undefined || !mark.open || mark.db !== db) return;
  const err = new StrayQueryError();
  loggers.get(db)?.error({ err, code: err.code }, 'query on the base database from inside a transaction, outside it; refused');
  throw err;
}

/**
 * Runs a transaction callback with the mark of its database set. Used by inTx and by the
 * SQLite batcher for each of its items.
 */
export async function runMarked<T>(db: Db, trx: Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  const mark: OpenTransaction = { db, open: true };
  try {
    return await openTransaction.run(mark, fn, trx);
  } finally {
    mark.open = false;
  }
}

/**
 * Runs fn with no transaction mark: for work deliberately left to run beside or after the
 * current transaction, never awaited by it (a background cache reload). On SQLite it waits
 * for the transaction to commit, which is why the transaction must not await it.
 */
export function outsideTransaction<T>(fn: () => T): T {
  return openTransaction.exit(fn);
}

/**
 * The Kysely instance of a database, its driver guarded: a connection asked for from inside
 * a transaction on this same database is refused (see the top of this file). Transactions'
 * own queries use the connection they hold and never ask the driver for another.
 */
export function guardedDatabase(dialect: KyselyDialect): Db {
  let db: Db | undefined;
  const guarded: KyselyDialect = {
    createDriver(): Driver {
      const driver = dialect.createDriver();
      const acquire = driver.acquireConnection.bind(driver);
      driver.acquireConnection = () => {
        refuseIfInTransactionOn(db!);
        return acquire();
      };
      return driver;
    },
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (k) => dialect.createIntrospector(k),
  };
  db = new Kysely<Database>({ dialect: guarded });
  return db;
}

/**
 * Runs fn in a transaction: joins the caller's when there is one (an idempotent request
 * wraps a service in its own), else opens one. One service function = one transaction.
 */
export function inTx<T>(db: Db | Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if ((db as Kysely<Database>).isTransaction) return fn(db as Trx);
  const base = db as Db;
  // A second transaction on the base database from inside one would wait for the first (SQLite)
  // or commit apart from it (PostgreSQL): refuse it like any stray query.
  try {
    refuseIfInTransactionOn(base);
  } catch (err) {
    return Promise.reject(err);
  }
  const batcher = batchers.get(base);
  return batcher ? batcher.run(fn) : base.transaction().execute((trx) => runMarked(base, trx, fn));
}
