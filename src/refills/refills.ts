// Refill history: the credit postings of an account (admin refills, vouchers, reseller
// transfers, payments), straight from the ledger. They are few among an account's call
// postings: a partial index holds just them (migration 0010), and the total is maintained.
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { listTotal } from '../db/list-counts.js';
import { REFILL_KINDS } from '../ledger/ledger.js';
import { formatMoney, microsFromDb } from '../money.js';
import type { CursorPage } from '../util/input.js';
import { pageWithNext } from '../util/input.js';
import { formatLocal } from '../util/time.js';

/**
 * The refill condition as literals, in the words of the partial index: a bound parameter would
 * not match it. Migration 0010's trigger counts the same kinds (a test pins the two together).
 */
const refillKinds = sql.join(REFILL_KINDS.map((k) => sql.lit(k)));

export async function listRefills(ctx: Ctx, accountId: number, page: CursorPage) {
  let query = ctx.db.selectFrom('ledger_postings').where('account_id', '=', accountId)
    .where(sql<boolean>`kind in (${refillKinds})`).where('amount_micros', '>', sql.lit(0));
  if (page.afterId !== null) query = query.where('id', '<', page.afterId);
  const [total, found] = await Promise.all([
    listTotal(ctx.reads, ctx.db, accountId, 'refills'),
    ctx.reads.all(query.selectAll().orderBy('id', 'desc').limit(page.limit + 1).offset(page.offset)),
  ]);
  const { rows, next } = pageWithNext(found, page.limit, (r) => Number(r.id));
  return {
    total,
    limit: page.limit,
    offset: page.offset,
    next,
    refills: rows.map((r) => ({
      id: Number(r.id),
      date: formatLocal(r.created_at),
      amount: formatMoney(microsFromDb(r.amount_micros), 4),
      balance_after: formatMoney(microsFromDb(r.balance_after_micros), 4),
      kind: r.kind,
      description: r.description,
    })),
  };
}
