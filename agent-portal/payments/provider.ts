// What the portal needs of a payment provider for client top-ups: an invoice to send the client
// to, and a callback it can trust. Each provider module turns its own protocol into these shapes,
// so the portal credits a top-up from a PaymentNotice without knowing whose it is.
import crypto from 'node:crypto';

export type ProviderName = 'plisio' | 'heleket';

export interface InvoiceRequest {
  /** Unique per top-up, chosen by the portal: [A-Za-z0-9_-], at most 64 characters. */
  orderId: string;
  /** Shown on the provider's page. */
  description: string;
  /** Decimal string in the fiat currency, e.g. "10.00". */
  amount: string;
  /** e.g. "USD". */
  currency: string;
  /** The portal's callback URL for this provider. */
  callbackUrl: string;
  /** Where the provider sends the client back after paying. */
  successUrl: string;
  failUrl: string;
  email?: string;
}

export interface Invoice { provider: ProviderName; invoiceId: string; payUrl: string }

export interface PaymentNotice {
  provider: ProviderName;
  /** The InvoiceRequest.orderId it belongs to. */
  orderId: string;
  /** The provider's id (Plisio txn_id, Heleket uuid). */
  invoiceId: string;
  /** The provider's own status word, as sent. */
  status: string;
  /** Plisio: completed, mismatch; Heleket: paid, paid_over. Anything else false. */
  paid: boolean;
  /** Fiat amount of the order as the provider reports it (Plisio source_amount; Heleket amount), decimal string. */
  amount: string;
  /** Fiat currency (Plisio source_currency; Heleket currency). */
  currency: string;
}

/** A callback that is forged, tampered with, unparsable, or lacks what a notice needs. */
export class PaymentSignatureError extends Error {
  override name = 'PaymentSignatureError';
}

/** The provider's API refused the request, answered something unusable, or could not be reached. */
export class PaymentProviderError extends Error {
  override name = 'PaymentProviderError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface PaymentProvider {
  readonly name: ProviderName;
  createInvoice(req: InvoiceRequest): Promise<Invoice>;
  /** Verifies a callback exactly as received (raw body bytes + its Content-Type). Throws PaymentSignatureError unless genuine. */
  verifyCallback(rawBody: Buffer, contentType: string | null): PaymentNotice;
}

const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const AMOUNT = /^\d{1,15}(\.\d{1,8})?$/;
const CURRENCY = /^[A-Z]{3}$/;
/** A notice's amount: a plain decimal, whatever the provider's precision. */
export const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * Refuses a request the portal should never have built, before anything reaches a provider: a
 * bad amount or URL would otherwise surface as a provider refusal and look like an outage.
 */
export function checkInvoiceRequest(req: InvoiceRequest): void {
  if (!ORDER_ID.test(req.orderId)) throw new TypeError('orderId must be 1-64 characters of [A-Za-z0-9_-]');
  if (!AMOUNT.test(req.amount) || !/[1-9]/.test(req.amount)) throw new TypeError('amount must be a positive decimal string');
  if (!CURRENCY.test(req.currency)) throw new TypeError('currency must be a three-letter upper-case code');
  for (const [field, url] of [['callbackUrl', req.callbackUrl], ['successUrl', req.successUrl], ['failUrl', req.failUrl]] as const) {
    let parsed: URL;
    try { parsed = new URL(url); } catch { throw new TypeError(`${field} must be an absolute URL`); }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError(`${field} must be an http(s) URL`);
  }
}

/** The media type of a Content-Type header, lower-cased, without parameters; null when absent. */
export function mediaType(contentType: string | null): string | null {
  if (contentType === null) return null;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  return type === '' ? null : type;
}

/** Why a fetch failed, without its message: an undici message can quote the URL, and Plisio's URL carries the key. */
export function fetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : e?.name ?? 'error';
  return `unreachable (${code})`;
}

/** Compares a computed signature with a received one in constant time (for equal lengths). */
export function sameSignature(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** A callback body as text: invalid UTF-8 is refused (PHP would have signed other bytes), a BOM kept so the parser refuses it. */
export function callbackText(rawBody: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(rawBody);
  } catch {
    throw new PaymentSignatureError('callback body is not UTF-8');
  }
}
