// Messages sent later (CONTRACT §5): `schedule` one message for a time, `bulk` a campaign to
// many numbers, now or at a time. Both only record messages (SCHEDULED when due later, else
// QUEUED) and charge nothing: the dispatcher (sms/dispatcher.ts) prices and charges each one
// when it makes the attempt, then hands it over. Cancelling stops every message not yet claimed
// by the dispatcher; one already claimed is being sent and stays so.
import type { Actor } from '../accounts/actor.js';
import { assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { SmsMessagesTable } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { AppError, accountInactive, badRequest, conflict, insufficientBalance, notFound } from '../errors.js';
import { formatMoney, microsFromDb, type Micros } from '../money.js';
import { paging } from '../util/input.js';
import { formatLocal, nowIso, parseTimestamp, utcOffset } from '../util/time.js';
import type { Insertable } from 'kysely';
import { parseSenderId, smsPayerOf, smsMessageView, SMS_VIEW_COLUMNS, type SmsMessageRow } from './messages.js';
import { parsePhone, phoneOf } from './phone.js';
import { parseSmsProvider, smsProviderName } from './provider-list.js';
import { SmsPriceBook } from './rates.js';
import { parseSmsText } from './segments.js';

/** Recipients of one `bulk` request. */
export const MAX_CAMPAIGN_RECIPIENTS = 100_000;
/** Rejected numbers listed in the answer; the count covers all. */
const MAX_REJECTED_SHOWN = 100;
const YEAR_MS = 366 * 86_400_000;

/** `scheduled_at`: server-local `YYYY-MM-DD HH:MM:SS` or ISO 8601 with an offset; from now to a year ahead. */
export function parseScheduledAt(input: unknown, required: boolean, now = new Date()): Date | null {
  if (input === undefined || input === null || input === '') {
    if (required) throw badRequest('scheduled_at', 'is required (YYYY-MM-DD HH:MM:SS in the server\'s time zone, or ISO 8601 with an offset)');
    return null;
  }
  const at = typeof input === 'string' ? parseTimestamp(input.trim()) : null;
  if (!at) throw badRequest('scheduled_at', 'must be YYYY-MM-DD HH:MM:SS (server time zone) or ISO 8601 with an offset');
  // A minute of grace: a time "now" sent from a clock a little behind is not in the past.
  if (at.getTime() < now.getTime() - 60_000) throw badRequest('scheduled_at', `is in the past (server time ${formatLocal(now.toISOString())}, UTC${utcOffset(now)})`);
  if (at.getTime() > now.getTime() + YEAR_MS) throw badRequest('scheduled_at', 'is more than a year ahead');
  return at;
}

interface Common { client_login?: unknown; provider?: unknown; sender_id?: unknown; message?: unknown; scheduled_at?: unknown }

async function commonOf(ctx: Ctx, actor: Actor, input: Common, scheduledRequired: boolean) {
  assertActive(actor);
  const provider = parseSmsProvider(ctx.config, input.provider);
  const senderId = parseSenderId(input.sender_id);
  const text = parseSmsText(input.message);
  const at = parseScheduledAt(input.scheduled_at, scheduledRequired);
  const { payer, client } = await smsPayerOf(ctx.db, actor, input.client_login);
  if (client.active !== 1) throw accountInactive();
  return { provider, senderId, text, at, payer };
}

type NewMessage = Insertable<SmsMessagesTable>;

export async function scheduleSms(ctx: Ctx, actor: Actor, input: Common & { phone?: unknown }) {
  const c = await commonOf(ctx, actor, input, true);
  const phone = parsePhone(input.phone);
  const book = await SmsPriceBook.load(ctx.db, c.provider.code);
  if (!book.priceFor(phone.digits, c.payer)) throw badRequest('phone', `has no SMS rate with provider ${c.provider.code}`, 'NO_RATE');
  const now = nowIso();
  const row: NewMessage = {
    account_id: c.payer.clientId, reseller_id: c.payer.reseller?.id ?? null, provider: c.provider.code, phone: phone.e164,
    sender_id: c.senderId, message: c.text.text, encoding: c.text.encoding, segments: c.text.segments, rate_micros: 0, cost_micros: 0,
    reseller_cost_micros: 0, status: 'SCHEDULED', scheduled_at: c.at!.toISOString(), created_at: now, updated_at: now,
  };
  const { id } = await inTx(ctx.db, (trx) => trx.insertInto('sms_messages').values(row).returning('id').executeTakeFirstOrThrow());
  return { scheduled_sms_id: Number(id), provider: c.provider.code, status: 'SCHEDULED', scheduled_at: formatLocal(row.scheduled_at), server_utc_offset: utcOffset() };
}

export async function scheduledSms(ctx: Ctx, actor: Actor, input: { limit?: unknown; offset?: unknown; client_login?: unknown }) {
  const { limit, offset } = paging(input, 20);
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const base = ctx.db.selectFrom('sms_messages').where('account_id', '=', payer.clientId).where('status', '=', 'SCHEDULED').where('campaign_id', 'is', null);
  const rows = await base.select(SMS_VIEW_COLUMNS).orderBy('scheduled_at').orderBy('id').limit(limit).offset(offset).execute();
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { total: Number(total.n), limit, offset, server_utc_offset: utcOffset(), scheduled: rows.map((r) => smsMessageView(ctx.config, r as SmsMessageRow)) };
}

function idIn(input: unknown, field: string): number {
  const text = typeof input === 'number' ? String(input) : input;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text.trim())) throw badRequest(field, 'must be an id');
  return Number(text.trim());
}

