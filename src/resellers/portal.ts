// The white-label agent portal: what a reseller's own portal shows its clients. Every answer
// is about one client of the calling reseller and carries only what that client may see: never
// the reseller's balance, wholesale rates, markup or credit logic (CONTRACT §3).
import { isIP } from 'node:net';
import type { Actor } from '../accounts/actor.js';
import { checkPasswordLimited } from '../accounts/self.js';
import { reachableClient } from '../accounts/tenancy.js';
import { listCalls } from '../calls/history.js';
import type { Ctx } from '../context.js';
import type { Account } from '../db/schema.js';
import { accountInactive, AppError, badRequest, forbidden, tooManyRequests } from '../errors.js';
import { REFILL_KINDS } from '../ledger/ledger.js';
import { microsFromDb, moneyToJsonNumber, parseMoney } from '../money.js';
import { listRefills } from '../refills/refills.js';
import { listCallerIds } from '../sip/caller-ids.js';
import { listSipAccounts, SERVICE_KINDS } from '../sip/sip-accounts.js';
import { bool, paging } from '../util/input.js';
import { formatLocal, utcOffset } from '../util/time.js';

/** Version of the portal endpoints' wire format, for `portal-bootstrap`. */
export const PORTAL_API_VERSION = '1.0';

/** The `login` of a portal request: 400 when absent, then the tenancy guard (404 when not ours). */
export async function portalClient(ctx: Ctx, actor: Actor, login: unknown): Promise<Account> {
  if (typeof login !== 'string' || login.trim() === '') throw badRequest('login', 'is required');
  if (login.length > 64) throw badRequest('login', 'must be at most 64 characters');
  return reachableClient(ctx.db, actor, login.trim());
}

/**
 * The address a portal password check is counted under (CONTRACT §3): the end user's, as the
 * portal passes it in `client_ip`, counted within this reseller, so nothing one reseller's
 * visitors do limits another reseller's clients. Null when the portal passes none: the request
 * then comes from the portal's own server, shared by all of its visitors, and counting it would
 * let one visitor's typos (or one attacker) lock every client of the portal out; such checks
 * get the per-login limit only.
 */
export function portalAddress(actor: Actor, clientIp: unknown): string | null {
  if (clientIp === undefined || clientIp === null || clientIp === '') return null;
  if (typeof clientIp !== 'string' || clientIp.length > 64 || isIP(clientIp.trim()) === 0) {
    throw badRequest('client_ip', 'must be the end user\'s IPv4 or IPv6 address');
  }
  return `reseller-${actor.id}/${clientIp.trim().toLowerCase()}`;
}

/**
 * The client whose password is about to be checked. A login that is not one of this reseller's
 * clients counts as a failed attempt of the address (never of that login: a reseller must not be
 * able to lock out another tenant's client), so a portal cannot be used to probe logins freely.
 * Without an address nothing is counted: the answer (404) tells nothing a reseller's own client
 * list does not.
 */
export async function passwordCheckClient(ctx: Ctx, actor: Actor, login: unknown, address: string | null): Promise<Account> {
  const addressKey = address === null ? [] : [`ip:${address}`];
  if (addressKey.length > 0 && await ctx.limiter.isBlocked(addressKey)) {
    throw tooManyRequests('Too many failed password attempts; wait 15 minutes');
  }
  try {
    return await portalClient(ctx, actor, login);
  } catch (err) {
    if (addressKey.length > 0 && err instanceof AppError && err.status === 404) await ctx.limiter.recordFailure(addressKey);
    throw err;
  }
}

async function planName(ctx: Ctx, planId: number | null): Promise<string | null> {
  if (planId === null) return null;
  const plan = await ctx.db.selectFrom('plans').select('name').where('id', '=', planId).executeTakeFirst();
  return plan?.name ?? null;
}

/** A client as its portal shows it: identity, contact data, status and plan. */
export async function clientProfile(ctx: Ctx, actor: Actor, client: Account) {
  return {
    id: Number(client.id),
    login: client.login,
    username: client.login,
    name: client.name,
    email: client.email,
    phone: client.phone,
    language: client.language,
    // A client of an inactive reseller can do nothing, so it reads as inactive too.
    active: client.active === 1 && actor.active,
    id_plan: client.plan_id === null ? null : Number(client.plan_id),
    plan_name: await planName(ctx, client.plan_id === null ? null : Number(client.plan_id)),
    created_at: formatLocal(client.created_at),
  };
}

