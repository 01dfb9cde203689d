// Plans (rate tables) and their rates: wholesale plans of the admin, retail plans of resellers
// derived from wholesale by the reseller's markup (computed when rating, plans/retail-rates.ts;
// a retail plan stores only its overrides).
import { sql } from 'kysely';
import type { Actor } from '../accounts/actor.js';
import { accountById, assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import type { Plan } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, notFound } from '../errors.js';
import { MAX_RATE_MICROS, microsFromDb, moneyToJsonNumber, type Micros } from '../money.js';
import { bool, intInRange, money, optionalMoney, positiveInt, requiredString } from '../util/input.js';
import { nowIso } from '../util/time.js';

export { DEFAULT_MARKUP_MICRO_PERCENT } from './retail-rates.js';
export const MAX_RATES_PER_REQUEST = 10_000;

const UPSERT_BATCH = 500;

export interface RateInput {
  prefix: string;
  destination: string;
  rateMicros: Micros;
  connectChargeMicros: Micros;
  initblock: number;
  billingblock: number;
  minimalTime: number;
}

export function parseRate(raw: unknown, field: string): RateInput {
  if (!raw || typeof raw !== 'object') throw badRequest(field, 'must be an object');
  const r = raw as Record<string, unknown>;
  const prefix = typeof r.prefix === 'number' ? String(r.prefix) : r.prefix;
  if (typeof prefix !== 'string' || !/^\d{1,15}$/.test(prefix)) throw badRequest(`${field}.prefix`, 'must be 1-15 digits');
  return {
    prefix,
    destination: requiredString(r.destination, `${field}.destination`, 100),
    rateMicros: money(r.rate, `${field}.rate`, { max: MAX_RATE_MICROS }),
    connectChargeMicros: optionalMoney(r.connect_charge, `${field}.connect_charge`, 0n, { max: MAX_RATE_MICROS }),
    initblock: intInRange(r.initblock, `${field}.initblock`, 1, 86400, 1),
    billingblock: intInRange(r.billingblock, `${field}.billingblock`, 1, 86400, 1),
    minimalTime: intInRange(r.minimal_time, `${field}.minimal_time`, 0, 86400, 0),
  };
}

export function planView(p: Plan) {
  return {
    id: Number(p.id),
    name: p.name,
    signup: p.signup === 1,
    initial_credit: moneyToJsonNumber(microsFromDb(p.initial_credit_micros)),
    selectable: p.selectable === 1,
    owner_id: p.owner_id === null ? null : Number(p.owner_id),
    wholesale_plan_id: p.wholesale_plan_id === null ? null : Number(p.wholesale_plan_id),
  };
}

export async function createPlan(ctx: Ctx, input: { name?: unknown; signup?: unknown; initial_credit?: unknown; selectable?: unknown }): Promise<Plan> {
  const name = requiredString(input.name, 'name', 100);
  const values = {
    owner_id: null,
    name,
    signup: bool(input.signup, 'signup', false) ? 1 : 0,
    initial_credit_micros: optionalMoney(input.initial_credit, 'initial_credit', 0n),
    selectable: bool(input.selectable, 'selectable', true) ? 1 : 0,
    tariff_limit: 3,
    wholesale_plan_id: null,
    created_at: nowIso(),
  };
  return inTx(ctx.db, (trx) => trx.insertInto('plans').values(values).returningAll().executeTakeFirstOrThrow());
}

/** Marks a plan's rates changed, in the transaction of the change, for the rate caches. */
export async function bumpRatesVersion(trx: Trx, planId: number): Promise<void> {
  await trx.updateTable('plans').set({ rates_version: sql`rates_version + 1` }).where('id', '=', planId).execute();
}

