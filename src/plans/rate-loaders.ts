// How a plan's rate table is read into memory, by what the database allows without holding the
// event loop that serves the switch:
// - SQLite file: in a thread of its own (rate-load-thread.ts) with a read-only connection; the
//   table arrives as transferred buffers.
// - PostgreSQL: asynchronous already; read in small keyset batches (2,000 rows), yielding to the
//   event loop between them, so no batch's row building holds it more than a few milliseconds.
// - inline, through the given connection: small plans (a few thousand rows cost a few ms) and
//   in-memory SQLite, which no other connection can see.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Db, Trx } from '../db/connect.js';
import { RateTable } from '../rating/rate-table.js';
import type { RateLoadReply, RateLoadRequest } from './rate-load-thread.js';

export interface LoadedTable { table: RateTable; version: number }

/** Rows per batch of the batched loader: a few ms of row parsing and building each. */
const BATCH_ROWS = 2_000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The plan's row count, counted only up to `limit + 1`: whether a plan is small enough to load
 * inline, at the cost of at most `limit` index entries (never a full count of a big plan).
 */
export async function rowCountUpTo(db: Db | Trx, planId: number, limit: number): Promise<number> {
  const row = await db.selectFrom((eb) => eb.selectFrom('rates').select('id').where('plan_id', '=', planId).limit(limit + 1).as('r'))
    .select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function planVersion(db: Db | Trx, planId: number): Promise<number> {
  const plan = await db.selectFrom('plans').select('rates_version').where('id', '=', planId).executeTakeFirst();
  return Number(plan?.rates_version ?? 0);
}

type RateRowOut = {
  prefix: string; destination: string; rate_micros: unknown; connect_charge_micros: unknown;
  initblock: number; billingblock: number; minimal_time: number;
};

function setRow(table: RateTable, r: RateRowOut): void {
  table.set({
    prefix: r.prefix, destination: r.destination, rateMicros: Number(r.rate_micros), connectChargeMicros: Number(r.connect_charge_micros),
    initblock: r.initblock, billingblock: r.billingblock, minimalTime: r.minimal_time,
  });
}

const COLUMNS = ['prefix', 'destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'] as const;

/** Reads the whole plan in one query through `db` (the caller's transaction, if any). */
export async function loadInline(db: Db | Trx, planId: number): Promise<LoadedTable> {
  // The version first: rows committed after it only make the table newer than it says.
  const version = await planVersion(db, planId);
  const rows = await db.selectFrom('rates').select(COLUMNS).where('plan_id', '=', planId).execute();
  const table = new RateTable(rows.length);
  for (const r of rows) setRow(table, r);
  return { table, version };
}

/** Reads the plan in keyset batches along the (plan_id, prefix) index, yielding between them. */
export async function loadBatched(db: Db, planId: number): Promise<LoadedTable> {
  const version = await planVersion(db, planId);
  // Sized up front (the count runs in the database, not here): growing a big index rehashes it whole, in one turn.
  const counted = await db.selectFrom('rates').select((eb) => eb.fn.countAll<number>().as('n')).where('plan_id', '=', planId).executeTakeFirstOrThrow();
  const table = new RateTable(Number(counted.n));
  let after: string | null = null;
  for (;;) {
    let q = db.selectFrom('rates').select(COLUMNS).where('plan_id', '=', planId);
    if (after !== null) q = q.where('prefix', '>', after);
    const rows = await q.orderBy('prefix').limit(BATCH_ROWS).execute();
    for (const r of rows) setRow(table, r);
    if (rows.length < BATCH_ROWS) break;
    after = rows[rows.length - 1].prefix;
    await yieldToEventLoop();
  }
  return { table, version };
}

/** The thread's entry: the compiled .js beside this file, or, under tsx (tests), the .ts through tsx's loader. */
function startLoadThread(request: RateLoadRequest): Worker {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const entry = new URL('./rate-load-thread.ts', import.meta.url).href;
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(bootstrap, { eval: true, workerData: request });
  }
  return new Worker(new URL('./rate-load-thread.js', import.meta.url), { workerData: request });
}

/** Loads the plan in a thread of its own from the SQLite file (which it opens read-only). */
export function loadInThread(file: string, planId: number, started?: (thread: Worker) => void): Promise<LoadedTable> {
  return new Promise((resolve, reject) => {
    const worker = startLoadThread({ file, planId });
    started?.(worker);
    let settled = false;
    worker.once('message', (reply: RateLoadReply) => {
      settled = true;
      if (reply.ok) resolve({ table: RateTable.fromSnapshot(reply.snapshot), version: reply.version });
      else reject(new Error(`rate load of plan ${planId} failed: ${reply.error}`));
    });
    worker.once('error', (err) => { if (!settled) { settled = true; reject(err); } });
    worker.once('exit', (code) => { if (!settled) { settled = true; reject(new Error(`rate load thread of plan ${planId} exited with ${code}`)); } });
  });
}
