// Writes validated CSV rows into a plan's rates: upserts by (plan_id, prefix) in the caller's
// transaction, through the dialect's bulk upsert (db/dialect.ts), in chunks the caller reports
// progress by.
import type SqliteDatabase from 'better-sqlite3';
import type { Trx } from '../db/connect.js';
import { bulkChunkRows, bulkUpsert, type Dialect } from '../db/dialect.js';
import type { RateColumns } from '../rating/rate-columns.js';

const RATES_UPSERT = {
  table: 'rates',
  constants: [{ name: 'plan_id', pgType: 'bigint' }, { name: 'updated_at', pgType: 'text' }],
  columns: [
    { name: 'prefix', pgType: 'text' },
    { name: 'destination', pgType: 'text' },
    { name: 'rate_micros', pgType: 'bigint' },
    { name: 'connect_charge_micros', pgType: 'bigint' },
    { name: 'initblock', pgType: 'int' },
    { name: 'billingblock', pgType: 'int' },
    { name: 'minimal_time', pgType: 'int' },
  ],
  conflict: ['plan_id', 'prefix'],
} as const;

export interface RateWriter {
  /** Rows per write call: what progress is reported by. */
  chunkRows: number;
  /** Writes rows order[from..to) of `rows`. */
  write(trx: Trx, planId: number, rows: RateColumns, order: Uint32Array, from: number, to: number, now: string): Promise<void>;
}

/** The rate writer of the dialect; SQLite's needs the connection under the transaction (DbHandle.sqlite). */
export function rateWriter(dialect: Dialect, sqlite?: SqliteDatabase.Database): RateWriter {
  if (dialect === 'sqlite' && !sqlite) throw new Error('SQLite rate import needs the database connection (DbHandle.sqlite)');
  const upsert = bulkUpsert(dialect, RATES_UPSERT, sqlite);
  return {
    chunkRows: bulkChunkRows(dialect),
    write: (trx, planId, rows, order, from, to, now) => {
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
    },
  };
}