/** API and installation check for a portal: who it runs as, versions, the clock, the endpoints. */
export async function portalBootstrap(ctx: Ctx, actor: Actor, endpointNames: string[]) {
  const reseller = await ctx.db.selectFrom('accounts').select(['login', 'name']).where('id', '=', actor.id).executeTakeFirstOrThrow();
  const now = new Date();
  return {
    portal: {
      login: reseller.login,
      name: reseller.name ?? reseller.login,
      active: actor.active,
    },
    api: 'reseller',
    api_version: PORTAL_API_VERSION,
    sip_domain: ctx.config.sipDomain,
    server_time: formatLocal(now.toISOString()),
    server_utc_offset: utcOffset(now),
    endpoints: endpointNames,
  };
}

/**
 * Checks a client's portal password, rate-limited per login and, when the portal passes the end
 * user's `client_ip`, per that address within this reseller (see portalAddress).
 */
export async function clientAuth(ctx: Ctx, actor: Actor, input: { login?: unknown; password?: unknown; client_ip?: unknown }) {
  if (typeof input.login !== 'string' || input.login.trim() === '') throw badRequest('login', 'is required');
  if (typeof input.password !== 'string' || input.password === '') throw badRequest('password', 'is required');
  if (input.password.length > 1024) throw badRequest('password', 'is too long');
  const address = portalAddress(actor, input.client_ip);
  const client = await passwordCheckClient(ctx, actor, input.login, address);
  if (!(await checkPasswordLimited(ctx, client.login, address, input.password, client.password_hash))) {
    throw forbidden('INVALID_CREDENTIALS', 'Login or password is wrong');
  }
  // Only a caller who knows the password learns that the account is inactive.
  if (client.active !== 1 || !actor.active) throw accountInactive();
  return { authenticated: true, client: await clientProfile(ctx, actor, client) };
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
  const [sipAccounts, callerIds, calls, failedCalls, refills] = (await Promise.all([
    db.selectFrom('sip_accounts').select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', id).where('kind', 'not in', SERVICE_KINDS).executeTakeFirstOrThrow(),
    db.selectFrom('callerids').select((eb) => eb.fn.countAll().as('n')).where('account_id', '=', id).executeTakeFirstOrThrow(),
    db.selectFrom('calls').select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', id).where('disposition', '=', 'ANSWERED').executeTakeFirstOrThrow(),
    db.selectFrom('calls').select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', id).where('disposition', '<>', 'ANSWERED').executeTakeFirstOrThrow(),
    db.selectFrom('ledger_postings').select((eb) => eb.fn.countAll().as('n'))
      .where('account_id', '=', id).where('kind', 'in', REFILL_KINDS).where('amount_micros', '>', 0).executeTakeFirstOrThrow(),
  ])).map(counted);
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

export async function clientCalls(ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown }, which: 'answered' | 'failed') {
  const page = paging(input);
  const client = await portalClient(ctx, actor, input.login);
  const history = await listCalls(ctx, Number(client.id), page, which);
  return { login: client.login, ...history, calls: history.calls.map((c) => ({ ...c, cost: decimalToJsonNumber(c.cost) })) };
}

export async function clientRefills(ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown }) {
  const page = paging(input);
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
 * The retail rates the client is charged: the rows of its own plan, and only when that plan
 * is one of this reseller's (a reseller client is never on another owner's plan; if it were,
 * nothing would be shown rather than someone else's prices).
 */
export async function clientRates(ctx: Ctx, actor: Actor, input: { login?: unknown; limit?: unknown; offset?: unknown }) {
  const page = paging(input);
  const client = await portalClient(ctx, actor, input.login);
  const plan = client.plan_id === null
    ? undefined
    : await ctx.db.selectFrom('plans').select(['id', 'name']).where('id', '=', client.plan_id).where('owner_id', '=', actor.id).executeTakeFirst();
  if (!plan) return { login: client.login, plan: null, total: 0, limit: page.limit, offset: page.offset, rates: [] };
  const base = ctx.db.selectFrom('rates').where('plan_id', '=', plan.id);
  const total = counted(await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow());
  const rows = await base.select(['prefix', 'destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
    .orderBy('prefix').limit(page.limit).offset(page.offset).execute();
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
