// The eSIM catalog (CONTRACT §5): the upstream's packages, kept in the database and refreshed on
// a schedule and on demand (`refresh-esim-catalog`), searched by `q` in the name, the countries
// (name or ISO code) and the region, and priced for who asks (esim/prices.ts). A package the
// upstream stops listing is kept, inactive, for the orders that name it.
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { sql, type Insertable, type Selectable } from 'kysely';
import type { EsimPackagesTable } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { formatMoney } from '../money.js';
import { escapeLike, paging } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { EsimAccessClient } from './upstream/client.js';
import { EsimSimulator } from './upstream/simulator.js';
import { UpstreamProtocolError, UpstreamUnavailable, type EsimUpstream, type UpstreamLocation, type UpstreamPackage } from './upstream/upstream.js';
import { esimPricer, type EsimBuyer } from './prices.js';

const upstreams = new WeakMap<object, EsimUpstream>();

/** The configured upstream, or the simulator: one per configuration (its limiter is shared). */
export function esimUpstreamOf(ctx: Ctx): EsimUpstream {
  let upstream = upstreams.get(ctx.config);
  if (!upstream) {
    const u = ctx.config.esimUpstream;
    upstream = u ? new EsimAccessClient({ baseUrl: u.url, accessCode: u.accessCode, secretKey: u.secretKey, timeoutMs: u.timeoutMs }) : new EsimSimulator();
    upstreams.set(ctx.config, upstream);
  }
  return upstream;
}

const searchTextOf = (p: UpstreamPackage) => [p.name, p.packageCode, ...p.locationNetworkList.flatMap((l) => [l.locationName, l.locationCode])]
  .join(' ').toLowerCase();

/** Fetches the upstream's list and stores it; answers how many packages are active. */
export async function refreshEsimCatalog(ctx: Ctx): Promise<{ packages: number; deactivated: number }> {
  let list: UpstreamPackage[];
  try {
    list = await esimUpstreamOf(ctx).listPackages();
  } catch (err) {
    if (err instanceof UpstreamUnavailable || err instanceof UpstreamProtocolError) {
      throw new AppError(503, 'UPSTREAM_UNAVAILABLE', `The eSIM provider's catalog could not be read (${err.message}); try again shortly`);
    }
    throw err;
  }
  const now = nowIso();
  const rows: Array<Insertable<EsimPackagesTable>> = list.filter((p) => typeof p.packageCode === 'string' && Number.isInteger(p.price) && p.price > 0)
    .map((p) => ({
      package_code: p.packageCode, name: p.name, upstream_price_units: p.price, upstream_price_micros: p.price * 100, currency: p.currencyCode,
      volume_bytes: p.volume, duration_days: p.durationUnit === 'DAY' ? p.duration : p.duration * 30,
      countries: p.location, coverage_json: JSON.stringify(p.locationNetworkList ?? []), search_text: searchTextOf(p),
      active: 1, refreshed_at: now,
    }));
  return inTx(ctx.db, async (trx) => {
    for (let i = 0; i < rows.length; i += 200) {
      await trx.insertInto('esim_packages').values(rows.slice(i, i + 200))
        .onConflict((oc) => oc.column('package_code').doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'), upstream_price_units: eb.ref('excluded.upstream_price_units'),
          upstream_price_micros: eb.ref('excluded.upstream_price_micros'), currency: eb.ref('excluded.currency'),
          volume_bytes: eb.ref('excluded.volume_bytes'), duration_days: eb.ref('excluded.duration_days'), countries: eb.ref('excluded.countries'),
          coverage_json: eb.ref('excluded.coverage_json'), search_text: eb.ref('excluded.search_text'), active: 1, refreshed_at: now,
        }))).execute();
    }
    const gone = await trx.updateTable('esim_packages').set({ active: 0 }).where('refreshed_at', '<', now).where('active', '=', 1).executeTakeFirst();
    return { packages: rows.length, deactivated: Number(gone.numUpdatedRows ?? 0n) };
  });
}

/** The catalog is fetched on first use when it was never fetched. */
async function ensureCatalog(ctx: Ctx): Promise<void> {
  const any = await ctx.db.selectFrom('esim_packages').select('package_code').limit(1).executeTakeFirst();
  if (!any) await refreshEsimCatalog(ctx);
}

/** Refreshes the catalog now (in the background) and every ESIM_CATALOG_REFRESH_MINUTES; returns a stop function. */
export function startEsimCatalogRefresh(ctx: Ctx): () => void {
  const run = () => { refreshEsimCatalog(ctx).catch((err) => ctx.log.warn({ err }, 'eSIM catalog refresh failed; the stored catalog stays')); };
  run();
  const timer = setInterval(run, ctx.config.esimCatalogRefreshMinutes * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}

const GB = 1024 ** 3;

function packageView(p: Pick<Selectable<EsimPackagesTable>, 'package_code' | 'name' | 'currency' | 'volume_bytes' | 'duration_days' | 'countries'>, price: bigint) {
  return {
    package_code: p.package_code, name: p.name, price: formatMoney(price, 4), currency: p.currency,
    data_gb: Math.round((Number(p.volume_bytes) / GB) * 100) / 100, volume_bytes: Number(p.volume_bytes), duration_days: p.duration_days,
    countries: p.countries === '' ? [] : p.countries.split(','),
  };
}

export async function searchEsimPackages(ctx: Ctx, buyer: EsimBuyer, input: { q?: unknown; limit?: unknown; offset?: unknown }) {
  await ensureCatalog(ctx);
  const { limit, offset } = paging(input, 20);
  const q = input.q === undefined || input.q === null ? '' : String(input.q).trim().toLowerCase();
  if (q.length > 100) throw badRequest('q', 'at most 100 characters');
  let base = ctx.db.selectFrom('esim_packages').where('active', '=', 1);
  // A word of two letters is an ISO country code (DE, FR): matched as a code, not inside names.
  for (const word of q.split(/\s+/).filter(Boolean)) {
    base = /^[a-z]{2}$/.test(word)
      ? base.where(sql<string>`',' || countries || ','`, 'like', `%,${word.toUpperCase()},%`)
      : base.where(sql<boolean>`search_text like ${`%${escapeLike(word)}%`} escape '\\'`);
  }
  const rows = await base.selectAll().orderBy('name').orderBy('package_code').limit(limit).offset(offset).execute();
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const price = await esimPricer(ctx.db, buyer);
  return {
    total: Number(total.n), limit, offset,
    packages: rows.map((p) => packageView(p, price(p.package_code, BigInt(p.upstream_price_micros)))),
  };
}

export async function esimPackage(db: Db | Trx, code: unknown): Promise<Selectable<EsimPackagesTable>> {
  if (typeof code !== 'string' || code.trim() === '' || code.length > 64) throw badRequest('package_code', 'is required');
  const row = await db.selectFrom('esim_packages').selectAll().where('package_code', '=', code.trim()).executeTakeFirst();
  if (!row) throw notFound('eSIM package');
  return row;
}

export async function esimCoverage(ctx: Ctx, input: { package_code?: unknown }) {
  await ensureCatalog(ctx);
  const p = await esimPackage(ctx.db, input.package_code);
  const locations = JSON.parse(p.coverage_json) as UpstreamLocation[];
  return {
    package_code: p.package_code, name: p.name,
    countries: locations.map((l) => ({
      code: l.locationCode, name: l.locationName,
      operators: l.operatorList.map((o) => ({ name: o.operatorName, network_type: o.networkType })),
    })),
  };
}
