// The white-label portal's views of one client of the calling reseller: installation check,
// dashboard, SIP accounts, calls, refills, caller IDs and retail rates. Each carries only what
// that client may see: never the reseller's balance, wholesale rates, markup or credit logic
// (CONTRACT §3).
import type { Actor } from '../accounts/actor.js';
import { listCalls, startedWithin } from '../calls/history.js';
import type { Ctx } from '../context.js';
import { listTotal } from '../db/list-counts.js';
import { microsFromDb, moneyToJsonNumber, parseMoney } from '../money.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { effectiveRetailCount, effectiveRetailPage, rateSearch } from '../plans/retail-rows.js';
import { listRefills } from '../refills/refills.js';
import { listCallerIds } from '../sip/caller-ids.js';
import { listSipAccounts, SERVICE_KINDS } from '../sip/sip-accounts.js';
import { bool, cursorPaging, paging } from '../util/input.js';
import { formatLocal, utcOffset } from '../util/time.js';
import { agentProfile, clientProfile, portalClient } from './portal-client.js';

/** Version of the portal endpoints' wire format, for `portal-bootstrap`. */
export const PORTAL_API_VERSION = '1.0';

/** API and installation check for a portal: who it runs as, versions, the clock, the endpoints. */
export async function portalBootstrap(ctx: Ctx, actor: Actor, endpointNames: string[]) {
  const reseller = await ctx.db.selectFrom('accounts').select(['login', 'name']).where('id', '=', actor.id).executeTakeFirstOrThrow();
  const now = new Date();
  return {
    portal: agentProfile(actor, reseller),
    api: 'reseller',
    api_version: PORTAL_API_VERSION,
    sip_domain: ctx.config.sipDomain,
    server_time: formatLocal(now.toISOString()),
    server_utc_offset: utcOffset(now),
    endpoints: endpointNames,
  };
}

/**
 * The Reseller API renders amounts as JSON numbers (its `me` does, CONTRACT §2); the history
 * views it shares with the Client API render them as decimal strings. Exact: at most 6 decimals.
 */
const decimalToJsonNumber = (text: string) => moneyToJsonNumber(parseMoney(text));

/** `select count(*) as n` of a query, as a number (PostgreSQL answers bigint counts as text). */
const counted = (row: { n: unknown }) => Number(row.n);

export async function clientDashboard(ctx: Ctx, actor: Actor, login: unknown) {
  const client = await portalClient(ctx, actor, login);
  const id = Number(client.id);
  const db = ctx.db;
  // SIP accounts and caller IDs are a handful per client, counted; the histories are not.
  const [sipAccounts, callerIds, calls, failedCalls, refills] = await Promise.all([
    ctx.reads.all(db.selectFrom('sip_accounts').select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', id).where('kind', 'not in', SERVICE_KINDS)).then((rows) => counted(rows[0])),
    ctx.reads.all(db.selectFrom('callerids').select((eb) => eb.fn.countAll().as('n')).where('account_id', '=', id)).then((rows) => counted(rows[0])),
    listTotal(ctx.reads, db, id, 'calls.answered'),
    listTotal(ctx.reads, db, id, 'calls.failed'),
    listTotal(ctx.reads, db, id, 'refills'),
  ]);
  const activeCid = await db.selectFrom('callerids').select('cid').where('account_id', '=', id).where('active', '=', 1).executeTakeFirst();
  return {
    client: {
      ...(await clientProfile(ctx, actor, client)),
      balance: moneyToJsonNumber(microsFromDb(client.balance_micros)),
      callerid: activeCid?.cid ?? null,
    },
    counts: { sip_accounts: sipAccounts, callerids: callerIds, calls, failed_calls: failedCalls, refills },
  };
}

/** SIP accounts without their secrets: those are shown only when created or reset. */
export async function clientSip(ctx: Ctx, actor: Actor, input: { login?: unknown; include_service?: unknown }) {
  const includeService = bool(input.include_service === '' ? undefined : input.include_service, 'include_service', false);
  const client = await portalClient(ctx, actor, input.login);
  const rows = await listSipAccounts(ctx, Number(client.id), { includeService, withPassword: false });
  return {
    login: client.login,
    sip_accounts: rows.map(({ password: _secret, ...rest }) => ({ ...rest, active: rest.active === 1 })),
  };
}

export async function clientCalls(
  ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown; after?: unknown; from?: unknown; to?: unknown },
  which: 'answered' | 'failed',
) {
  const page = cursorPaging(input);
  const started = startedWithin(input);
  const client = await portalClient(ctx, actor, input.login);
  const history = await listCalls(ctx, Number(client.id), page, which, started);
  return { login: client.login, ...history, calls: history.calls.map((c) => ({ ...c, cost: decimalToJsonNumber(c.cost) })) };
}

export async function clientRefills(ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown; after?: unknown }) {
  const page = cursorPaging(input);
  const client = await portalClient(ctx, actor, input.login);
  const history = await listRefills(ctx, Number(client.id), page);
  return {
    login: client.login,
    ...history,
    refills: history.refills.map((r) => ({ ...r, amount: decimalToJsonNumber(r.amount), balance_after: decimalToJsonNumber(r.balance_after) })),
  };
}

export async function clientCallerIds(ctx: Ctx, actor: Actor, login: unknown) {
  const client = await portalClient(ctx, actor, login);
  const callerids = await listCallerIds(ctx, Number(client.id));
  return { login: client.login, total: callerids.length, callerids: callerids.map((c) => ({ ...c, active: c.active === 1 })) };
}

/**
 * The retail rates the client is charged, as rating computes them: its plan's overrides and its
 * wholesale plan's rows at the reseller's markup (plans/retail-rows.ts), paged by prefix and,
 * with `search`, narrowed in the same statements (a page and `total` alike). Only
 * when that plan is one of this reseller's (a reseller client is never on another owner's plan;
 * if it were, nothing would be shown rather than someone else's prices).
 */
export async function clientRates(ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown; search?: unknown }) {
  const page = paging(input);
  const search = rateSearch(input.search);
  const client = await portalClient(ctx, actor, input.login);
  const plan = client.plan_id === null
    ? undefined
    : await ctx.db.selectFrom('plans as p').innerJoin('accounts as a', 'a.id', 'p.owner_id')
      .select(['p.id', 'p.name', 'p.wholesale_plan_id', 'a.markup_micro_percent'])
      .where('p.id', '=', client.plan_id).where('p.owner_id', '=', actor.id).executeTakeFirst();
  if (!plan) return { login: client.login, plan: null, total: 0, limit: page.limit, offset: page.offset, rates: [] };
  const source = {
    retailPlanId: Number(plan.id),
    wholesalePlanId: plan.wholesale_plan_id === null ? null : Number(plan.wholesale_plan_id),
    markupMicroPercent: markupOrDefault(plan.markup_micro_percent),
  };
  const [total, rows] = await Promise.all([
    effectiveRetailCount(ctx.db, ctx.reads, source, search),
    effectiveRetailPage(ctx.db, ctx.reads, source, page, search),
  ]);
  return {
    login: client.login,
    plan: { id: Number(plan.id), name: plan.name },
    total,
    limit: page.limit,
    offset: page.offset,
    rates: rows.map((r) => ({
      prefix: r.prefix,
      destination: r.destination,
      rate: moneyToJsonNumber(microsFromDb(r.rate_micros)),
      connect_charge: moneyToJsonNumber(microsFromDb(r.connect_charge_micros)),
      initblock: r.initblock,
      billingblock: r.billingblock,
      minimal_time: r.minimal_time,
    })),
  };
}
