// Call history of an account, answered or failed, from the CDR table. A page reads one page of
// a partial index per kind of call (migration 0010) and its total from the maintained counts,
// so page one, and any page reached by cursor, take the same time at a thousand calls as at a
// million. A deep `offset` still walks the rows it skips: the cursor is the way down a long list.
//
// Filtered by start time (days of the billing timezone), a page and its total read the calls
// of those days from an index by start time (migration 0018), never the rest of the history:
// their cost grows with the calls in the window, not with the account's age.
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { listTotal } from '../db/list-counts.js';
import { badRequest } from '../errors.js';
import { formatMoney, microsFromDb } from '../money.js';
import type { CursorPage } from '../util/input.js';
import { optionalDay, pageWithNext } from '../util/input.js';
import { formatLocal } from '../util/time.js';

/** Calls started from `fromIso` (inclusive) to `beforeIso` (exclusive), as stored: ISO 8601 UTC text, compared as text. */
export interface StartedWithin {
  fromIso: string | null;
  beforeIso: string | null;
}

/**
 * `from` and `to`, days `YYYY-MM-DD` of the billing timezone: from the first second of `from`
 * through the last of `to`. null when neither is given; 400 naming the field that is malformed,
 * or `to` when it comes before `from`.
 */
export function startedWithin(input: { from?: unknown; to?: unknown }): StartedWithin | null {
  const from = optionalDay(input.from, 'from');
  const to = optionalDay(input.to, 'to');
  if (!from && !to) return null;
  if (from && to && to.start < from.start) throw badRequest('to', 'must be the same day as from or later');
  return { fromIso: from?.start.toISOString() ?? null, beforeIso: to?.next.toISOString() ?? null };
}

export async function listCalls(ctx: Ctx, accountId: number, page: CursorPage, which: 'answered' | 'failed' = 'answered', started: StartedWithin | null = null) {
  // The disposition as a literal: the partial indexes are chosen only for a query that names
  // their condition, which a bound parameter does not.
  let listed = ctx.db.selectFrom('calls').where('account_id', '=', accountId)
    .where('disposition', which === 'answered' ? '=' : '<>', sql.lit('ANSWERED'));
  if (started?.fromIso) listed = listed.where('started_at', '>=', started.fromIso);
  if (started?.beforeIso) listed = listed.where('started_at', '<', started.beforeIso);
  const paged = page.afterId === null ? listed : listed.where('id', '<', page.afterId);
  // Within a window the page's ids are sorted from the start-time index alone, and only they
  // are read from the table. Sorted by `id + 0`, not `id`: offered the id order, a planner
  // walks a primary key or the index without start times newest first, hoping to meet the
  // window soon, and crosses every later call before it (of the account, or of all accounts).
  const pageRows = started === null
    ? paged.selectAll().orderBy('id', 'desc').limit(page.limit + 1).offset(page.offset)
    : ctx.db.selectFrom('calls').selectAll().orderBy('id', 'desc')
      .where('id', 'in', paged.select('id').orderBy(sql`id + 0`, 'desc').limit(page.limit + 1).offset(page.offset));
  const [total, found] = await Promise.all([
    started === null
      ? listTotal(ctx.reads, ctx.db, accountId, which === 'answered' ? 'calls.answered' : 'calls.failed')
      // The maintained counts are of whole lists: a window's calls are counted, in the same index.
      : ctx.reads.all(listed.select((eb) => eb.fn.countAll().as('n'))).then((r) => Number(r[0].n)),
    ctx.reads.all(pageRows),
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
