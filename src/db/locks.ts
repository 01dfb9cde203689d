// Row locks, the one place the dialects differ in how a transaction takes them. SQLite
// transactions start with BEGIN IMMEDIATE and so already hold the database's write lock.
import type { Dialect, Trx } from './connect.js';

export interface LockedAccount {
  id: number;
  balance_micros: number;
  credit_limit_micros: number;
  reserved_micros: number;
  postpaid: number;
  active: number;
}

/** Reads and locks the accounts, always in id order so two transactions never deadlock. */
export async function lockAccounts(trx: Trx, dialect: Dialect, ids: number[]): Promise<Map<number, LockedAccount>> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  let q = trx.selectFrom('accounts')
    .select(['id', 'balance_micros', 'credit_limit_micros', 'reserved_micros', 'postpaid', 'active'])
    .where('id', 'in', sorted).orderBy('id');
  if (dialect === 'postgres') q = q.forUpdate();
  const rows = await q.execute();
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id) }]));
}
