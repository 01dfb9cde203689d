// CSV rate import (`ledgerline import-rates PLAN FILE.csv`), built for a million rows:
//   prefix,destination,rate[,connect_charge,initblock,billingblock,minimal_time]
// The file is read and every row validated (csv-rows.ts, over csv-tokenizer.ts) into compact
// columns (rating/rate-columns.ts); one bad row imports nothing and is reported by line
// number. Then the rows are upserted by (plan_id, prefix) (rate-writers.ts) in prefix order, so
// the (plan_id, prefix) index fills in sequence; the last transaction bumps the plan's
// rates_version. Retail plans derived from it change with it, as they store only their
// overrides (`retail_plans_rebuilt` and `retail_rows_written` stay 0). On SQLite the rows
// commit in short, paced transactions (see importRatesCsv), on PostgreSQL in chunks of 25,000
// on two connections at once (see importPostgres).
import type SqliteDatabase from 'better-sqlite3';
import type { Db, Dialect, Trx } from '../db/connect.js';
import { finishImportJournal, openImportJournal, recordImportProgress, recordImportProgressAtLeast, unfinishedImports, type JournalEntry } from './import-journal.js';
import { SqliteWritePacer } from './write-pacing.js';
import { isTransientConflict } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { positiveInt } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { readRatesCsv, type RowError } from './csv-rows.js';
import { silentProgress, type ProgressSink } from './import-progress.js';
import { bumpRatesVersion } from './plans.js';
import { rateWriter, splitByPresence, type RateWriter } from './rate-writers.js';
import type { RateColumns } from '../rating/rate-columns.js';

export { StderrProgress } from './import-progress.js';

/** The file has bad rows: nothing was imported. */
export class InvalidRowsError extends AppError {
  constructor(readonly errors: RowError[], readonly badRows: number) {
    super(400, 'INVALID_ROWS', `${badRows} bad row${badRows === 1 ? '' : 's'}; nothing imported`);
  }
}

export interface ImportTarget {
  db: Db | Trx;
  dialect: Dialect;
  /** SQLite: the connection under `db` (DbHandle.sqlite), for the bulk write path. */
  sqlite?: SqliteDatabase.Database;
  /** Waits until the committed import is on disk (DbHandle.durable). */
  durable?: () => Promise<void>;
  /** PostgreSQL: rows per transaction (PG_CHUNK_ROWS); tests make it small to have many. */
  pgChunkRows?: number;
}

export interface ImportSummary {
  plan_id: number;
  /** The import's journal row (rate_imports.id). */
  import_id: number;
  /** Rows an earlier, unfinished run of the same file had committed, not written again. */
  resumed_from_row: number;
  rows_imported: number;
  lines_read: number;
  header: boolean;
  retail_plans_rebuilt: number;
  retail_rows_written: number;
  seconds: number;
  /** SQLite: of `seconds`, the time the import left the write lock to other connections. */
  seconds_yielded: number;
  rows_per_second: number;
}

async function assertPlan(db: Db | Trx, planId: number): Promise<void> {
  const plan = await db.selectFrom('plans').select('id').where('id', '=', planId).executeTakeFirst();
  if (!plan) throw notFound('Plan');
}

/** The import's own wait for the write lock (the server may hold it for a batch now and then). */
const SQLITE_IMPORT_BUSY_TIMEOUT_MS = 60_000;

/** PostgreSQL: rows per transaction, and transactions at once, each on a connection of its own. */
const PG_CHUNK_ROWS = 25_000;
const PG_CONNECTIONS = 2;
/** PostgreSQL: attempts of one chunk that meets another writer (a deadlock, a row added meanwhile). */
const PG_CHUNK_ATTEMPTS = 4;
const UNIQUE_VIOLATION = '23505';

