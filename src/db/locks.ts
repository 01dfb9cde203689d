// Row locks, the one place the dialects differ in how a transaction takes them. SQLite
// transactions start with BEGIN IMMEDIATE and so already hold the database's write lock.
import type { Db, Dialect, Trx } from './connect.js';
import { preparedQuery } from './prepared.js';

export interface LockedAccount {
  id: number;
  balance_micros: number;
  credit_limit_micros: number;
  reserved_micros: number;
  postpaid: number;
  active: number;
}

function lockQuery(db: Db | Trx, dialect: Dialect, count: number) {
  const q = db.selectFrom('accounts')
    .select(['id', 'balance_micros', 'credit_limit_micros', 'reserved_micros', 'postpaid', 'active'])
    .where('id', 'in', Array.from({ length: count }, () => 0)).orderBy('id');
  return dialect === 'postgres' ? q.forUpdate() : q;
}
// A call has one or two payers (client, reseller): one prepared statement for each count.
const lockOne = preparedQuery((db, dialect) => lockQuery(db, dialect, 1));
const lockTwo = preparedQuery((db, dialect) => lockQuery(db, dialect, 2));

/** Reads and locks the accounts, always in id order so two transactions never deadlock. */
export async function lockAccounts(trx: Trx, _dialect: Dialect, ids: number[]): Promise<Map<number, LockedAccount>> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  if (sorted.length > 2) throw new RangeError('a call has at most two payers');
  const rows = sorted.length === 1 ? await lockOne(trx, sorted) : await lockTwo(trx, sorted);
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id) }]));
}
