// CSV rate import (`ledgerline import-rates PLAN FILE.csv`), built for a million rows:
//   prefix,destination,rate[,connect_charge,initblock,billingblock,minimal_time]
// The file is read and every row validated (csv-rows.ts, over csv-tokenizer.ts) into compact
// columns (rating/rate-columns.ts); one bad row imports nothing and is reported by line
// number. Then one transaction upserts the rows by (plan_id, prefix) (rate-writers.ts) and bumps
// the plan's rates_version; retail plans derived from it change with it, as they store only
// their overrides (`retail_plans_rebuilt` and `retail_rows_written` stay 0). The rows are written in prefix order, so the (plan_id, prefix) index fills in sequence.
import type SqliteDatabase from 'better-sqlite3';
import type { Db, Dialect, Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { positiveInt } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { readRatesCsv, type RowError } from './csv-rows.js';
import { silentProgress, type ProgressSink } from './import-progress.js';
import { bumpRatesVersion } from './plans.js';
import { rateWriter } from './rate-writers.js';

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
}

export interface ImportSummary {
  plan_id: number;
  rows_imported: number;
  lines_read: number;
  header: boolean;
  retail_plans_rebuilt: number;
  retail_rows_written: number;
  seconds: number;
  rows_per_second: number;
}

async function assertPlan(db: Db | Trx, planId: number): Promise<void> {
  const plan = await db.selectFrom('plans').select('id').where('id', '=', planId).executeTakeFirst();
  if (!plan) throw notFound('Plan');
}

/**
 * Imports a CSV file of rates into a plan. Throws InvalidRowsError (nothing imported) when any
 * row is bad; otherwise everything is committed in one transaction.
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
  const { write, chunkRows: chunk } = rateWriter(target.dialect, target.sqlite);

  const outcome = await inTx(target.db, async (trx) => {
    await assertPlan(trx, planId);
    const now = nowIso();
    progress.phase('importing', rows.count);
    for (let from = 0; from < rows.count; from += chunk) {
      const to = Math.min(rows.count, from + chunk);
      await write(trx, planId, rows, order, from, to, now);
      progress.update(to, to);
    }
    progress.finish(rows.count, rows.count);
    await bumpRatesVersion(trx, planId);
    // Retail plans derived from this one are not touched: their clients are rated from these
    // rows at their reseller's markup (plans/retail-rates.ts).
    return { retailPlans: 0, retailRows: 0 };
  });
  progress.end();
  await target.durable?.();
  const seconds = (performance.now() - started) / 1000;
  return {
    plan_id: planId,
    rows_imported: rows.count,
    lines_read: parsed.lines,
    header: parsed.header,
    retail_plans_rebuilt: outcome.retailPlans,
    retail_rows_written: outcome.retailRows,
    seconds: Math.round(seconds * 1000) / 1000,
    rows_per_second: Math.round(rows.count / seconds),
  };
}
