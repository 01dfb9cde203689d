// The reseller's markup: its retail plan's rows are its wholesale plan's rows times
// (1 + markup/100), half-up to 6 decimals. Reading it, previewing a new one against the
// wholesale rows, and applying it (rewriting the retail rows; nothing when already active).
// Wholesale prices are the reseller's own business: these endpoints are not for its portals.
import type { Actor } from '../accounts/actor.js';
import { parseMarkupPercent } from '../accounts/provisioning.js';
import { accountById, assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { lockRowsForChange } from '../db/dialect.js';
import type { Account, Plan } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict } from '../errors.js';
import { applyMarkup, microsFromDb, moneyToJsonNumber, type Micros } from '../money.js';
import { DEFAULT_MARKUP_MICRO_PERCENT, rebuildRetailPlan } from '../plans/plans.js';
import { clampedLimit } from '../util/input.js';
import { nowIso } from '../util/time.js';

export const PREVIEW_DEFAULT_ROWS = 10;
export const PREVIEW_MAX_ROWS = 100;

const markupOf = (a: Account): bigint =>
  a.markup_micro_percent === null ? DEFAULT_MARKUP_MICRO_PERCENT : microsFromDb(a.markup_micro_percent);

/** Micro-percent as the JSON number of percent (20000000 → 20, 12500000 → 12.5). */
const percent = (microPercent: bigint): number => moneyToJsonNumber(microPercent);

function requiredMarkup(value: unknown): bigint {
  if (value === undefined || value === null || value === '') throw badRequest('markup_percent', 'is required');
  return parseMarkupPercent(value, DEFAULT_MARKUP_MICRO_PERCENT);
}

interface RetailPlan { account: Account; plan: Plan; wholesalePlanId: number }

/** The reseller's account and its retail plan; 409 when it has none. */
async function retailPlanOf(db: Db | Trx, actor: Actor): Promise<RetailPlan> {
  const account = await accountById(db, actor.id);
  const plan = account.retail_plan_id === null ? undefined : await db.selectFrom('plans').selectAll()
    .where('id', '=', account.retail_plan_id).where('owner_id', '=', actor.id).executeTakeFirst();
  const wholesale = plan?.wholesale_plan_id ?? account.plan_id;
  if (!plan || wholesale === null) throw conflict('NO_RETAIL_PLAN', 'This reseller has no retail plan derived from a wholesale plan');
  return { account, plan, wholesalePlanId: Number(wholesale) };
}

async function rowCount(db: Db | Trx, planId: number): Promise<number> {
  const r = await db.selectFrom('rates').select((eb) => eb.fn.countAll<number>().as('n')).where('plan_id', '=', planId).executeTakeFirstOrThrow();
  return Number(r.n);
}

const planSummary = (plan: Plan, rows: number) => ({ id: Number(plan.id), name: plan.name, agent_rates: rows });

export async function agentMarkup(ctx: Ctx, actor: Actor) {
  const { account, plan } = await retailPlanOf(ctx.db, actor);
  return { markup_percent: percent(markupOf(account)), retail_plan: planSummary(plan, await rowCount(ctx.db, Number(plan.id))) };
}

/** Retail prices the new markup would give, for the first rows (by prefix); changes nothing. */
export async function previewAgentMarkup(ctx: Ctx, actor: Actor, input: { markup_percent?: unknown; limit?: unknown }) {
  const markup = requiredMarkup(input.markup_percent);
  const limit = clampedLimit(input.limit, PREVIEW_MAX_ROWS, PREVIEW_DEFAULT_ROWS);
  const { account, plan, wholesalePlanId } = await retailPlanOf(ctx.db, actor);
  const rows = await ctx.db.selectFrom('rates as w')
    .leftJoin('rates as r', (join) => join.onRef('r.prefix', '=', 'w.prefix').on('r.plan_id', '=', Number(plan.id)))
    .select([
      'w.prefix', 'w.destination', 'w.rate_micros', 'w.connect_charge_micros',
      'r.rate_micros as retail_rate_micros', 'r.connect_charge_micros as retail_connect_charge_micros',
    ])
    .where('w.plan_id', '=', wholesalePlanId)
    .orderBy('w.prefix').limit(limit).execute();
  const current = markupOf(account);
  const n = (m: Micros | null) => (m === null ? null : moneyToJsonNumber(m));
  const opt = (v: number | string | null) => (v === null ? null : microsFromDb(v));
  return {
    markup_percent: percent(markup),
    current_markup_percent: percent(current),
    changed: markup !== current,
    retail_plan: planSummary(plan, await rowCount(ctx.db, Number(plan.id))),
    rates: rows.map((r) => {
      const rate = microsFromDb(r.rate_micros);
      const connect = microsFromDb(r.connect_charge_micros);
      return {
        prefix: r.prefix,
        destination: r.destination,
        wholesale_rate: n(rate),
        current_rate: n(opt(r.retail_rate_micros)),
        new_rate: n(applyMarkup(rate, markup)),
        wholesale_connect_charge: n(connect),
        current_connect_charge: n(opt(r.retail_connect_charge_micros)),
        new_connect_charge: n(applyMarkup(connect, markup)),
      };
    }),
  };
}

/**
 * Applies a new markup: rewrites the retail plan's rows from wholesale and stores the markup,
 * in one transaction. When that markup is already active nothing is rewritten.
 */
export async function setAgentMarkup(ctx: Ctx, actor: Actor, input: { markup_percent?: unknown }) {
  assertActive(actor);
  const markup = requiredMarkup(input.markup_percent);
  return inTx(ctx.db, async (trx) => {
    const { account, plan, wholesalePlanId } = await retailPlanOf(trx, actor);
    const planId = Number(plan.id);
    const unchanged = async () => ({
      changed: false,
      markup_percent: percent(markup),
      retail_plan: planSummary(plan, await rowCount(trx, planId)),
      message: 'Markup already active; rates not rewritten',
    });
    if (markupOf(account) === markup) return unchanged();
    // Two changes of one reseller's markup run one after the other: this takes the retail
    // plan's row lock (SQLite's write transaction holds the database already).
    await lockRowsForChange(trx, 'plans', [planId]);
    const previous = markupOf(await accountById(trx, actor.id));
    if (previous === markup) return unchanged();
    const rows = await rebuildRetailPlan(trx, planId, wholesalePlanId, markup);
    await trx.updateTable('accounts').set({ markup_micro_percent: markup, updated_at: nowIso() }).where('id', '=', actor.id).execute();
    return {
      changed: true,
      markup_percent: percent(markup),
      previous_markup_percent: percent(previous),
      retail_plan: planSummary(plan, rows),
      rates_rewritten: rows,
    };
  });
}
