// A reseller ("Agent") and its own clients: its account, its plans, creating clients on those
// plans, reading them, switching them on and off, and moving them between its plans.
// Every client is looked up through the tenancy guard: another tenant's client is a 404.
import { sql } from 'kysely';
import type { Actor } from '../accounts/actor.js';
import { assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import { listTotal } from '../db/list-counts.js';
import type { Account, Plan } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { notFound } from '../errors.js';
import { microsFromDb, moneyToJsonNumber } from '../money.js';
import { createClient } from '../onboarding/onboarding.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { effectiveRetailCount } from '../plans/retail-rows.js';
import { SERVICE_KINDS } from '../sip/sip-accounts.js';
import { bool, cursorPaging, escapeLike, optionalString, pageWithNext, positiveInt, requiredString } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';

/** The Reseller API's `me`, rendered from the row read with the API key. */
export function resellerMe(actor: Actor) {
  return {
    id: actor.id,
    username: actor.login,
    group: 'Agent',
    balance: moneyToJsonNumber(microsFromDb(actor.readAtAuth.balanceMicros)),
    active: actor.active,
  };
}

/** A client as its reseller sees it. Never carries a SIP secret or a password. */
export function resellerClientView(a: Account, planName: string | null) {
  return {
    id: Number(a.id),
    login: a.login,
    username: a.login,
    plan_id: a.plan_id === null ? null : Number(a.plan_id),
    plan_name: planName,
    balance: moneyToJsonNumber(microsFromDb(a.balance_micros)),
    active: a.active === 1,
    name: a.name,
    email: a.email,
    phone: a.phone,
    language: a.language,
    created_at: formatLocal(a.created_at),
  };
}

/**
 * The reseller's own plans with the number of rate rows of each (`agent_rates`): for a retail
 * plan, its effective rows (wholesale at the markup, plus its overrides), the prices its clients
 * are rated at.
 */
export async function resellerPlans(ctx: Ctx, actor: Actor) {
  const rows = await ctx.reads.all(ctx.db.selectFrom('plans as p')
    .leftJoin('accounts as a', 'a.id', 'p.owner_id')
    .selectAll('p').select('a.markup_micro_percent')
    .where('p.owner_id', '=', actor.id)
    .orderBy('p.id'));
  return Promise.all(rows.map(async (p) => ({
    id: Number(p.id),
    name: p.name,
    signup: p.signup === 1,
    initial_credit: moneyToJsonNumber(microsFromDb(p.initial_credit_micros)),
    tariff_limit: p.tariff_limit,
    agent_rates: await effectiveRetailCount(ctx.db, ctx.reads, {
      retailPlanId: Number(p.id),
      wholesalePlanId: p.wholesale_plan_id === null ? null : Number(p.wholesale_plan_id),
      markupMicroPercent: markupOrDefault(p.markup_micro_percent),
    }),
  })));
}

async function planName(db: Ctx['db'], planId: number | null): Promise<string | null> {
  if (planId === null) return null;
  const p = await db.selectFrom('plans').select('name').where('id', '=', planId).executeTakeFirst();
  return p?.name ?? null;
}

/**
 * Creates a client on one of the reseller's own plans (a foreign plan is a 404) with its main
 * SIP account. The SIP password, the API key and a generated account password are shown here
 * only.
 */
export async function createResellerClient(ctx: Ctx, actor: Actor, input: { plan_id?: unknown; login?: unknown; password?: unknown }) {
  assertActive(actor);
  const created = await createClient(ctx, actor.id, { plan_id: input.plan_id, login: input.login, password: input.password });
  return {
    client: resellerClientView(created.client, created.plan.name),
    sip: { name: created.sip.name, password: created.sip.password },
    api_key: created.apiKey,
    ...(created.password ? { password: created.password } : {}),
  };
}

export async function getResellerClient(ctx: Ctx, actor: Actor, login: unknown) {
  const l = requiredString(login, 'login', 64);
  const client = await reachableClient(ctx.db, actor, l);
  const sips = await ctx.db.selectFrom('sip_accounts').select(['name', 'kind', 'active'])
    .where('account_id', '=', client.id).where('kind', 'not in', SERVICE_KINDS).orderBy('id').execute();
  return {
    client: {
      ...resellerClientView(client, await planName(ctx.db, client.plan_id === null ? null : Number(client.plan_id))),
      sip_accounts: sips.map((s) => ({ name: s.name, type: s.kind === 'main' ? 'main' : 'additional', active: s.active === 1 })),
    },
  };
}

/**
 * The reseller's clients, oldest first: one page of the (parent, role, id) index and the
 * maintained count of its clients; `after` continues past the last client of an earlier page.
 */
export async function listResellerClients(ctx: Ctx, actor: Actor, query: { limit?: unknown; offset?: unknown; after?: unknown; search?: unknown }) {
  const page = cursorPaging(query);
  const search = optionalString(query.search, 'search', 64)?.trim().toLowerCase() || null;
  let filtered = ctx.db.selectFrom('accounts as a').where('a.parent_id', '=', actor.id).where('a.role', '=', 'client');
  // A portal's search box: the start of a login, or a part of the name, in any case.
  if (search !== null) {
    filtered = filtered.where((eb) => eb.or([
      eb('a.login', 'like', sql<string>`${`${escapeLike(search)}%`} escape '\\'`),
      eb(sql<string>`lower(a.name)`, 'like', sql<string>`${`%${escapeLike(search)}%`} escape '\\'`),
    ]));
  }
  const base = page.afterId !== null ? filtered.where('a.id', '>', page.afterId) : filtered;
  const [total, found] = await Promise.all([
    // Unfiltered, the maintained count; a search counts its rows (one reseller's clients).
    search === null
      ? listTotal(ctx.reads, ctx.db, actor.id, 'clients')
      : ctx.reads.all(filtered.select((eb) => eb.fn.countAll<number>().as('n'))).then((r) => Number(r[0]?.n ?? 0)),
    ctx.reads.all(base.leftJoin('plans as p', 'p.id', 'a.plan_id')
      .selectAll('a').select('p.name as plan_name')
      .orderBy('a.id').limit(page.limit + 1).offset(page.offset)),
  ]);
  const { rows, next } = pageWithNext(found, page.limit, (r) => Number(r.id));
  return {
    total,
    limit: page.limit,
    offset: page.offset,
    next,
    clients: rows.map((r) => resellerClientView(r, r.plan_name)),
  };
}

export async function setResellerClientStatus(ctx: Ctx, actor: Actor, input: { login?: unknown; active?: unknown }) {
  assertActive(actor);
  const login = requiredString(input.login, 'login', 64);
  const active = bool(input.active, 'active');
  return inTx(ctx.db, async (trx) => {
    const client = await reachableClient(trx, actor, login);
    const changed = (client.active === 1) !== active;
    if (changed) {
      await trx.updateTable('accounts').set({ active: active ? 1 : 0, updated_at: nowIso() }).where('id', '=', client.id).execute();
    }
    return { login: client.login, active, changed };
  });
}

/** Moves a client to another of the reseller's own plans (any other plan is a 404). */
export async function changeResellerClientPlan(ctx: Ctx, actor: Actor, input: { login?: unknown; plan_id?: unknown }) {
  assertActive(actor);
  const login = requiredString(input.login, 'login', 64);
  const planId = positiveInt(input.plan_id, 'plan_id');
  return inTx(ctx.db, async (trx) => {
    const client = await reachableClient(trx, actor, login);
    const plan: Plan | undefined = await trx.selectFrom('plans').selectAll()
      .where('id', '=', planId).where('owner_id', '=', actor.id).executeTakeFirst();
    if (!plan) throw notFound('Plan');
    const changed = client.plan_id === null || Number(client.plan_id) !== planId;
    if (changed) {
      await trx.updateTable('accounts').set({ plan_id: planId, updated_at: nowIso() }).where('id', '=', client.id).execute();
    }
    return { login: client.login, plan_id: planId, plan_name: plan.name, changed };
  });
}