/**
 * PostgreSQL: writes rows order[resumeFrom..) in chunks, PG_CONNECTIONS transactions at a time
 * (the server inserts on one core per connection; the rows' FOREIGN KEY check alone costs it
 * ~4 us a row). Into a plan that had no rows, a chunk is a plain insert; into one that had, the
 * prefixes it has are upserted and the others inserted. A row another writer (add-rates) added
 * meanwhile makes the insert fail with 23505: that chunk is written again as an upsert. Each
 * chunk's transaction records in the journal the rows committed in prefix order up to the
 * first chunk still running; the plan's version is bumped by the caller afterwards.
 */
async function importPostgres(db: Db, planId: number, rows: RateColumns, order: Uint32Array, journal: JournalEntry, now: string,
  writer: RateWriter, progress: ProgressSink, chunkRows: number): Promise<void> {
  const insertNew = writer.insertNew!;
  const start = journal.resumeFrom;
  const total = rows.count;
  const chunks = Math.ceil((total - start) / chunkRows);
  const committed = new Uint8Array(chunks);
  /** The first chunk not committed. */
  let frontier = 0;
  let next = 0;
  let rowsDone = start;
  let failed = false;
  // A resumed import has rows of its own in the plan already: they are found chunk by chunk.
  const planHadRows = start > 0
    || (await db.selectFrom('rates').select('id').where('plan_id', '=', planId).limit(1).executeTakeFirst()) !== undefined;

  const writeChunk = async (c: number, from: number, to: number) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await inTx(db, async (trx) => {
          if (attempt > 1) {
            await writer.write(trx, planId, rows, order, from, to, now);
          } else if (planHadRows) {
            const { present, absent } = await splitByPresence(trx, planId, rows, order, from, to);
            if (present.length > 0) await writer.write(trx, planId, rows, present, 0, present.length, now);
            if (absent.length > 0) await insertNew(trx, planId, rows, absent, 0, absent.length, now);
          } else {
            await insertNew(trx, planId, rows, order, from, to, now);
          }
          // Every chunk before this one committed: the journal may count this one and those after it already in.
          let upTo = frontier;
          if (upTo === c) for (upTo = c + 1; upTo < chunks && committed[upTo]; upTo++);
          await recordImportProgressAtLeast(trx, journal.id, Math.min(total, start + upTo * chunkRows));
        });
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= PG_CHUNK_ATTEMPTS || !(isTransientConflict(err) || code === UNIQUE_VIOLATION)) throw err;
        await new Promise((resolve) => setTimeout(resolve, attempt * (5 + Math.random() * 20)));
      }
    }
  };

  const worker = async () => {
    while (!failed && next < chunks) {
      const c = next++;
      const from = start + c * chunkRows;
      const to = Math.min(total, from + chunkRows);
      try {
        await writeChunk(c, from, to);
      } catch (err) {
        failed = true;
        throw err;
      }
      committed[c] = 1;
      while (frontier < chunks && committed[frontier]) frontier++;
      rowsDone += to - from;
      progress.update(rowsDone, rowsDone);
    }
  };
  // Every connection's work ends (commits or rolls back) before the import reports an error.
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(PG_CONNECTIONS, chunks) }, worker));
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Imports a CSV file of rates into a plan. Throws InvalidRowsError (nothing imported) when any
 * row is bad. The rows commit in many transactions and the plan's rates_version is bumped only
 * after the last of them: servers keep rating on the old table until then, and the journal
 * (import-journal.ts) makes an import cut short visible and resumable by running the same file
 * again. On SQLite the transactions take a few ms each, paced so a running server's commits get
 * in between (write-pacing.ts), and the last one bumps the version. On PostgreSQL they run on
 * two connections at once (importPostgres; MVCC: the switch path does not wait for them), and
 * a transaction of its own bumps the version.
 */
