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
// So the base database's driver refuses, at once and logged (StrayQueryError), a connection
// asked for by code that a transaction callback on the same database is awaiting.
//
// "Awaited by a transaction callback" is read from V8's async stack trace (the chain of
// awaiting async functions, kept by default at no cost): the callback runs inside
// runTransactionCallback, whose frame is then on the chain. The walk costs a few
// microseconds, so it is done only while a transaction callback on this database is open
// (on SQLite: only inside a batch). A read outside transactions (`me`) pays one comparison.
// An AsyncLocalStorage mark would do the same, but on Node 20 it puts a hook on every promise
// of the process (measured: +15% CPU on `me`, +40% on a bare transaction).
// Known limits: a chain broken by `.then()` callbacks or hand-made promises is not followed
// (the query then waits as before); a query on another database from inside a callback,
// while that database also has a callback open, would be refused (the process has one).
// Work meant to outlive the transaction, not awaited by it, runs through outsideTransaction().
import { Kysely, type Dialect as KyselyDialect, type Driver, type KyselyPlugin } from 'kysely';
import type { Logger } from 'pino';
import type { Database, Db, Trx } from './schema.js';

/** What inTx needs of a group-commit batcher (tx-batch.ts, which builds on this file). */
export interface TransactionRunner {
  run<T>(fn: (trx: Trx) => Promise<T>): Promise<T>;
}

/** Databases whose transactions share commits (SQLite, see tx-batch.ts). */
const batchers = new WeakMap<Db, TransactionRunner>();

interface Guard {
  /** Transaction callbacks on this database now running (awaiting, or on the stack). */
  openCallbacks: number;
  /** Where a stray query is reported besides being thrown (the caller may swallow it). */
  log?: Logger;
}
const guards = new WeakMap<Db, Guard>();

export function batchTransactionsOf(db: Db, batcher: TransactionRunner): void {
  batchers.set(db, batcher);
}

/** Stray queries on `db` are logged here, besides being thrown to the caller. */
export function reportStrayQueriesTo(db: Db, log: Logger): void {
  const guard = guards.get(db);
  if (guard) guard.log = log;
}

/** A programming error: a query or transaction on the base database awaited by a transaction callback on it. */
export class StrayQueryError extends Error {
  readonly code = 'QUERY_OUTSIDE_TRANSACTION';
  constructor() {
    super('A query on the base database (ctx.db) ran inside a transaction on that database: '
      + 'use the transaction handed to the callback (trx, or withTrx(ctx, trx) for a service taking ctx); '
      + 'for work meant to outlive the transaction, use outsideTransaction()');
    this.name = 'StrayQueryError';
  }
}

// Frame names looked for in the stack: keep in step with the functions below.
const CALLBACK_FRAME = 'runTransactionCallback';
const DETACHED_FRAME = 'runDetachedFromTransaction';
/** Deep enough for a service's call chain down to the driver; the walk stops here. */
const MAX_FRAMES = 120;

