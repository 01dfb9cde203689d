// Refill history: the credit postings of an account (admin refills, vouchers, reseller
// transfers, payments), straight from the ledger.
import type { Ctx } from '../context.js';
import { REFILL_KINDS } from '../ledger/ledger.js';
import { formatMoney, microsFromDb } from '../money.js';
import { formatLocal } from '../util/time.js';

export async function listRefills(ctx: Ctx, accountId: number, page: { limit: number; offset: number }) {
  const base = ctx.db.selectFrom('ledger_postings').where('account_id', '=', accountId)
    .where('kind', 'in', REFILL_KINDS).where('amount_micros', '>', 0);
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
  return {
    total: Number(total.n),
    limit: page.limit,
    offset: page.offset,
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
