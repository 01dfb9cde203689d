// SMS prices (CONTRACT §5): the operator's wholesale price of one segment per provider and
// destination prefix, set by `set-sms-rate`; a message pays the rate of the longest prefix of its
// phone number. A reseller's client pays the reseller's retail price (wholesale plus the
// reseller's markup, half-up to 6 decimals, as for calls) and the reseller pays wholesale.
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { badRequest } from '../errors.js';
import { applyMarkup, formatMoney, MAX_RATE_MICROS, microsFromDb, type Micros } from '../money.js';
import { money } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { parseSmsProvider } from './provider-list.js';

/** Who pays for a message: the client, and for a reseller's client also the reseller. */
export interface SmsPayer {
  clientId: number;
  clientLogin: string;
  /** The reseller and its markup (micro-percent), for a reseller's client. */
  reseller: null | { id: number; markupMicroPercent: bigint };
}

export interface SmsPrice {
  prefix: string;
  /** One segment, as the client pays it. */
  rateMicros: Micros;
  /** One segment, as the reseller pays it (wholesale); 0 for a direct client. */
  resellerRateMicros: Micros;
}

/** Shown like every rate: 6 decimals, exact. */
export const formatRate = (micros: Micros) => formatMoney(micros, 6);

export async function setSmsRate(ctx: Ctx, input: { provider?: unknown; prefix?: unknown; rate?: unknown }) {
  const provider = parseSmsProvider(ctx.config, input.provider);
  const prefix = typeof input.prefix === 'number' ? String(input.prefix) : input.prefix;
  if (typeof prefix !== 'string' || !/^\d{1,15}$/.test(prefix)) throw badRequest('prefix', 'must be 1-15 digits');
  const rateMicros = money(input.rate, 'rate', { max: MAX_RATE_MICROS });
  if (rateMicros <= 0n) throw badRequest('rate', 'must be more than 0');
  await inTx(ctx.db, (trx) => trx.insertInto('sms_rates')
    .values({ provider: provider.code, prefix, rate_micros: rateMicros, updated_at: nowIso() })
    .onConflict((oc) => oc.columns(['provider', 'prefix']).doUpdateSet({ rate_micros: rateMicros, updated_at: nowIso() }))
    .execute());
  return { provider: provider.code, prefix, rate: formatRate(rateMicros) };
}

/** The price of one segment to `digits` (E.164 without `+`), or null when no prefix matches. */
export async function smsPriceFor(db: Db | Trx, provider: string, digits: string, payer: SmsPayer): Promise<SmsPrice | null> {
  const prefixes = Array.from({ length: Math.min(digits.length, 15) }, (_, i) => digits.slice(0, i + 1));
  const rows = await db.selectFrom('sms_rates').select(['prefix', 'rate_micros'])
    .where('provider', '=', provider).where('prefix', 'in', prefixes).execute();
  if (rows.length === 0) return null;
  const best = rows.reduce((a, b) => (b.prefix.length > a.prefix.length ? b : a));
  return priceOf(best.prefix, microsFromDb(best.rate_micros), payer);
}

function priceOf(prefix: string, wholesaleMicros: Micros, payer: SmsPayer): SmsPrice {
  return payer.reseller === null
    ? { prefix, rateMicros: wholesaleMicros, resellerRateMicros: 0n }
    : { prefix, rateMicros: applyMarkup(wholesaleMicros, payer.reseller.markupMicroPercent), resellerRateMicros: wholesaleMicros };
}

/** Every rate of a provider (or of all), as the payer pays them, by provider and prefix. */
export async function smsRatesFor(db: Db | Trx, payer: SmsPayer, provider?: string): Promise<Array<{ provider: string } & SmsPrice>> {
  let query = db.selectFrom('sms_rates').select(['provider', 'prefix', 'rate_micros']).orderBy('provider').orderBy('prefix');
  if (provider !== undefined) query = query.where('provider', '=', provider);
  const rows = await query.execute();
  return rows.map((r) => ({ provider: r.provider, ...priceOf(r.prefix, microsFromDb(r.rate_micros), payer) }));
}

/**
 * A provider's rates in memory, for pricing many numbers at once (a campaign, a batch of the
 * dispatcher): each number is one map lookup per prefix length, longest first.
 */
export class SmsPriceBook {
  private constructor(private readonly wholesale: Map<string, Micros>) {}

  static async load(db: Db | Trx, provider: string): Promise<SmsPriceBook> {
    const rows = await db.selectFrom('sms_rates').select(['prefix', 'rate_micros']).where('provider', '=', provider).execute();
    return new SmsPriceBook(new Map(rows.map((r) => [r.prefix, microsFromDb(r.rate_micros)])));
  }

  priceFor(digits: string, payer: SmsPayer): SmsPrice | null {
    for (let n = Math.min(digits.length, 15); n > 0; n--) {
      const prefix = digits.slice(0, n);
      const wholesale = this.wholesale.get(prefix);
      if (wholesale !== undefined) return priceOf(prefix, wholesale, payer);
    }
    return null;
  }
}
