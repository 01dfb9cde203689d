// Call history of an account, answered or failed, from the CDR table. A page reads one page of
// a partial index per kind of call (migration 0010) and its total from the maintained counts,
// so page one, and any page reached by cursor, take the same time at a thousand calls as at a
// million. A deep `offset` still walks the rows it skips: the cursor is the way down a long list.
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { listTotal } from '../db/list-counts.js';
import { formatMoney, microsFromDb } from '../money.js';
import type { CursorPage } from '../util/input.js';
import { pageWithNext } from '../util/input.js';
import { formatLocal } from '../util/time.js';

export async function listCalls(ctx: Ctx, accountId: number, page: CursorPage, which: 'answered' | 'failed' = 'answered') {
  // The disposition as a literal: the partial indexes are chosen only for a query that names
  // their condition, which a bound parameter does not.
  let query = ctx.db.selectFrom('calls').where('account_id', '=', accountId)
    .where('disposition', which === 'answered' ? '=' : '<>', sql.lit('ANSWERED'));
  if (page.afterId !== null) query = query.where('id', '<', page.afterId);
  const [total, found] = await Promise.all([
    listTotal(ctx.reads, ctx.db, accountId, which === 'answered' ? 'calls.answered' : 'calls.failed'),
    ctx.reads.all(query.selectAll().orderBy('id', 'desc').limit(page.limit + 1).offset(page.offset)),
  ]);
  const { rows, next } = pageWithNext(found, page.limit, (r) => Number(r.id));
  return {
    total,
    limit: page.limit,
    offset: page.offset,
    next,
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
