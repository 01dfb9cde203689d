// eSIM sale prices (CONTRACT §5): the upstream's price plus the operator's margin (per package,
// or `*` for the rest; 25% until set), and for a reseller's client the reseller's markup on top;
// half-up to 6 decimals at each step (money.ts applyMarkup), shown with 4. A reseller buying with
// its own key pays the operator's price.
import type { Actor } from '../accounts/actor.js';
import { accountById } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { badRequest } from '../errors.js';
import { applyMarkup, microsFromDb, type Micros } from '../money.js';
import { parseMarkupPercent } from '../accounts/provisioning.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { nowIso } from '../util/time.js';

/** The margin on every package without one of its own, until the operator sets another. */
export const DEFAULT_ESIM_MARGIN_MICRO_PERCENT = 25_000_000n;
const ALL = '*';

/** Who buys: the account charged, and the reseller's markup when it is a reseller's client. */
export interface EsimBuyer {
  accountId: number;
  resellerMarkupMicroPercent: bigint | null;
}

export async function esimBuyerOf(db: Db | Trx, actor: Actor): Promise<EsimBuyer> {
  if (actor.role !== 'client' || actor.parentId === null) return { accountId: actor.id, resellerMarkupMicroPercent: null };
  const parent = await accountById(db, actor.parentId);
  return {
    accountId: actor.id,
    resellerMarkupMicroPercent: parent.role === 'reseller' ? markupOrDefault(parent.markup_micro_percent) : null,
  };
}

/** A function pricing a package for the buyer, with the margins as they are now. */
export async function esimPricer(db: Db | Trx, buyer: EsimBuyer): Promise<(code: string, upstreamMicros: Micros) => Micros> {
  const rows = await db.selectFrom('esim_margins').select(['package_code', 'margin_micro_percent']).execute();
  const margins = new Map(rows.map((r) => [r.package_code, microsFromDb(r.margin_micro_percent)]));
  const all = margins.get(ALL) ?? DEFAULT_ESIM_MARGIN_MICRO_PERCENT;
  return (code, upstreamMicros) => {
    const sale = applyMarkup(upstreamMicros, margins.get(code) ?? all);
    return buyer.resellerMarkupMicroPercent === null ? sale : applyMarkup(sale, buyer.resellerMarkupMicroPercent);
  };
}

/** Admin: the margin of one package, or of all without their own (`package_code` absent or `*`). */
export async function setEsimMargin(ctx: Ctx, input: { package_code?: unknown; margin_percent?: unknown }) {
  const code = input.package_code === undefined || input.package_code === null || input.package_code === '' ? ALL : String(input.package_code).trim();
  if (code.length > 64) throw badRequest('package_code', 'at most 64 characters');
  if (input.margin_percent === undefined || input.margin_percent === null || input.margin_percent === '') throw badRequest('margin_percent', 'is required');
  const margin = parseMarkupPercent(input.margin_percent, DEFAULT_ESIM_MARGIN_MICRO_PERCENT, 'margin_percent');
  await inTx(ctx.db, (trx) => trx.insertInto('esim_margins').values({ package_code: code, margin_micro_percent: margin, updated_at: nowIso() })
    .onConflict((oc) => oc.column('package_code').doUpdateSet({ margin_micro_percent: margin, updated_at: nowIso() })).execute());
  return { package_code: code, margin_percent: Number(margin) / 1_000_000 };
}
