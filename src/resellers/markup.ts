// The reseller's markup: its retail prices are its wholesale plan's rows times
// (1 + markup/100), half-up to 6 decimals, computed when rating (plans/retail-rates.ts), except
// where its retail plan has a row of its own (an override). Reading it, previewing a new one
// against the wholesale rows, and applying it (storing it; nothing is rewritten).
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
import { bumpRatesVersion, DEFAULT_MARKUP_MICRO_PERCENT } from '../plans/plans.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { effectiveRetailCount, type RetailPlanSource } from '../plans/retail-rows.js';
import { clampedLimit } from '../util/input.js';
import { nowIso } from '../util/time.js';

export const PREVIEW_DEFAULT_ROWS = 10;
export const PREVIEW_MAX_ROWS = 100;

const markupOf = (a: Account): bigint => markupOrDefault(a.markup_micro_percent);

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

/** Where the retail plan's prices come from: its overrides, and wholesale at the account's markup. */
const sourceOf = (r: RetailPlan, markupMicroPercent: bigint): RetailPlanSource =>
  ({ retailPlanId: Number(r.plan.id), wholesalePlanId: r.wholesalePlanId, markupMicroPercent });

/** The plan summary with its number of effective retail rows (read outside any transaction). */
async function planSummary(ctx: Ctx, r: RetailPlan, markupMicroPercent: bigint) {
  const rows = await effectiveRetailCount(ctx.db, ctx.reads, sourceOf(r, markupMicroPercent));
  return { id: Number(r.plan.id), name: r.plan.name, agent_rates: rows };
}

export async function agentMarkup(ctx: Ctx, actor: Actor) {
  const retail = await retailPlanOf(ctx.db, actor);
  const markup = markupOf(retail.account);
  return { markup_percent: percent(markup), retail_plan: await planSummary(ctx, retail, markup) };
}

/**
 * Retail prices the new markup would give, for the first wholesale rows (by prefix); changes
 * nothing. A prefix the reseller's operator priced on the retail plan (an override) keeps that
 * price at any markup, as rating does.
 */
export async function previewAgentMarkup(ctx: Ctx, actor: Actor, input: { markup_percent?: unknown; limit?: unknown }) {
  const markup = requiredMarkup(input.markup_percent);
  const limit = clampedLimit(input.limit, PREVIEW_MAX_ROWS, PREVIEW_DEFAULT_ROWS);
  const retail = await retailPlanOf(ctx.db, actor);
  const rows = await ctx.reads.all(ctx.db.selectFrom('rates as w')
    .leftJoin('rates as r', (join) => join.onRef('r.prefix', '=', 'w.prefix').on('r.plan_id', '=', Number(retail.plan.id)))
    .select([
      'w.prefix', 'w.destination', 'w.rate_micros', 'w.connect_charge_micros',
      'r.rate_micros as override_rate_micros', 'r.connect_charge_micros as override_connect_charge_micros',
    ])
    .where('w.plan_id', '=', retail.wholesalePlanId)
    .orderBy('w.prefix').limit(limit));
  const current = markupOf(retail.account);
  const n = (m: Micros) => moneyToJsonNumber(m);
  return {
    markup_percent: percent(markup),
    current_markup_percent: percent(current),
    changed: markup !== current,
    retail_plan: await planSummary(ctx, retail, current),
    rates: rows.map((r) => {
      const rate = microsFromDb(r.rate_micros);
      const connect = microsFromDb(r.connect_charge_micros);
      const override = r.override_rate_micros !== null;
      const retailAt = (m: bigint) => override
        ? { rate: microsFromDb(r.override_rate_micros), connect: microsFromDb(r.override_connect_charge_micros) }
        : { rate: applyMarkup(rate, m), connect: applyMarkup(connect, m) };
      const now = retailAt(current);
      const next = retailAt(markup);
      return {
        prefix: r.prefix,
        destination: r.destination,
        wholesale_rate: n(rate),
        current_rate: n(now.rate),
        new_rate: n(next.rate),
        wholesale_connect_charge: n(connect),
        current_connect_charge: n(now.connect),
        new_connect_charge: n(next.connect),
        override,
      };
    }),
  };
}

/**
 * Applies a new markup: stores it and bumps the retail plan's rates_version, in one
 * transaction. Nothing is rewritten (`rates_rewritten` is 0): the next call is rated at the new
 * markup, a call already authorized keeps the prices it was authorized at, and overrides keep
 * their prices. When that markup is already active nothing changes at all.
 */
export async function setAgentMarkup(ctx: Ctx, actor: Actor, input: { markup_percent?: unknown }) {
  assertActive(actor);
  const markup = requiredMarkup(input.markup_percent);
  const outcome = await inTx(ctx.db, async (trx) => {
    const retail = await retailPlanOf(trx, actor);
    if (markupOf(retail.account) === markup) return { retail, previous: null };
    const planId = Number(retail.plan.id);
    // Two changes of one reseller's markup run one after the other: this takes the retail
    // plan's row lock (SQLite's write transaction holds the database already).
    await lockRowsForChange(trx, 'plans', [planId]);
    const previous = markupOf(await accountById(trx, actor.id));
    if (previous === markup) return { retail, previous: null };
    await trx.updateTable('accounts').set({ markup_micro_percent: markup, updated_at: nowIso() }).where('id', '=', actor.id).execute();
    await bumpRatesVersion(trx, planId);
    return { retail, previous };
  });
  // Counted after the commit, on the heavy-read path: never inside the write transaction.
  const retailPlan = await planSummary(ctx, outcome.retail, markup);
  if (outcome.previous === null) {
    return { changed: false, markup_percent: percent(markup), retail_plan: retailPlan, message: 'Markup already active; rates not rewritten' };
  }
  return {
    changed: true,
    markup_percent: percent(markup),
    previous_markup_percent: percent(outcome.previous),
    retail_plan: retailPlan,
    rates_rewritten: 0,
  };
}
