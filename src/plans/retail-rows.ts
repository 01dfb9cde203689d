// The effective rows of a retail plan in SQL, for the listings (client-rates, the markup
// preview, rate counts): the retail plan's overrides, and every wholesale row whose prefix has
// no override, marked up in the statement by applyMarkupSql (money.ts), the SQL twin of the
// applyMarkup that rating uses (plans/retail-rates.ts). Nothing of the deck is copied: each page
// reads the rows it shows, in prefix order, from the (plan_id, prefix) index of both plans.
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { HeavyReads } from '../db/heavy-reads.js';
import { applyMarkupSql } from '../money.js';

/** Which rows make up a retail plan: its own, and its wholesale plan's at the markup. */
export interface RetailPlanSource {
  retailPlanId: number;
  /** null: a plan of the reseller not derived from wholesale; its own rows are all it has. */
  wholesalePlanId: number | null;
  markupMicroPercent: bigint;
}

export interface EffectiveRateRow {
  prefix: string;
  destination: string;
  rate_micros: number | string;
  connect_charge_micros: number | string;
  initblock: number;
  billingblock: number;
  minimal_time: number;
  /** 1 for a row the reseller's operator set on the retail plan, 0 for a marked-up wholesale row. */
  override: number;
}

const markedUp = (column: 'w.rate_micros' | 'w.connect_charge_micros', markupMicroPercent: bigint) =>
  applyMarkupSql(sql<number>, sql.ref(column), markupMicroPercent);

function overrides(db: Db, retailPlanId: number) {
  return db.selectFrom('rates as o')
    .select(['o.prefix', 'o.destination', 'o.rate_micros', 'o.connect_charge_micros', 'o.initblock', 'o.billingblock', 'o.minimal_time',
      sql<number>`1`.as('override')])
    .where('o.plan_id', '=', retailPlanId);
}

/** Wholesale rows of `wholesalePlanId` with no override of the same prefix in the retail plan. */
function inheritedRows(db: Db, source: RetailPlanSource & { wholesalePlanId: number }) {
  return db.selectFrom('rates as w')
    .where('w.plan_id', '=', source.wholesalePlanId)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('rates as x').select(sql.lit(1).as('one'))
      .where('x.plan_id', '=', source.retailPlanId).whereRef('x.prefix', '=', 'w.prefix'))));
}

/**
 * One page of the effective retail rows, in prefix order (an override and the wholesale row of
 * the same prefix never both appear). Run through the heavy-read path: never in a transaction.
 */
export async function effectiveRetailPage(db: Db, reads: HeavyReads, source: RetailPlanSource, page: { limit: number; offset: number }): Promise<EffectiveRateRow[]> {
  const own = overrides(db, source.retailPlanId);
  if (source.wholesalePlanId === null) {
    return reads.all(own.orderBy('o.prefix').limit(page.limit).offset(page.offset));
  }
  const inherited = inheritedRows(db, { ...source, wholesalePlanId: source.wholesalePlanId }).select([
    'w.prefix', 'w.destination',
    markedUp('w.rate_micros', source.markupMicroPercent).as('rate_micros'),
    markedUp('w.connect_charge_micros', source.markupMicroPercent).as('connect_charge_micros'),
    'w.initblock', 'w.billingblock', 'w.minimal_time',
    sql<number>`0`.as('override'),
  ]);
  // One compound statement ordered by its output column: both halves come in index order, so
  // a page reads only the rows before its end.
  return reads.all(own.unionAll(inherited).orderBy('prefix').limit(page.limit).offset(page.offset));
}

/**
 * How many effective retail rows the plan has: every wholesale row, plus the overrides of a
 * prefix the wholesale plan does not have (the few overrides are probed, never the deck).
 */
export async function effectiveRetailCount(db: Db, reads: HeavyReads, source: RetailPlanSource): Promise<number> {
  const { wholesalePlanId } = source;
  const own = db.selectFrom('rates as o').select((eb) => eb.fn.countAll<number>().as('n')).where('o.plan_id', '=', source.retailPlanId);
  if (wholesalePlanId === null) return Number((await reads.all(own))[0].n);
  const [[wholesale], [extra]] = await Promise.all([
    reads.all(db.selectFrom('rates').select((eb) => eb.fn.countAll<number>().as('n')).where('plan_id', '=', wholesalePlanId)),
    reads.all(own.where((eb) => eb.not(eb.exists(eb.selectFrom('rates as w').select(sql.lit(1).as('one'))
      .where('w.plan_id', '=', wholesalePlanId).whereRef('w.prefix', '=', 'o.prefix'))))),
  ]);
  return Number(wholesale.n) + Number(extra.n);
}