/** True when the caller is awaited, through its callers, by a transaction callback (and not detached from it). */
function awaitedByTransactionCallback(): boolean {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  try {
    Error.prepareStackTrace = (_err, sites) => sites;
    Error.stackTraceLimit = MAX_FRAMES;
    Error.captureStackTrace(holder, awaitedByTransactionCallback);
    // Read inside the try: V8 prepares the stack when it is first read.
    for (const site of holder.stack ?? []) {
      const name = site.getFunctionName();
      if (name === DETACHED_FRAME) return false;
      if (name === CALLBACK_FRAME) return true;
    }
    return false;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function refuseIfAwaitedByTransaction(guard: Guard): void {
  if (guard.openCallbacks === 0 || !awaitedByTransactionCallback()) return;
  const err = new StrayQueryError();
  guard.log?.error({ err, code: err.code }, 'query on the base database from inside a transaction, outside it; refused');
  throw err;
}

/**
 * Runs a transaction callback so that queries it awaits on the base database are refused.
 * Used by inTx and by the SQLite batcher for each of its items. Its name is looked for in
 * the stack (CALLBACK_FRAME); it must await fn itself.
 */
export async function runTransactionCallback<T>(db: Db, trx: Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  const guard = guards.get(db);
  if (guard) guard.openCallbacks += 1;
  try {
    return await fn(trx);
  } finally {
    if (guard) guard.openCallbacks -= 1;
  }
}

/**
 * Starts fn detached from the transaction the caller is in: for work deliberately left to run
 * beside or after it, never awaited by it (a background cache reload). On SQLite that work
 * waits for the transaction to commit, which is why the transaction must not await it.
 */
export function outsideTransaction<T>(fn: () => T): T {
  return runDetachedFromTransaction(fn);
}
function runDetachedFromTransaction<T>(fn: () => T): T {
  return fn();
}

/**
 * The Kysely instance of a database, its driver guarded: a connection asked for by code that a
 * transaction callback on this database awaits is refused. Transactions' own queries use the
 * connection they hold and never ask the driver for another.
 */
export function guardedDatabase(dialect: KyselyDialect): Db {
  const guard: Guard = { openCallbacks: 0 };
  const guarded: KyselyDialect = {
    createDriver(): Driver {
      const driver = dialect.createDriver();
      const acquire = driver.acquireConnection.bind(driver);
      driver.acquireConnection = () => {
        if (guard.openCallbacks > 0) refuseIfAwaitedByTransaction(guard);
        return acquire();
      };
      return driver;
    },
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (k) => dialect.createIntrospector(k),
  };
  const db = new Kysely<Database>({ dialect: guarded });
  guards.set(db, guard);
  return db;
}

/**
 * Work that must commit with the transactions opened on one request's database handle (the
 * request's audit row, audit/request-audit.ts).
 */
export interface TransactionHook {
  /** Runs inside each transaction opened on the handle, after its work succeeded, before COMMIT. */
  beforeCommit(trx: Trx): Promise<void>;
  /** That transaction committed (true) or rolled back (false). */
  settled(committed: boolean): void;
}

const hookedHandles = new WeakMap<Db, { base: Db; hook: TransactionHook }>();
// A handle of its own is a new Kysely instance over the same connections; Kysely makes one per plugin.
const SAME_QUERIES: KyselyPlugin = {
  transformQuery: (args) => args.node,
  transformResult: async (args) => args.result,
};

/**
 * The same database as a handle of its own, on which every transaction that inTx opens runs
 * `hook`. Given to one request's services as `ctx.db`: the hook is theirs alone, and work that
 * does not use the handle (other requests, workers) never runs it.
 */
export function withTransactionHook(db: Db, hook: TransactionHook): Db {
  const base = hookedHandles.get(db)?.base ?? db;
  const handle = base.withPlugin(SAME_QUERIES);
  hookedHandles.set(handle, { base, hook });
  return handle;
}

/**
 * Runs fn in a transaction: joins the caller's when there is one (an idempotent request
 * wraps a service in its own), else opens one. One service function = one transaction.
 */
export function inTx<T>(db: Db | Trx, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if ((db as Kysely<Database>).isTransaction) return fn(db as Trx);
  // A request's handle (withTransactionHook) runs on the base database, with its hook.
  const hooked = hookedHandles.get(db as Db);
  const base = hooked?.base ?? (db as Db);
  // A second transaction on the base database awaited by one would wait for the first (SQLite)
  // or commit apart from it (PostgreSQL): refuse it like any stray query.
  const guard = guards.get(base);
  if (guard && guard.openCallbacks > 0) {
    try {
      refuseIfAwaitedByTransaction(guard);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const batcher = batchers.get(base);
  const run = <R>(work: (trx: Trx) => Promise<R>): Promise<R> =>
    (batcher ? batcher.run(work) : base.transaction().execute((trx) => runTransactionCallback(base, trx, work)));
  if (!hooked) return run(fn);
  const { hook } = hooked;
  return run(async (trx) => {
    const out = await fn(trx);
    await hook.beforeCommit(trx);
    return out;
  }).then(
    (out) => { hook.settled(true); return out; },
    (err: unknown) => { hook.settled(false); throw err; },
  );
}

/**
 * inTx for a service holding a ctx: the callback gets the context bound to the transaction,
 * so the helpers it calls with it query through the transaction. Generic over the context
 * (Ctx gives TxCtx): the services' context builds on this layer, not the other way round.
 */
export function inCtxTx<C extends { db: Db | Trx }, T>(ctx: C, fn: (tx: C & { db: Trx }) => Promise<T>): Promise<T> {
  return inTx(ctx.db, (trx) => fn({ ...ctx, db: trx }));
}
