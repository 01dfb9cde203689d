// Sends what `schedule` and `bulk` recorded (sms/scheduling.ts) once it is due: claims due
// messages in bounded batches, prices and charges each in the claim's transaction (the fee is
// for the attempt, made now), and after that commit is durable hands them to their provider
// (sms/gateway.ts). On PostgreSQL the claim skips rows another instance holds (FOR UPDATE SKIP
// LOCKED), so several instances share a campaign and never claim one message twice; a claimed
// message has `handover_started_at` set, so neither a second claim nor a cancel takes it.
// A message its payer cannot pay ends FAILED with INSUFFICIENT_BALANCE, uncharged, and so does
// the rest of its campaign.
import type { Ctx } from '../context.js';
import { lockAccounts, withTransientRetry } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import type { SmsStatus } from '../db/schema.js';
import { AppError } from '../errors.js';
import { smsMessages } from '../metrics.js';
import { markupOrDefault } from '../plans/retail-rates.js';
import { nowIso } from '../util/time.js';
import { chargeSms } from './messages.js';
import type { HandOver, SmsHandOff } from './providers/adapter.js';
import { SmsPriceBook, type SmsPayer } from './rates.js';

export interface DispatcherLimits {
  /** Messages claimed per transaction. */
  batch: number;
  /** Hand-overs awaiting their provider's answer at once. */
  inFlight: number;
  /** Longest sleep when nothing is due: a message scheduled meanwhile waits at most this. */
  idleMs: number;
}

const DEFAULT_LIMITS: DispatcherLimits = { batch: 200, inFlight: 64, idleMs: 1000 };

interface Claimed { provider: string; handOver: HandOver }

export class SmsDispatcher {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(private readonly ctx: Ctx, private readonly gateway: SmsHandOff, private readonly limits: DispatcherLimits = DEFAULT_LIMITS) {}

  start(): void {
    this.wake();
  }

