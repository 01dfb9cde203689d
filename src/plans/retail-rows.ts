// The effective rows of a retail plan in SQL, for the listings (client-rates, the markup
// preview, rate counts): the retail plan's overrides, and every wholesale row whose prefix has
// no override, marked up in the statement by applyMarkupSql (money.ts), the SQL twin of the
// applyMarkup that rating uses (plans/retail-rates.ts). Nothing of the deck is copied: each page
// reads the rows it shows, in prefix order, from the (plan_id, prefix) index of both plans.
import { sql, type Expression, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Db } from '../db/connect.js';
import type { HeavyReads } from '../db/heavy-reads.js';
import { applyMarkupSql } from '../money.js';
import { escapeLike, optionalText } from '../util/input.js';

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

/**
 * Which effective rows a listing keeps: those whose prefix starts with the digits given, or
 * whose destination name contains the text (case aside). An override is kept or left out by its
 * own prefix and name, never by those of the wholesale row it replaces.
 */
export type RateSearch = { prefixStartsWith: string } | { destinationContains: string };

/** A listing's `search`: all digits, a prefix; other text, part of a destination name; blank, none. */
export function rateSearch(value: unknown, field = 'search'): RateSearch | null {
  const text = optionalText(typeof value === 'string' ? value.trim() : value, field, 100);
  if (text === undefined) return null;
  return /^\d+$/.test(text) ? { prefixStartsWith: text } : { destinationContains: text };
}

/**
 * Whether `search` keeps a row of `alias`. Prefixes are digits, so those starting with `44` are
 * the range from `44` up to `45` (`49`: up to `5`; `99`: unbounded), a range of the (plan_id,
 * prefix) index under any collation, which LIKE is not (SQLite's LIKE ignores case, and
 * PostgreSQL's takes an index under the C collation only). A name is matched row by row, with
 * lower() on both sides so that each database compares its own lower case with itself.
 */
function matches(alias: 'o' | 'w', search: RateSearch): Expression<SqlBool> {
  if ('destinationContains' in search) {
    const pattern = `%${escapeLike(search.destinationContains)}%`;
    return sql<SqlBool>`lower(${sql.ref(`${alias}.destination`)}) like lower(${pattern}) escape '\\'`;
  }
  const prefix = sql.ref(`${alias}.prefix`);
  const from = search.prefixStartsWith;
  const stem = from.replace(/9+$/, '');
  if (stem === '') return sql<SqlBool>`${prefix} >= ${from}`;
  const before = `${stem.slice(0, -1)}${Number(stem.slice(-1)) + 1}`;
  return sql<SqlBool>`(${prefix} >= ${from} and ${prefix} < ${before})`;
}

/** `query` with only the rows of `alias` that `search` keeps: all of them without a search. */
const kept = <Q extends SelectQueryBuilder<any, any, any>>(query: Q, alias: 'o' | 'w', search: RateSearch | null): Q =>
  (search === null ? query : query.where(matches(alias, search)) as Q);

const markedUp = (column: 'w.rate_micros' | 'w.connect_charge_micros', markupMicroPercent: bigint) =>
  applyMarkupSql(sql<number>, sql.ref(column), markupMicroPercent);

function overrides(db: Db, retailPlanId: number, search: RateSearch | null) {
  const own = db.selectFrom('rates as o')
    .select(['o.prefix', 'o.destination', 'o.rate_micros', 'o.connect_charge_micros', 'o.initblock', 'o.billingblock', 'o.minimal_time',
      sql<number>`1`.as('override')])
    .where('o.plan_id', '=', retailPlanId);
  return kept(own, 'o', search);
}

/** Wholesale rows of `wholesalePlanId` with no override of the same prefix in the retail plan. */
function inheritedRows(db: Db, source: RetailPlanSource & { wholesalePlanId: number }, search: RateSearch | null) {
  const inherited = db.selectFrom('rates as w')
    .where('w.plan_id', '=', source.wholesalePlanId)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('rates as x').select(sql.lit(1).as('one'))
      .where('x.plan_id', '=', source.retailPlanId).whereRef('x.prefix', '=', 'w.prefix'))));
  return kept(inherited, 'w', search);
}

/**
 * One page of the effective retail rows, in prefix order (an override and the wholesale row of
 * the same prefix never both appear). Run through the heavy-read path: never in a transaction.
 */
export async function effectiveRetailPage(
  db: Db, reads: HeavyReads, source: RetailPlanSource, page: { limit: number; offset: number }, search: RateSearch | null = null,
): Promise<EffectiveRateRow[]> {
  const own = overrides(db, source.retailPlanId, search);
  if (source.wholesalePlanId === null) {
    return reads.all(own.orderBy('o.prefix').limit(page.limit).offset(page.offset));
  }
  const inherited = inheritedRows(db, { ...source, wholesalePlanId: source.wholesalePlanId }, search).select([
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
 * With a search, an override may be kept while the wholesale row of its prefix is not, or the
 * other way round (it names the destination otherwise): the wholesale rows kept, plus the
 * overrides kept over no kept wholesale row, less the overrides not kept over a kept one.
 */
export async function effectiveRetailCount(db: Db, reads: HeavyReads, source: RetailPlanSource, search: RateSearch | null = null): Promise<number> {
  const { wholesalePlanId } = source;
  const own = db.selectFrom('rates as o').select((eb) => eb.fn.countAll<number>().as('n')).where('o.plan_id', '=', source.retailPlanId);
  if (wholesalePlanId === null) return Number((await reads.all(kept(own, 'o', search)))[0].n);
  /** Those of the overrides `rows` with (`has`) or without a kept wholesale row of their prefix. */
  const overKeptWholesale = (rows: typeof own, has: boolean) => rows.where((eb) => {
    const wholesaleRow = eb.exists(kept(eb.selectFrom('rates as w').select(sql.lit(1).as('one'))
      .where('w.plan_id', '=', wholesalePlanId).whereRef('w.prefix', '=', 'o.prefix'), 'w', search));
    return has ? wholesaleRow : eb.not(wholesaleRow);
  });
  const [[wholesale], [extra], [hiding]] = await Promise.all([
    reads.all(kept(db.selectFrom('rates as w').select((eb) => eb.fn.countAll<number>().as('n')).where('w.plan_id', '=', wholesalePlanId), 'w', search)),
    reads.all(overKeptWholesale(kept(own, 'o', search), false)),
    search === null ? [{ n: 0 }] : reads.all(overKeptWholesale(own.where((eb) => eb.not(matches('o', search))), true)),
  ]);
  return Number(wholesale.n) + Number(extra.n) - Number(hiding.n);
}
