// Call history of an account, answered or failed, from the CDR table.
import type { Ctx } from '../context.js';
import { formatMoney, microsFromDb } from '../money.js';
import { formatLocal } from '../util/time.js';

export async function listCalls(
  ctx: Ctx, accountId: number, page: { limit: number; offset: number }, which: 'answered' | 'failed' = 'answered',
) {
  const base = ctx.db.selectFrom('calls').where('account_id', '=', accountId)
    .where('disposition', which === 'answered' ? '=' : '<>', 'ANSWERED');
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
  return {
    total: Number(total.n),
    limit: page.limit,
    offset: page.offset,
    calls: rows.map((r) => ({
      id: Number(r.id),
      uniqueid: r.uniqueid,
      starttime: formatLocal(r.started_at),
      sip_login: r.sip_login,
      callerid: r.caller_id,
      destination: r.destination,
      destination_name: r.rate_destination,
      prefix: r.rate_prefix,
      sessiontime: r.answered_seconds,
      billed_seconds: r.billed_seconds,
      cost: formatMoney(microsFromDb(r.cost_micros), 4),
      disposition: r.disposition,
      hangup_cause: r.hangup_cause,
    })),
  };
}
