// Hands recorded, charged SMS over to their provider's adapter and applies what comes back: the
// provider's answer to the hand-over (SENT_TO_PROVIDER, or FAILED when it refused the message)
// and its delivery reports (DELIVERED or FAILED). A message reaches its adapter only from here,
// once its record and charge are committed and durable (sms/messages.ts). Every status change
// moves forward only (a report never undoes a final status), so a repeated report changes
// nothing.
import type { Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import type { SmsStatus } from '../db/schema.js';
import { smsMessages } from '../metrics.js';
import { nowIso } from '../util/time.js';
import { smsProviders } from './provider-list.js';
import { SmsNotSent, type DeliveryReport, type HandOver, type SmsAdapter, type SmsHandOff, type SubmitResult } from './providers/adapter.js';
import { SmsSimulator } from './providers/simulator.js';
import { SmppAdapter } from './providers/smpp.js';
import { HttpSmsAdapter } from './providers/http.js';
import { SmsDispatcher } from './dispatcher.js';

/** Reports that arrived before their message's hand-over was recorded: applied right after it. */
const MAX_EARLY_REPORTS = 10_000;

export class SmsGateway implements SmsHandOff {
  readonly #adapters = new Map<string, SmsAdapter>();
  readonly #earlyReports = new Map<string, DeliveryReport>();
  /** Sends the scheduled messages and campaigns when due. */
  readonly #dispatcher: SmsDispatcher;

  constructor(private readonly ctx: Ctx) {
    for (const provider of smsProviders(ctx.config)) {
      const onReport = (report: DeliveryReport) => this.report(provider.code, report);
      this.#adapters.set(provider.code, provider.adapter === 'smpp' ? new SmppAdapter(provider, { onReport, log: ctx.log })
        : provider.adapter === 'http' ? new HttpSmsAdapter(provider)
        : new SmsSimulator({ reportDelayMs: ctx.config.smsSimulatorReportMs, onReport }));
    }
    this.#dispatcher = new SmsDispatcher(ctx, this);
  }

  /** Starts sending what is due. */
  start(): void {
    if (this.ctx.config.smsDispatch) this.#dispatcher.start();
  }

  wake(): void {
    if (this.ctx.config.smsDispatch) this.#dispatcher.wake();
  }

  /**
   * Hands message `m` (recorded, charged, `handover_started_at` set) to its provider and records
   * the answer. A provider that cannot be asked (down, timed out) leaves the message QUEUED with
   * its hand-over started: it is reconciled, never sent again blindly.
   */
  async handOver(provider: string, m: HandOver): Promise<{ status: SmsStatus; errorCode: string | null }> {
    const adapter = this.#adapters.get(provider);
    if (!adapter) return { status: 'QUEUED', errorCode: 'PROVIDER_UNAVAILABLE' };
    let result: SubmitResult;
    try {
      result = await adapter.submit(m);
    } catch (err) {
      if (err instanceof SmsNotSent) {
        // It never left: back to the dispatcher, already charged, for a later attempt.
        const retryAt = new Date(Date.now() + err.retryAfterMs).toISOString();
        await inTx(this.ctx.db, (trx) => trx.updateTable('sms_messages').set({ handover_started_at: null, next_attempt_at: retryAt, updated_at: nowIso() })
          .where('id', '=', m.id).where('status', '=', 'QUEUED').execute());
        this.ctx.log.warn({ err: err.message, smsId: m.id, provider }, 'SMS provider unavailable; the message is retried');
        return { status: 'QUEUED', errorCode: 'PROVIDER_UNAVAILABLE' };
      }
      this.ctx.log.warn({ err, smsId: m.id, provider }, 'SMS hand-over unanswered; the message stays QUEUED until reconciled');
      return { status: 'QUEUED', errorCode: 'PROVIDER_UNAVAILABLE' };
    }
    const now = nowIso();
    if (!result.accepted) {
      await this.#move(m.id, ['QUEUED'], { status: 'FAILED', error_code: result.errorCode, finished_at: now, updated_at: now });
      return { status: 'FAILED', errorCode: result.errorCode };
    }
    await this.#move(m.id, ['QUEUED'], { status: 'SENT_TO_PROVIDER', provider_message_id: result.providerMessageId, sent_at: now, updated_at: now });
    const key = `${provider}\n${result.providerMessageId}`;
    const early = this.#earlyReports.get(key);
    if (early) {
      this.#earlyReports.delete(key);
      await this.#applyReport(provider, early);
    }
    // The hand-over's outcome, even when a report overtook it: `status` tells what came after.
    return { status: 'SENT_TO_PROVIDER', errorCode: null };
  }

  /**
   * A delivery report: the message goes from SENT_TO_PROVIDER to DELIVERED or FAILED, once.
   * Answers `done` once the report is applied and durable (or was applied before: a repeat),
   * `held` when its message is not yet recorded as handed over: kept in memory for the
   * hand-over, which looks for it once it has recorded the provider's id. A provider that
   * redelivers should be told to, so that a crash meanwhile loses nothing.
   */
  async report(provider: string, report: DeliveryReport): Promise<'done' | 'held'> {
    if (await this.#applyReport(provider, report)) return 'done';
    const known = () => this.ctx.db.selectFrom('sms_messages').select('status')
      .where('provider', '=', provider).where('provider_message_id', '=', report.providerMessageId).executeTakeFirst();
    // Recorded since (the update raced its hand-over's commit): apply it now; a final one stays.
    if (await known()) {
      await this.#applyReport(provider, report);
      return 'done';
    }
    if (this.#earlyReports.size >= MAX_EARLY_REPORTS) return 'held';
    const key = `${provider}\n${report.providerMessageId}`;
    this.#earlyReports.set(key, report);
    // Looked up once more, in case the hand-over was recorded while this one was on its way here.
    if (await known()) {
      this.#earlyReports.delete(key);
      await this.#applyReport(provider, report);
      return 'done';
    }
    return 'held';
  }

  async #applyReport(provider: string, report: DeliveryReport): Promise<boolean> {
    const now = nowIso();
    const status: SmsStatus = report.delivered ? 'DELIVERED' : 'FAILED';
    const moved = await inTx(this.ctx.db, (trx) => trx.updateTable('sms_messages')
      .set({ status, error_code: report.delivered ? null : (report.errorCode ?? 'UNDELIVERED'), finished_at: now, updated_at: now })
      .where('provider', '=', provider).where('provider_message_id', '=', report.providerMessageId)
      .where('status', '=', 'SENT_TO_PROVIDER')
      .returning('id').execute());
    if (moved.length > 0) {
      smsMessages.inc({ status });
      await this.ctx.durable();
    }
    return moved.length > 0;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
    for (const adapter of this.#adapters.values()) await adapter.close();
  }

  async #move(id: number, from: SmsStatus[], set: Record<string, unknown>): Promise<void> {
    const moved = await inTx(this.ctx.db, (trx) => trx.updateTable('sms_messages').set(set)
      .where('id', '=', id).where('status', 'in', from).returning('id').execute());
    if (moved.length > 0) smsMessages.inc({ status: set.status as string });
  }
}