/** Upserts rates by prefix in the caller's transaction. */
export async function upsertRates(trx: Trx, planId: number, rates: RateInput[]): Promise<void> {
  await bumpRatesVersion(trx, planId);
  const now = nowIso();
  for (let i = 0; i < rates.length; i += UPSERT_BATCH) {
    const batch = rates.slice(i, i + UPSERT_BATCH).map((r) => ({
      plan_id: planId,
      prefix: r.prefix,
      destination: r.destination,
      rate_micros: r.rateMicros,
      connect_charge_micros: r.connectChargeMicros,
      initblock: r.initblock,
      billingblock: r.billingblock,
      minimal_time: r.minimalTime,
      updated_at: now,
    }));
    await trx.insertInto('rates').values(batch)
      .onConflict((oc) => oc.columns(['plan_id', 'prefix']).doUpdateSet((eb) => ({
        destination: eb.ref('excluded.destination'),
        rate_micros: eb.ref('excluded.rate_micros'),
        connect_charge_micros: eb.ref('excluded.connect_charge_micros'),
        initblock: eb.ref('excluded.initblock'),
        billingblock: eb.ref('excluded.billingblock'),
        minimal_time: eb.ref('excluded.minimal_time'),
        updated_at: eb.ref('excluded.updated_at'),
      })))
      .execute();
  }
}

/**
 * Admin `add-rates`: upserts into a plan. Into a wholesale plan, the rows reach every reseller
 * client at once, marked up when rated (plans/retail-rates.ts): no retail plan is written, so
 * `retail_plans_updated` is 0. Into a reseller's retail plan, the rows are its overrides: the
 * reseller's own prices, kept through markup changes and wholesale imports.
 */
export async function addRates(ctx: Ctx, input: { plan_id?: unknown; rates?: unknown }): Promise<{ plan_id: number; upserted: number; retail_plans_updated: number }> {
  const planId = positiveInt(input.plan_id, 'plan_id');
  if (!Array.isArray(input.rates) || input.rates.length === 0) throw badRequest('rates', 'must be a non-empty array');
  if (input.rates.length > MAX_RATES_PER_REQUEST) throw badRequest('rates', `at most ${MAX_RATES_PER_REQUEST} rows per request; use the CSV import for more`);
  const rates = input.rates.map((r, i) => parseRate(r, `rates[${i}]`));
  const seen = new Map<string, number>();
  rates.forEach((r, i) => {
    const first = seen.get(r.prefix);
    if (first !== undefined) throw badRequest(`rates[${i}].prefix`, `repeats the prefix of rates[${first}]`);
    seen.set(r.prefix, i);
  });
  return inTx(ctx.db, async (trx) => {
    const plan = await trx.selectFrom('plans').selectAll().where('id', '=', planId).executeTakeFirst();
    if (!plan) throw notFound('Plan');
    await upsertRates(trx, planId, rates);
    return { plan_id: planId, upserted: rates.length, retail_plans_updated: 0 };
  });
}

/** Plans a client may choose: selectable plans of its own operator (the admin or its reseller), and its current one. */
export async function availablePlans(ctx: Ctx, actor: Actor): Promise<{ plans: Plan[]; currentPlanId: number | null }> {
  const account = await accountById(ctx.db, actor.id);
  const q = ctx.db.selectFrom('plans').selectAll().where((eb) => eb.or([
    eb.and([
      account.parent_id === null ? eb('owner_id', 'is', null) : eb('owner_id', '=', account.parent_id),
      eb('selectable', '=', 1),
    ]),
    eb('id', '=', account.plan_id ?? -1),
  ]));
  return { plans: await q.orderBy('id').execute(), currentPlanId: account.plan_id === null ? null : Number(account.plan_id) };
}

export async function changeOwnPlan(ctx: Ctx, actor: Actor, idPlan: unknown): Promise<Plan> {
  assertActive(actor);
  const planId = positiveInt(idPlan, 'id_plan');
  return inTx(ctx.db, async (trx) => {
    const { plans } = await availablePlans({ ...ctx, db: trx }, actor);
    const plan = plans.find((p) => Number(p.id) === planId);
    if (!plan) throw notFound('Plan');
    await trx.updateTable('accounts').set({ plan_id: planId, updated_at: nowIso() }).where('id', '=', actor.id).execute();
    return plan;
  });
}
