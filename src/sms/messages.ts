// Sending an SMS (CONTRACT §5): a record first, then its charge, in one transaction; then the
// hand-over to the provider (sms/gateway.ts), only once both are durable. So nothing is charged
// without a record of the attempt, and nothing reaches a provider that a crash could leave
// uncharged. The fee is for the attempt: a message the provider refuses or fails to deliver is
// not refunded (the original document says so). `status` and `history` show the payer's
// messages; a reseller names its client with `client_login`, and sees only its own clients'.
import type { Actor } from '../accounts/actor.js';
import { accountById, assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import type { Account, SmsMessagesTable } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { AppError, accountInactive, badRequest, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { smsMessages } from '../metrics.js';
import { formatMoney, microsFromDb, type Micros } from '../money.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { paging } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';
import { parsePhone } from './phone.js';
import type { Config } from '../config.js';
import { parseSmsProvider, smsProviderName, smsProviders } from './provider-list.js';
import { formatRate, smsPriceFor, smsRatesFor, type SmsPayer } from './rates.js';
import { parseSmsText } from './segments.js';

export const SENDER_ID_WARNING = 'Sender ID / Caller ID is not guaranteed.';

/** The client a request acts for, and who pays: a client key itself; a reseller key its `client_login`. */
export async function smsPayerOf(db: Db | Trx, actor: Actor, clientLogin: unknown): Promise<{ payer: SmsPayer; client: Account }> {
  let client: Account;
  if (actor.role === 'reseller') {
    if (clientLogin === undefined || clientLogin === null || clientLogin === '') throw badRequest('client_login', 'is required with a reseller key');
    client = await reachableClient(db, actor, String(clientLogin));
  } else {
    client = await accountById(db, actor.id);
  }
  const parentId = client.parent_id === null ? null : Number(client.parent_id);
  const reseller = parentId === null ? null : await accountById(db, parentId);
  // A direct client's parent is the operator's admin account: no markup, no second payer.
  const payer: SmsPayer = {
    clientId: Number(client.id),
    clientLogin: client.login,
    reseller: reseller && reseller.role === 'reseller'
      ? { id: Number(reseller.id), markupMicroPercent: markupOrDefault(reseller.markup_micro_percent) }
      : null,
  };
  return { payer, client };
}

/** `sender_id`: up to 11 letters, digits and spaces (with a letter), or a number of 3-15 digits. */
export function parseSenderId(input: unknown): string | null {
  if (input === undefined || input === null || input === '') return null;
  const text = typeof input === 'number' ? String(input) : input;
  if (typeof text !== 'string') throw badRequest('sender_id', 'must be text');
  const id = text.trim();
  if (/^\+?\d{3,15}$/.test(id)) return id;
  if (/^[A-Za-z0-9 ]{1,11}$/.test(id) && /[A-Za-z]/.test(id)) return id;
  throw badRequest('sender_id', 'must be up to 11 letters, digits and spaces, or a number of 3-15 digits');
}

const resellerInsufficient = () => new AppError(402, 'RESELLER_INSUFFICIENT_BALANCE', 'The reseller\'s balance cannot pay for this SMS');

export interface SendInput {
  client_login?: unknown; phone?: unknown; provider?: unknown; sender_id?: unknown; message?: unknown;
}

/**
 * The debits of one message in `trx`: the client's (retail) and, for a reseller's client, the
 * reseller's (wholesale), in ascending account id (the global lock order, db/locks.ts). Each
 * needs the account's available money: 402 INSUFFICIENT_BALANCE, or
 * RESELLER_INSUFFICIENT_BALANCE when the reseller's is short. Answers the client's balance after.
 */
export async function chargeSms(trx: Trx, m: { smsId: number; payer: SmsPayer; phone: string; costMicros: Micros; resellerCostMicros: Micros }): Promise<Micros> {
  const debits = [
    { accountId: m.payer.clientId, amountMicros: -m.costMicros, reseller: false },
    ...(m.payer.reseller ? [{ accountId: m.payer.reseller.id, amountMicros: -m.resellerCostMicros, reseller: true }] : []),
  ].sort((a, b) => a.accountId - b.accountId);
  let balanceAfter: Micros = 0n;
  for (const d of debits) {
    try {
      const posted = await post(trx, {
        accountId: d.accountId, amountMicros: d.amountMicros, kind: 'sms', refType: 'sms', refId: m.smsId,
        description: `SMS to ${m.phone}`, requireFunds: true,
      });
      if (!d.reseller) balanceAfter = posted.balanceAfterMicros;
    } catch (err) {
      if (d.reseller && err instanceof AppError && err.code === 'INSUFFICIENT_BALANCE') throw resellerInsufficient();
      throw err;
    }
  }
  return balanceAfter;
}

/** Records and charges one message (QUEUED, its hand-over started); `handOverSms` then sends it. */
export async function sendSms(ctx: Ctx, actor: Actor, input: SendInput) {
  assertActive(actor);
  const provider = parseSmsProvider(ctx.config, input.provider);
  const phone = parsePhone(input.phone);
  const senderId = parseSenderId(input.sender_id);
  const text = parseSmsText(input.message);
  const { payer, client } = await smsPayerOf(ctx.db, actor, input.client_login);
  if (client.active !== 1) throw accountInactive();
  const price = await smsPriceFor(ctx.db, provider.code, phone.digits, payer);
  if (!price) throw badRequest('phone', `has no SMS rate with provider ${provider.code}`, 'NO_RATE');
  const segments = BigInt(text.segments);
  const costMicros: Micros = price.rateMicros * segments;
  const resellerCostMicros: Micros = price.resellerRateMicros * segments;
  return inTx(ctx.db, async (trx) => {
    const now = nowIso();
    const { id } = await trx.insertInto('sms_messages').values({
      account_id: payer.clientId, reseller_id: payer.reseller?.id ?? null, provider: provider.code, phone: phone.e164,
      sender_id: senderId, message: text.text, encoding: text.encoding, segments: text.segments, rate_micros: price.rateMicros,
      cost_micros: costMicros, reseller_cost_micros: resellerCostMicros, status: 'QUEUED', charged_at: now, handover_started_at: now,
      created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const smsId = Number(id);
    const balanceAfter = await chargeSms(trx, { smsId, payer, phone: phone.e164, costMicros, resellerCostMicros });
    smsMessages.inc({ status: 'QUEUED' });
    return {
      sms_id: smsId,
      provider: provider.code,
      provider_name: provider.name,
      status: 'QUEUED' as string,
      balance_after: formatMoney(balanceAfter, 4),
      segments: text.segments,
      encoding: text.encoding,
      cost: formatMoney(costMicros, 4),
      sender_id: { requested: senderId, guaranteed: false, warning: SENDER_ID_WARNING },
    };
  });
}

/** After the send's commit: hands the message over; its answer's status is what came of it. */
export async function handOverSms(ctx: Ctx, answer: Record<string, unknown>): Promise<Record<string, unknown>> {
  const row = await ctx.db.selectFrom('sms_messages').selectAll().where('id', '=', Number(answer.sms_id)).executeTakeFirstOrThrow();
  if (!ctx.sms) return { status: row.status };
  const result = await ctx.sms.handOver(row.provider, {
    id: Number(row.id), phone: row.phone, senderId: row.sender_id, text: row.message, encoding: row.encoding,
  });
  return { status: result.status, ...(result.errorCode ? { error_code: result.errorCode } : {}) };
}

export type SmsMessageRow = Pick<SmsMessagesTable, 'provider' | 'phone' | 'sender_id' | 'message' | 'encoding' | 'segments' | 'status'
  | 'error_code' | 'campaign_id' | 'scheduled_at' | 'created_at' | 'sent_at' | 'finished_at'> & { id: number; rate_micros: number; cost_micros: number };

export function smsMessageView(config: Config, r: SmsMessageRow) {
  const name = smsProviderName(config, r.provider);
  return {
    sms_id: Number(r.id), provider: r.provider, provider_name: name, phone: r.phone, sender_id: r.sender_id, message: r.message,
    encoding: r.encoding, segments: r.segments, rate: formatRate(microsFromDb(r.rate_micros)), cost: formatMoney(microsFromDb(r.cost_micros), 4),
    status: r.status, error_code: r.error_code, campaign_id: r.campaign_id === null ? null : Number(r.campaign_id),
    scheduled_at: formatLocal(r.scheduled_at), created_at: formatLocal(r.created_at), sent_at: formatLocal(r.sent_at),
    finished_at: formatLocal(r.finished_at),
  };
}

export const SMS_VIEW_COLUMNS = ['id', 'provider', 'phone', 'sender_id', 'message', 'encoding', 'segments', 'status', 'error_code', 'campaign_id',
  'scheduled_at', 'created_at', 'sent_at', 'finished_at', 'rate_micros', 'cost_micros'] as const;

/** One message of the payer; another account's answers 404. */
export async function smsStatus(ctx: Ctx, actor: Actor, input: { id?: unknown; client_login?: unknown }) {
  const idText = typeof input.id === 'number' ? String(input.id) : input.id;
  if (typeof idText !== 'string' || !/^\d{1,15}$/.test(idText)) throw badRequest('id', 'must be an SMS id');
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const row = await ctx.db.selectFrom('sms_messages').select(SMS_VIEW_COLUMNS)
    .where('id', '=', Number(idText)).where('account_id', '=', payer.clientId).executeTakeFirst();
  if (!row) throw notFound('SMS');
  return smsMessageView(ctx.config, row as SmsMessageRow);
}

/** The payer's messages, newest first. */
export async function smsHistory(ctx: Ctx, actor: Actor, input: { limit?: unknown; offset?: unknown; client_login?: unknown }) {
  const { limit, offset } = paging(input, 20);
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const rows = await ctx.db.selectFrom('sms_messages').select(SMS_VIEW_COLUMNS).where('account_id', '=', payer.clientId)
    .orderBy('id', 'desc').limit(limit).offset(offset).execute();
  const total = await ctx.db.selectFrom('sms_messages').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', payer.clientId).executeTakeFirstOrThrow();
  return { total: Number(total.n), limit, offset, messages: rows.map((r) => smsMessageView(ctx.config, r as SmsMessageRow)) };
}

export async function smsProviderList(ctx: Ctx) {
  return { providers: smsProviders(ctx.config).map((p, i) => ({ code: p.code, name: p.name, default: i === 0 })) };
}

export async function smsRates(ctx: Ctx, actor: Actor, input: { provider?: unknown; client_login?: unknown }) {
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const provider = input.provider === undefined || input.provider === '' ? undefined : parseSmsProvider(ctx.config, input.provider).code;
  const rates = await smsRatesFor(ctx.db, payer, provider);
  const name = (code: string) => smsProviderName(ctx.config, code);
  return { rates: rates.map((r) => ({ provider: r.provider, provider_name: name(r.provider), prefix: r.prefix, rate: formatRate(r.rateMicros) })) };
}

/**
 * How many one-segment messages the available balance pays for, per destination prefix of the
 * provider: for a reseller's client also bounded by what the reseller's balance pays at wholesale.
 */
export async function smsQuota(ctx: Ctx, actor: Actor, input: { provider?: unknown; client_login?: unknown }) {
  const provider = parseSmsProvider(ctx.config, input.provider);
  const { payer } = await smsPayerOf(ctx.db, actor, input.client_login);
  const available = async (id: number) => {
    const a = await accountById(ctx.db, id);
    const credit = a.postpaid === 1 ? microsFromDb(a.credit_limit_micros) : 0n;
    const left = microsFromDb(a.balance_micros) + credit - microsFromDb(a.reserved_micros);
    return left > 0n ? left : 0n;
  };
  const clientAvailable = await available(payer.clientId);
  const resellerAvailable = payer.reseller ? await available(payer.reseller.id) : null;
  const rates = await smsRatesFor(ctx.db, payer, provider.code);
  return {
    provider: provider.code,
    provider_name: provider.name,
    available: formatMoney(clientAvailable, 4),
    quota: rates.map((r) => {
      let messages = clientAvailable / r.rateMicros;
      if (resellerAvailable !== null && r.resellerRateMicros > 0n) {
        const byReseller = resellerAvailable / r.resellerRateMicros;
        if (byReseller < messages) messages = byReseller;
      }
      return { prefix: r.prefix, rate: formatRate(r.rateMicros), messages: Number(messages) };
    }),
  };
}