  /** Something may be due now (a campaign was queued): run at once rather than at the next tick. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) { this.#again = true; return; }
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    this.#running = this.#run().finally(() => {
      this.#running = null;
      if (this.#closed) return;
      if (this.#again) { this.#again = false; this.wake(); return; }
      this.#timer = setTimeout(() => { this.#timer = null; this.wake(); }, this.limits.idleMs);
      this.#timer.unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * Messages whose hand-over started longer ago than the lease with no answer from the provider:
   * the instance that held them died, or the provider never answered. They may have been taken,
   * so they are not sent again: FAILED with FATE_UNKNOWN (charged, as the attempt was made).
   */
  async #markUnknownFates(): Promise<void> {
    const { ctx } = this;
    const before = new Date(Date.now() - ctx.config.smsHandoverLeaseSeconds * 1000).toISOString();
    const now = nowIso();
    const marked = await inTx(ctx.db, (trx) => trx.updateTable('sms_messages')
      .set({ status: 'FAILED', error_code: 'FATE_UNKNOWN', finished_at: now, updated_at: now })
      .where('status', '=', 'QUEUED').where('handover_started_at', '<', before).where('provider_message_id', 'is', null)
      .executeTakeFirst());
    const n = Number(marked.numUpdatedRows ?? 0n);
    if (n > 0) {
      smsMessages.inc({ status: 'FAILED' }, n);
      ctx.log.warn({ messages: n }, 'SMS whose hand-over got no answer marked FAILED with FATE_UNKNOWN; they may have been delivered');
    }
  }

  /** Claims and hands over batch after batch while they come full. */
  async #run(): Promise<void> {
    try {
      await this.#markUnknownFates();
      for (;;) {
        if (this.#closed) return;
        const { claimed, full } = await this.#claim();
        if (claimed.length > 0) {
          await this.ctx.durable();
          await this.#handOverAll(claimed);
        }
        if (!full) return;
      }
    } catch (err) {
      this.ctx.log.error({ err }, 'SMS dispatch failed; retrying shortly');
    }
  }

  async #handOverAll(claimed: Claimed[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < claimed.length) {
        const c = claimed[next++];
        await this.gateway.handOver(c.provider, c.handOver);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limits.inFlight, claimed.length) }, worker));
  }

  /** One transaction: the due messages, each charged (or failed), marked as being handed over. */
  async #claim(): Promise<{ claimed: Claimed[]; full: boolean }> {
    const { ctx } = this;
    return inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'SMS claim', async () => {
      const now = nowIso();
      let due = trx.selectFrom('sms_messages').select(['id', 'account_id', 'reseller_id', 'provider', 'phone', 'sender_id', 'message',
        'encoding', 'segments', 'campaign_id', 'charged_at'])
        .where('handover_started_at', 'is', null).where('status', 'in', ['QUEUED', 'SCHEDULED'])
        .where((eb) => eb.or([eb('scheduled_at', 'is', null), eb('scheduled_at', '<=', now)]))
        .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
        .orderBy('id').limit(this.limits.batch);
      if (ctx.dialect === 'postgres') due = due.forUpdate().skipLocked();
      const rows = await due.execute();
      if (rows.length === 0) return { claimed: [], full: false };
      const accountIds = [...new Set(rows.flatMap((r) => [Number(r.account_id), ...(r.reseller_id === null ? [] : [Number(r.reseller_id)])]))];
      // The payers' rows in the global order first (db/locks.ts), then each message's debits.
      const locked = await lockAccounts(trx, ctx.dialect, accountIds);
      const accounts = await trx.selectFrom('accounts').select(['id', 'active', 'markup_micro_percent']).where('id', 'in', accountIds).execute();
      const byId = new Map(accounts.map((a) => [Number(a.id), a]));
      const books = new Map<string, SmsPriceBook>();
      const failedCampaigns = new Set<number>();
      const claimed: Claimed[] = [];
      const fail = async (id: number, errorCode: string) => {
        await trx.updateTable('sms_messages').set({ status: 'FAILED', error_code: errorCode, finished_at: now, updated_at: now })
          .where('id', '=', id).execute();
        smsMessages.inc({ status: 'FAILED' });
      };
      for (const r of rows) {
        const id = Number(r.id);
        if (r.charged_at !== null) {
          // Charged before, handed back because its provider could not be asked: sent again, not charged again.
          await trx.updateTable('sms_messages').set({ handover_started_at: now, updated_at: now }).where('id', '=', id).execute();
          claimed.push({ provider: r.provider, handOver: { id, phone: r.phone, senderId: r.sender_id, text: r.message, encoding: r.encoding } });
          continue;
        }
        const campaignId = r.campaign_id === null ? null : Number(r.campaign_id);
        // Failed with the rest of its campaign below, when an earlier message of it could not be paid.
        if (campaignId !== null && failedCampaigns.has(campaignId)) continue;
        const client = byId.get(Number(r.account_id));
        const reseller = r.reseller_id === null ? undefined : byId.get(Number(r.reseller_id));
        if (!client || !locked.has(Number(r.account_id)) || client.active !== 1 || (reseller && reseller.active !== 1)) {
          await fail(id, 'ACCOUNT_INACTIVE');
          continue;
        }
        const payer: SmsPayer = {
          clientId: Number(r.account_id), clientLogin: '',
          reseller: reseller ? { id: Number(reseller.id), markupMicroPercent: markupOrDefault(reseller.markup_micro_percent) } : null,
        };
        let book = books.get(r.provider);
        if (!book) books.set(r.provider, book = await SmsPriceBook.load(trx, r.provider));
        const price = book.priceFor(r.phone.slice(1), payer);
        if (!price) { await fail(id, 'NO_RATE'); continue; }
        const segments = BigInt(r.segments);
        const costMicros = price.rateMicros * segments;
        const resellerCostMicros = price.resellerRateMicros * segments;
        try {
          await chargeSms(trx, { smsId: id, payer, phone: r.phone, costMicros, resellerCostMicros });
        } catch (err) {
          if (!(err instanceof AppError) || err.status !== 402) throw err;
          await fail(id, 'INSUFFICIENT_BALANCE');
          if (campaignId !== null) {
            failedCampaigns.add(campaignId);
            // The rest of the campaign, not yet claimed: failed as well, uncharged.
            const rest = await trx.updateTable('sms_messages')
              .set({ status: 'FAILED', error_code: 'INSUFFICIENT_BALANCE', finished_at: now, updated_at: now })
              .where('campaign_id', '=', campaignId).where('handover_started_at', 'is', null)
              .where('status', 'in', ['QUEUED', 'SCHEDULED']).where('id', '>', id).executeTakeFirst();
            smsMessages.inc({ status: 'FAILED' }, Number(rest.numUpdatedRows ?? 0n));
          }
          continue;
        }
        const status: SmsStatus = 'QUEUED';
        await trx.updateTable('sms_messages').set({
          status, charged_at: now, handover_started_at: now, rate_micros: price.rateMicros, cost_micros: costMicros,
          reseller_cost_micros: resellerCostMicros, updated_at: now,
        }).where('id', '=', id).execute();
        claimed.push({ provider: r.provider, handOver: { id, phone: r.phone, senderId: r.sender_id, text: r.message, encoding: r.encoding } });
      }
      smsMessages.inc({ status: 'QUEUED' }, claimed.length);
      return { claimed, full: rows.length === this.limits.batch };
    }));
  }
}
