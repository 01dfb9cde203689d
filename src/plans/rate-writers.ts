// Writes validated CSV rows into a plan's rates: upserts by (plan_id, prefix) in the caller's
// transaction, through the dialect's bulk upsert (db/dialect.ts). On PostgreSQL also a plain
// insert for rows known to be new (cheaper than the upsert's speculative insert) and the
// question of which prefixes a plan already has.
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import type { Trx } from '../db/connect.js';
import { bulkUpsert, pgBulkInsert, type BulkUpsert, type Dialect } from '../db/dialect.js';
import type { RateColumns } from '../rating/rate-columns.js';

const RATES_UPSERT = {
  table: 'rates',
  constants: [{ name: 'plan_id', pgType: 'bigint' }, { name: 'updated_at', pgType: 'text' }],
  columns: [
    { name: 'prefix', pgType: 'text' },
    { name: 'destination', pgType: 'text', fewValues: true },
    { name: 'rate_micros', pgType: 'bigint' },
    { name: 'connect_charge_micros', pgType: 'bigint' },
    { name: 'initblock', pgType: 'int' },
    { name: 'billingblock', pgType: 'int' },
    { name: 'minimal_time', pgType: 'int' },
  ],
  conflict: ['plan_id', 'prefix'],
} as const;

/** Writes rows order[from..to) of `rows`. */
export type WriteRates = (trx: Trx, planId: number, rows: RateColumns, order: Uint32Array, from: number, to: number, now: string) => Promise<void>;

export interface RateWriter {
  /** Upserts by (plan_id, prefix). */
  write: WriteRates;
  /**
   * PostgreSQL: inserts rows none of which the plan has (fails with 23505 when one is there,
   * and the transaction with it). Undefined on SQLite.
   */
  insertNew?: WriteRates;
}

function writerOf(upsert: BulkUpsert): WriteRates {
  return (trx, planId, rows, order, from, to, now) => {
    const { destinations, destinationId, rateMicros, connectMicros, blocks } = rows;
    // In the order of RATES_UPSERT.columns.
    return upsert(trx, [planId, now], to - from, (k, out, o) => {
      const i = order[from + k];
      out[o] = rows.prefixOf(i);
      out[o + 1] = destinations[destinationId[i]];
      out[o + 2] = rateMicros[i];
      out[o + 3] = connectMicros[i];
      out[o + 4] = blocks[i * 3];
      out[o + 5] = blocks[i * 3 + 1];
      out[o + 6] = blocks[i * 3 + 2];
    });
  };
}

/** The rate writer of the dialect; SQLite's needs the connection under the transaction (DbHandle.sqlite). */
export function rateWriter(dialect: Dialect, sqlite?: SqliteDatabase.Database): RateWriter {
  if (dialect === 'sqlite' && !sqlite) throw new Error('SQLite rate import needs the database connection (DbHandle.sqlite)');
  return {
    write: writerOf(bulkUpsert(dialect, RATES_UPSERT, sqlite)),
    insertNew: dialect === 'postgres' ? writerOf(pgBulkInsert(RATES_UPSERT)) : undefined,
  };
}

/**
 * PostgreSQL: splits rows order[from..to) into those whose prefix the plan has (as its
 * transaction sees it) and the others, each in prefix order.
 */
export async function splitByPresence(trx: Trx, planId: number, rows: RateColumns, order: Uint32Array, from: number, to: number): Promise<{ present: Uint32Array; absent: Uint32Array }> {
  const prefixes = new Array<string>(to - from);
  for (let k = from; k < to; k++) prefixes[k - from] = rows.prefixOf(order[k]);
  const found = await trx.executeQuery<{ prefix: string }>(CompiledQuery.raw(
    'select prefix from rates where plan_id = $1 and prefix = any($2::text[])', [planId, prefixes]));
  if (found.rows.length === 0) return { present: new Uint32Array(0), absent: order.subarray(from, to) };
  const have = new Set(found.rows.map((r) => r.prefix));
  const present = new Uint32Array(have.size);
  const absent = new Uint32Array(to - from - have.size);
  let p = 0;
  let a = 0;
  for (let k = from; k < to; k++) {
    if (have.has(prefixes[k - from])) present[p++] = order[k];
    else absent[a++] = order[k];
  }
  return { present, absent };
}