export async function cancelScheduledSms(ctx: Ctx, actor: Actor, input: { scheduled_sms_id?: unknown; client_login?: unknown }) {
  const id = idIn(input.scheduled_sms_id, 'scheduled_sms_id');
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  return inTx(ctx.db, async (trx) => {
    const now = nowIso();
    // Only a message the dispatcher has not claimed: the claim and this exclude each other.
    const cancelled = await trx.updateTable('sms_messages').set({ status: 'CANCELLED', finished_at: now, updated_at: now })
      .where('id', '=', id).where('account_id', '=', payer.clientId).where('campaign_id', 'is', null)
      .where('status', '=', 'SCHEDULED').where('handover_started_at', 'is', null).returning('id').execute();
    if (cancelled.length === 0) {
      const row = await trx.selectFrom('sms_messages').select(['status', 'campaign_id', 'scheduled_at'])
        .where('id', '=', id).where('account_id', '=', payer.clientId).executeTakeFirst();
      if (!row || row.scheduled_at === null || row.campaign_id !== null) throw notFound('Scheduled SMS');
      if (row.status !== 'CANCELLED') throw conflict('NOT_CANCELLABLE', `This SMS is ${row.status}: it can no longer be cancelled`);
    }
    return { scheduled_sms_id: id, status: 'CANCELLED' };
  });
}

interface BulkInput extends Common { phones?: unknown }

/**
 * A campaign: the numbers validated and de-duplicated (the rejected ones reported), refused
 * (402) when its estimated cost at today's prices exceeds what the balance can pay, else one
 * message per number, SCHEDULED for `scheduled_at` or QUEUED for now.
 */