export async function importRatesCsv(target: ImportTarget, planIdInput: unknown, file: string, progress: ProgressSink = silentProgress): Promise<ImportSummary> {
  const started = performance.now();
  const planId = positiveInt(planIdInput, 'plan_id');
  await assertPlan(target.db, planId);
  const parsed = await readRatesCsv(file, progress);
  if (parsed.badRows > 0) throw new InvalidRowsError(parsed.errors, parsed.badRows);
  const { rows } = parsed;
  if (rows.count === 0) throw badRequest('file', 'has no rate rows');

  const order = rows.prefixOrder();
  const writer = rateWriter(target.dialect, target.sqlite);
  const { write } = writer;
  if (target.db.isTransaction) throw new Error('importRatesCsv commits on its own: give it the database, not a transaction');
  const db = target.db as Db;
  const journal = await openImportJournal(db, planId, file, rows.count);
  for (const u of await unfinishedImports(db, planId)) {
    if (u.id === journal.id) {
      if (journal.resumeFrom > 0) progress.note?.(`resuming import #${u.id} of this file, started ${u.started_at}: ${journal.resumeFrom.toLocaleString('en-US')} of ${u.rows_total.toLocaleString('en-US')} rows were committed`);
      continue;
    }
    progress.note?.(`import #${u.id} of ${u.file} into plan ${planId} did not finish (${u.rows_written.toLocaleString('en-US')} of ${u.rows_total.toLocaleString('en-US')} rows, last ${u.updated_at}); run that file again to complete it`);
  }
  const now = nowIso();
  progress.phase('importing', rows.count);

  /** Bumps the version and closes the journal: in the transaction of the last rows. */
  const finish = async (trx: Trx) => {
    await bumpRatesVersion(trx, planId);
    await finishImportJournal(trx, journal.id, rows.count);
    // Retail plans derived from this one are not touched: their clients are rated from these
    // rows at their reseller's markup (plans/retail-rates.ts).
    return { retailPlans: 0, retailRows: 0 };
  };

  let outcome: { retailPlans: number; retailRows: number };
  let yieldedMs = 0;
  if (target.dialect === 'sqlite' && target.sqlite) {
    const sqlite = target.sqlite;
    sqlite.pragma(`busy_timeout = ${SQLITE_IMPORT_BUSY_TIMEOUT_MS}`);
    const pacer = new SqliteWritePacer(sqlite);
    let from = journal.resumeFrom;
    let last: { retailPlans: number; retailRows: number } | null = null;
    while (last === null) {
      const to = Math.min(rows.count, from + pacer.chunkRows());
      const asked = performance.now();
      let began = asked;
      last = await inTx(db, async (trx) => {
        began = performance.now();
        if (from === journal.resumeFrom) await assertPlan(trx, planId);
        await write(trx, planId, rows, order, from, to, now);
        if (to < rows.count) {
          await recordImportProgress(trx, journal.id, to);
          return null;
        }
        progress.finish(rows.count, rows.count);
        return finish(trx);
      });
      pacer.noteBeginWait(began - asked);
      progress.update(to, to);
      const heldMs = performance.now() - began;
      const written = to - from;
      from = to;
      if (last === null) pacer.between(written, heldMs);
    }
    outcome = last;
    yieldedMs = pacer.yieldedMs;
  } else {
    await importPostgres(db, planId, rows, order, journal, now, writer, progress, target.pgChunkRows ?? PG_CHUNK_ROWS);
    outcome = await inTx(db, async (trx) => {
      await assertPlan(trx, planId);
      return finish(trx);
    });
    progress.finish(rows.count, rows.count);
  }
  progress.end();
  await target.durable?.();
  const seconds = (performance.now() - started) / 1000;
  return {
    plan_id: planId,
    import_id: journal.id,
    resumed_from_row: journal.resumeFrom,
    rows_imported: rows.count,
    lines_read: parsed.lines,
    header: parsed.header,
    retail_plans_rebuilt: outcome.retailPlans,
    retail_rows_written: outcome.retailRows,
    seconds: Math.round(seconds * 1000) / 1000,
    seconds_yielded: Math.round(yieldedMs) / 1000,
    rows_per_second: Math.round(rows.count / seconds),
  };
}
