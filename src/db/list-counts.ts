// The totals of the lists, read instead of counted: `list_counts` holds each list's row count per
// owner, kept exact by the database's own triggers (migration 0010) in the transaction of every
// write that adds, removes or re-files a counted row. A total is one primary-key read, however
// long the history: a count(*) per request grew with it (a quarter of a second at a million calls).
import type { Db } from './schema.js';
import type { HeavyReads } from './heavy-reads.js';

/** The lists counted, as migration 0010 names them. */
export type CountedList =
  | 'calls.answered' | 'calls.failed' | 'refills' | 'clients'
  | 'transactions' | `transactions:${string}` | 'accounts' | `accounts:${string}`;

/** Owner of the operator's own lists (every account, by role). */
export const OPERATOR_LISTS = 0;

/** The number of rows in `list` of `ownerId`; 0 when none was ever counted. */
export async function listTotal(reads: HeavyReads, db: Db, ownerId: number, list: CountedList): Promise<number> {
  const rows = await reads.all(db.selectFrom('list_counts').select('n')
    .where('owner_id', '=', ownerId).where('list', '=', list));
  // PostgreSQL answers bigint as text.
  return rows.length === 0 ? 0 : Number(rows[0].n);
}