export async function createCampaign(ctx: Ctx, actor: Actor, input: BulkInput) {
  const c = await commonOf(ctx, actor, input, false);
  if (!Array.isArray(input.phones) || input.phones.length === 0) throw badRequest('phones', 'must be a list of phone numbers');
  if (input.phones.length > MAX_CAMPAIGN_RECIPIENTS) throw badRequest('phones', `at most ${MAX_CAMPAIGN_RECIPIENTS} numbers per campaign`);
  const book = await SmsPriceBook.load(ctx.db, c.provider.code);
  const seen = new Set<string>();
  const accepted: string[] = [];
  const rejected: Array<{ phone: string; reason: string }> = [];
  let rejectedCount = 0;
  let duplicates = 0;
  let estimate: Micros = 0n;
  let resellerEstimate: Micros = 0n;
  const segments = BigInt(c.text.segments);
  const reject = (raw: unknown, reason: string) => {
    rejectedCount++;
    // Echoed as sent, cut short: an entry may be anything a JSON body holds.
    const shown = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : JSON.stringify(raw) ?? String(raw);
    if (rejected.length < MAX_REJECTED_SHOWN) rejected.push({ phone: shown.slice(0, 40), reason });
  };
  for (const raw of input.phones as unknown[]) {
    const phone = phoneOf(raw);
    if (!phone) { reject(raw, 'INVALID_NUMBER'); continue; }
    if (seen.has(phone.e164)) { duplicates++; continue; }
    const price = book.priceFor(phone.digits, c.payer);
    if (!price) { reject(raw, 'NO_RATE'); continue; }
    seen.add(phone.e164);
    accepted.push(phone.e164);
    estimate += price.rateMicros * segments;
    resellerEstimate += price.resellerRateMicros * segments;
  }
  if (accepted.length === 0) throw badRequest('phones', 'has no number that can be sent to');
  const now = nowIso();
  const scheduledAt = c.at ? c.at.toISOString() : null;
  const status = scheduledAt !== null && scheduledAt > now ? 'SCHEDULED' : 'QUEUED';
  const campaignId = await inTx(ctx.db, async (trx) => {
    const available = async (id: number) => {
      const a = await trx.selectFrom('accounts').select(['balance_micros', 'credit_limit_micros', 'reserved_micros', 'postpaid'])
        .where('id', '=', id).executeTakeFirstOrThrow();
      return microsFromDb(a.balance_micros) + (a.postpaid === 1 ? microsFromDb(a.credit_limit_micros) : 0n) - microsFromDb(a.reserved_micros);
    };
    if (estimate > await available(c.payer.clientId)) throw insufficientBalance();
    if (c.payer.reseller && resellerEstimate > await available(c.payer.reseller.id)) {
      throw new AppError(402, 'RESELLER_INSUFFICIENT_BALANCE', 'The reseller\'s balance cannot pay for this campaign');
    }
    const { id } = await trx.insertInto('sms_campaigns').values({
      account_id: c.payer.clientId, reseller_id: c.payer.reseller?.id ?? null, provider: c.provider.code, sender_id: c.senderId,
      message: c.text.text, scheduled_at: scheduledAt, status: 'QUEUED', recipients: accepted.length, rejected: rejectedCount,
      created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const base = {
      account_id: c.payer.clientId, reseller_id: c.payer.reseller?.id ?? null, provider: c.provider.code, sender_id: c.senderId,
      message: c.text.text, encoding: c.text.encoding, segments: c.text.segments, rate_micros: 0, cost_micros: 0,
      reseller_cost_micros: 0, status, campaign_id: Number(id), scheduled_at: scheduledAt, created_at: now, updated_at: now,
    } as const;
    // Rows per statement: within SQLite's 32,766 bound parameters at 15 columns a row.
    for (let i = 0; i < accepted.length; i += 1000) {
      await trx.insertInto('sms_messages').values(accepted.slice(i, i + 1000).map((phone) => ({ ...base, phone }))).execute();
    }
    return Number(id);
  });
  return {
    campaign_id: campaignId, recipients_queued: accepted.length, status: 'QUEUED',
    duplicates_removed: duplicates, rejected_count: rejectedCount, rejected,
    estimated_cost: formatMoney(estimate, 4), scheduled_at: formatLocal(scheduledAt), server_utc_offset: utcOffset(),
  };
}

/** A campaign's status follows its messages: QUEUED until one is claimed, SENDING until all are final. */
function campaignStatus(stored: string, counts: Record<string, number>): string {
  if (stored === 'CANCELLED') return 'CANCELLED';
  const waiting = (counts.SCHEDULED ?? 0) + (counts.QUEUED ?? 0);
  const open = waiting + (counts.SENT_TO_PROVIDER ?? 0);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (open === 0) return 'COMPLETED';
  return waiting === total ? 'QUEUED' : 'SENDING';
}

export async function listCampaigns(ctx: Ctx, actor: Actor, input: { limit?: unknown; offset?: unknown; client_login?: unknown }) {
  const { limit, offset } = paging(input, 20);
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const rows = await ctx.db.selectFrom('sms_campaigns').selectAll().where('account_id', '=', payer.clientId)
    .orderBy('id', 'desc').limit(limit).offset(offset).execute();
  const total = await ctx.db.selectFrom('sms_campaigns').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', payer.clientId).executeTakeFirstOrThrow();
  const ids = rows.map((r) => Number(r.id));
  const counts = ids.length === 0 ? [] : await ctx.db.selectFrom('sms_messages').select(['campaign_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('campaign_id', 'in', ids).groupBy(['campaign_id', 'status']).execute();
  const byCampaign = new Map<number, Record<string, number>>();
  for (const r of counts) {
    const m = byCampaign.get(Number(r.campaign_id)) ?? {};
    m[r.status] = Number(r.n);
    byCampaign.set(Number(r.campaign_id), m);
  }
  const name = (code: string) => smsProviderName(ctx.config, code);
  return {
    total: Number(total.n), limit, offset,
    campaigns: rows.map((r) => {
      const m = byCampaign.get(Number(r.id)) ?? {};
      return {
        campaign_id: Number(r.id), provider: r.provider, provider_name: name(r.provider), sender_id: r.sender_id, message: r.message,
        status: campaignStatus(r.status, m), recipients: r.recipients, rejected: r.rejected,
        messages: {
          scheduled: m.SCHEDULED ?? 0, queued: m.QUEUED ?? 0, sent_to_provider: m.SENT_TO_PROVIDER ?? 0,
          delivered: m.DELIVERED ?? 0, failed: m.FAILED ?? 0, cancelled: m.CANCELLED ?? 0,
        },
        scheduled_at: formatLocal(r.scheduled_at), created_at: formatLocal(r.created_at),
      };
    }),
  };
}

export async function cancelCampaign(ctx: Ctx, actor: Actor, input: { campaign_id?: unknown; client_login?: unknown }) {
  const id = idIn(input.campaign_id, 'campaign_id');
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  return inTx(ctx.db, async (trx) => {
    const campaign = await trx.selectFrom('sms_campaigns').select(['id', 'status']).where('id', '=', id)
      .where('account_id', '=', payer.clientId).executeTakeFirst();
    if (!campaign) throw notFound('Campaign');
    const now = nowIso();
    await trx.updateTable('sms_campaigns').set({ status: 'CANCELLED', updated_at: now }).where('id', '=', id).execute();
    // Every message not yet claimed by the dispatcher; the claimed ones are being sent.
    const cancelled = await trx.updateTable('sms_messages').set({ status: 'CANCELLED', finished_at: now, updated_at: now })
      .where('campaign_id', '=', id).where('status', 'in', ['SCHEDULED', 'QUEUED']).where('handover_started_at', 'is', null)
      .executeTakeFirst();
    return { campaign_id: id, status: 'CANCELLED', messages_cancelled: Number(cancelled.numUpdatedRows ?? 0n) };
  });
}
