// An SMS gateway reached over HTTP, in the shape of Kannel's `sendsms` (the common one; Jasmin's
// `/send` takes the same fields under other names): a GET with the credentials, sender,
// number, text and coding, and a delivery-report URL the gateway calls back with the outcome
// as `%d` (Kannel's dlr-mask bits: 1 delivered, 2 not delivered, 16 refused by the SMSC; 4 and
// 8 are intermediate). The callback URL names the message and carries an HMAC of it made with
// the provider's `dlr_secret`, so a forged or altered report changes nothing, and a repeated one
// nothing more (a status moves only forward).
import crypto from 'node:crypto';
import type { SmsProviderConfig } from '../../config.js';
import { SmsNotSent, type DeliveryReport, type HandOver, type SmsAdapter, type SubmitResult } from './adapter.js';

export type HttpSmsConfig = Extract<SmsProviderConfig, { adapter: 'http' }>;

/** The callback's signature: HMAC-SHA256 of `provider:smsId` with the provider's secret, hex. */
export function dlrSignature(config: HttpSmsConfig, smsId: string): string {
  return crypto.createHmac('sha256', config.dlrSecret).update(`${config.code}:${smsId}`).digest('hex');
}

export function dlrSignatureValid(config: HttpSmsConfig, smsId: string, signature: unknown): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  return crypto.timingSafeEqual(Buffer.from(dlrSignature(config, smsId), 'hex'), Buffer.from(signature, 'hex'));
}

/** Kannel's dlr-mask bits as a report: null for the intermediate ones (queued, at the SMSC). */
export function httpReportOf(smsId: string, status: unknown): DeliveryReport | null {
  const code = typeof status === 'string' && /^\d{1,3}$/.test(status) ? Number(status) : Number.NaN;
  if (code === 1) return { providerMessageId: smsId, delivered: true };
  if (code === 2) return { providerMessageId: smsId, delivered: false, errorCode: 'UNDELIVERED' };
  if (code === 16) return { providerMessageId: smsId, delivered: false, errorCode: 'REJECTED' };
  return null;
}

export class HttpSmsAdapter implements SmsAdapter {
  constructor(private readonly config: HttpSmsConfig) {}

  async submit(m: HandOver): Promise<SubmitResult> {
    const id = String(m.id);
    const callback = `${this.config.callbackBaseUrl}/sms-dlr/${encodeURIComponent(this.config.code)}?id=${id}`
      + `&sig=${dlrSignature(this.config, id)}&status=%d`;
    const url = new URL(this.config.sendUrl);
    const params: Record<string, string> = {
      username: this.config.username, password: this.config.password, to: m.phone, text: m.text,
      // Kannel: 0 GSM-7, 2 UCS-2; the text itself travels as UTF-8 either way.
      coding: m.encoding === 'UCS-2' ? '2' : '0', charset: 'UTF-8', 'dlr-mask': '19', 'dlr-url': callback,
    };
    if (m.senderId) params.from = m.senderId;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.config.responseTimeoutMs) });
    } catch (err) {
      // Refused before a byte went: it never left. A timeout or a cut connection: unknown.
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'EHOSTUNREACH') throw new SmsNotSent(`SMS provider ${this.config.code} unreachable (${cause})`);
      throw err;
    }
    const body = (await res.text()).slice(0, 200);
    if (res.status === 503 || res.status === 429) throw new SmsNotSent(`SMS provider ${this.config.code} answered ${res.status}: ${body}`);
    if (res.status >= 200 && res.status < 300) return { accepted: true, providerMessageId: id };
    return { accepted: false, errorCode: `HTTP_${res.status}` };
  }

  async close(): Promise<void> {}
}
