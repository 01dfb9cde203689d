// An SMSC over SMPP 3.4 (the carrier standard), with the `smpp` package as the wire codec. The
// package gives a session and PDUs only, so this adds what a carrier link needs: a
// transceiver bind kept up (enquire_link every 30 s; reconnect with back-off from 1 to 30 s),
// a window of submit_sm awaiting their response, a throughput limit per bind, a timeout on
// every response, long messages split and concatenated (smpp-parts.ts), and delivery receipts
// read from their TLVs (receipted_message_id, message_state) first and from the `id:… stat:…`
// text second.
//
// A submit_sm that never left (no bind, the SMSC throttling) throws SmsNotSent: it may be tried
// again. One whose response never came may have been taken: its fate is unknown, and it is not
// sent again from here.
import smpp, { type PDU, type Session } from 'smpp';
import type { Logger } from 'pino';
import type { SmsProviderConfig } from '../../config.js';
import { SmsNotSent, type DeliveryReport, type HandOver, type ReportSink, type SmsAdapter, type SubmitResult } from './adapter.js';
import { smppParts, type SmppPart } from './smpp-parts.js';

type SmppConfig = Extract<SmsProviderConfig, { adapter: 'smpp' }>;

const ENQUIRE_LINK_MS = 30_000;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** How long a submit waits for the bind before the message counts as not sent. */
const BIND_WAIT_MS = 5000;
/** Submits waiting for a window slot; more are refused as not sent (the dispatcher retries them). */
const MAX_WAITING = 10_000;
/** submit_sm_resp statuses that mean "not taken, try later": throttled, queue full. */
const RETRY_LATER = new Set([0x58, 0x14]);
/** message_state: 2 DELIVERED; 3 EXPIRED, 4 DELETED, 5 UNDELIVERABLE, 8 REJECTED are final failures. */
const FAILED_STATES: Record<number, string> = { 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIVERED', 8: 'REJECTED' };
const STAT_TEXT: Record<string, number> = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

/** A delivery receipt's report, or null for anything else (an MO message, an intermediate state). */
export function receiptOf(pdu: PDU): DeliveryReport | null {
  if ((Number(pdu.esm_class ?? 0) & 0x3c) !== 0x04) return null;
  const body = pdu.short_message;
  const text = typeof body === 'string' ? body
    : Buffer.isBuffer(body) ? body.toString('latin1')
    : body && typeof body.message === 'string' ? body.message
    : body && Buffer.isBuffer(body.message) ? body.message.toString('latin1') : '';
  const id = typeof pdu.receipted_message_id === 'string' && pdu.receipted_message_id !== ''
    ? pdu.receipted_message_id.replace(/\0+$/, '') : /\bid:(\S+)/i.exec(text)?.[1];
  let state = typeof pdu.message_state === 'number' ? pdu.message_state : undefined;
  if (state === undefined) {
    const stat = /\bstat:(\w+)/i.exec(text)?.[1]?.toUpperCase();
    state = stat === undefined ? undefined : STAT_TEXT[stat];
  }
  if (!id || state === undefined) return null;
  if (state === 2) return { providerMessageId: id, delivered: true };
  const failure = FAILED_STATES[state];
  return failure ? { providerMessageId: id, delivered: false, errorCode: failure } : null;
}

/**
 * How long a shutdown waits for the receipts being applied, so that each is answered rather
 * than cut off with the connection (the SMSC would deliver those again, on the next bind).
 */
const RECEIPT_DRAIN_MS = 2000;

/** deliver_sm_resp status asking the SMSC to deliver the receipt again later (ESME_RX_T_APPN). */
const TRY_AGAIN_LATER = 0x64;

export interface SmppAdapterOptions {
  onReport: ReportSink;
  log: Logger;
}

export class SmppAdapter implements SmsAdapter {
  #session: Session | null = null;
  #bound = false;
  #closed = false;
  #backoffMs = MIN_BACKOFF_MS;
  #reconnect: NodeJS.Timeout | null = null;
  #bindWaiters: Array<() => void> = [];
  #inFlight = 0;
  #windowWaiters: Array<() => void> = [];
  /** When the next submit_sm may go, for the throughput limit. */
  #nextSendAt = 0;
  #reference = 0;
  /** Receipts handed to onReport and not yet answered: a shutdown waits for them. */
  #receiptsInFlight = new Set<Promise<void>>();

  constructor(private readonly config: SmppConfig, private readonly options: SmppAdapterOptions) {
    this.#connect();
  }

  get bound(): boolean {
    return this.#bound;
  }

  #connect(): void {
    if (this.#closed) return;
    const session = smpp.connect({ url: this.config.url, auto_enquire_link_period: ENQUIRE_LINK_MS });
    this.#session = session;
    session.on('connect', () => {
      session.bind_transceiver({ system_id: this.config.systemId, password: this.config.password, system_type: this.config.systemType }, (pdu) => {
        if (pdu.command_status !== 0) {
          this.options.log.warn({ provider: this.config.code, status: pdu.command_status }, 'SMPP bind refused; retrying');
          session.destroy();
          return;
        }
        this.#bound = true;
        this.#backoffMs = MIN_BACKOFF_MS;
        this.options.log.info({ provider: this.config.code }, 'SMPP bound');
        for (const wake of this.#bindWaiters.splice(0)) wake();
      });
    });
    // A receipt is acknowledged once it is applied and on disk; one not yet applicable (its
    // message's hand-over not yet recorded) or not applied (an error) is refused for now, and
    // the SMSC delivers it again: a crash in between loses none.
    session.on('deliver_sm', (pdu: PDU) => {
      const report = receiptOf(pdu);
      if (!report) { session.send(pdu.response()); return; }
      // Shutting down: the database may be gone by the time this one would be applied.
      if (this.#closed) { session.send(pdu.response({ command_status: TRY_AGAIN_LATER })); return; }
      const answered: Promise<void> = this.options.onReport(report).then(
        (outcome) => { session.send(pdu.response(outcome === 'done' ? {} : { command_status: TRY_AGAIN_LATER })); },
        (err: unknown) => {
          this.options.log.error({ err, provider: this.config.code }, 'SMPP receipt not applied; the SMSC is asked to send it again');
          session.send(pdu.response({ command_status: TRY_AGAIN_LATER }));
        },
      ).finally(() => this.#receiptsInFlight.delete(answered));
      this.#receiptsInFlight.add(answered);
    });
    session.on('enquire_link', (pdu: PDU) => { session.send(pdu.response()); });
    session.on('unbind', (pdu: PDU) => { session.send(pdu.response()); session.close(); });
    session.on('error', (err: Error) => { this.options.log.warn({ provider: this.config.code, err: err.message }, 'SMPP connection error'); });
    session.on('close', () => {
      if (this.#session !== session) return;
      this.#bound = false;
      this.#session = null;
      if (this.#closed) return;
      const delay = this.#backoffMs;
      this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
      this.#reconnect = setTimeout(() => { this.#reconnect = null; this.#connect(); }, delay);
      this.#reconnect.unref();
    });
  }

  async #waitBound(): Promise<void> {
    if (this.#bound) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#bindWaiters = this.#bindWaiters.filter((w) => w !== done);
        reject(new SmsNotSent(`SMPP provider ${this.config.code} is not bound`));
      }, BIND_WAIT_MS);
      const done = () => { clearTimeout(timer); resolve(); };
      this.#bindWaiters.push(done);
    });
  }

  /** A window slot, then the throughput limit's turn. */
  async #slot(): Promise<void> {
    if (this.#inFlight >= this.config.window) {
      if (this.#windowWaiters.length >= MAX_WAITING) throw new SmsNotSent(`SMPP provider ${this.config.code}: too many messages waiting`);
      await new Promise<void>((resolve) => this.#windowWaiters.push(resolve));
    }
    this.#inFlight++;
    const now = Date.now();
    const at = Math.max(now, this.#nextSendAt);
    this.#nextSendAt = at + 1000 / this.config.tps;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }

  #release(): void {
    this.#inFlight--;
    this.#windowWaiters.shift()?.();
  }

  /** One submit_sm and its response (or null when none came in time). */
  async #submitPart(m: HandOver, part: SmppPart, first: boolean): Promise<PDU | null> {
    await this.#slot();
    try {
      const session = this.#session;
      if (!session || !this.#bound) {
        if (first) throw new SmsNotSent(`SMPP provider ${this.config.code} lost its bind`);
        return null;
      }
      return await new Promise<PDU | null>((resolve, reject) => {
        const timer = setTimeout(() => resolve(null), this.config.responseTimeoutMs);
        const onClose = () => { clearTimeout(timer); resolve(null); };
        session.once('close', onClose);
        const sent = session.submit_sm({
          source_addr: m.senderId ?? '', source_addr_ton: m.senderId && /\D/.test(m.senderId) ? 5 : 1, source_addr_npi: m.senderId && /\D/.test(m.senderId) ? 0 : 1,
          destination_addr: m.phone.replace(/^\+/, ''), dest_addr_ton: 1, dest_addr_npi: 1,
          registered_delivery: 1, ...part,
        }, (pdu) => { clearTimeout(timer); session.off('close', onClose); resolve(pdu); });
        if (!sent) {
          clearTimeout(timer);
          session.off('close', onClose);
          if (first) reject(new SmsNotSent(`SMPP provider ${this.config.code}: the connection is not writable`));
          else resolve(null);
        }
      });
    } finally {
      this.#release();
    }
  }

  async submit(m: HandOver): Promise<SubmitResult> {
    if (this.#closed) throw new SmsNotSent('the SMPP adapter is closed');
    await this.#waitBound();
    this.#reference = (this.#reference + 1) & 0xff;
    const parts = smppParts(m.text, m.encoding, this.#reference);
    const ids: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const resp = await this.#submitPart(m, parts[i], i === 0);
      if (!resp) throw new Error(`SMPP provider ${this.config.code}: no submit_sm_resp for SMS ${m.id}`);
      if (resp.command_status !== 0) {
        if (i === 0 && RETRY_LATER.has(resp.command_status)) throw new SmsNotSent(`SMPP provider ${this.config.code} is throttling`);
        return { accepted: false, errorCode: `SMPP_0x${resp.command_status.toString(16).padStart(2, '0').toUpperCase()}` };
      }
      ids.push(String(resp.message_id ?? ''));
    }
    // Receipts are matched on the first part's id (an SMSC reports each part alike).
    return { accepted: true, providerMessageId: ids[0] };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnect) clearTimeout(this.#reconnect);
    // Receipts being applied are answered before the connection goes, within a bound.
    if (this.#receiptsInFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#receiptsInFlight]),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, RECEIPT_DRAIN_MS); }),
      ]);
      clearTimeout(timer);
    }
    const session = this.#session;
    this.#session = null;
    this.#bound = false;
    if (session) await new Promise<void>((resolve) => { session.destroy(() => resolve()); setTimeout(resolve, 1000).unref(); });
  }
}
