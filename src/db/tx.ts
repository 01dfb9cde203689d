import type { Kysely, KyselyPlugin } from 'kysely';
import type { Database } from './schema.js';
import type { Db, Trx } from './connect.js';
import type { TransactionBatcher } from './tx-batch.js';

/** Databases whose transactions share commits (SQLite, see tx-batch.ts). */
const batchers = new WeakMap<Db, TransactionBatcher>();

export function batchTransactionsOf(db: Db, batcher: TransactionBatcher): void {
  batchers.set(db, batcher);
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
  const hooked = hookedHandles.get(db as Db);
  const base = hooked?.base ?? (db as Db);
  const batcher = batchers.get(base);
  if (!hooked) return batcher ? batcher.run(fn) : base.transaction().execute(fn);
  const { hook } = hooked;
  const work = async (trx: Trx) => {
    const out = await fn(trx);
    await hook.beforeCommit(trx);
    return out;
  };
  const done = batcher ? batcher.run(work) : base.transaction().execute(work);
  return done.then(
    (out) => { hook.settled(true); return out; },
    (err: unknown) => { hook.settled(false); throw err; },
  );
}
