// Heleket (crypto payments priced in fiat). Requests and webhooks are signed the same way:
// sign = md5(base64(json) + payment key). A request is signed over the exact body sent; a webhook
// carries `sign` inside its JSON, computed by Heleket in PHP over json_encode() of the other
// fields, so it is checked over those fields re-encoded as PHP writes them, in the order received
// with numbers as written. Heleket's own PHP example passes JSON_UNESCAPED_UNICODE while the
// default escapes non-ASCII as \uXXXX; both renderings are accepted (either is keyed by the
// payment key, and neither can be made without it).
import crypto from 'node:crypto';
import {
  DECIMAL, PaymentProviderError, PaymentSignatureError, callbackText, checkInvoiceRequest, fetchFailure, sameSignature,
  type Invoice, type InvoiceRequest, type PaymentNotice, type PaymentProvider,
} from './provider.js';
import { encodeJsonNode, parseOrderedJson, phpJsonEncode, scalarField, type JsonNode } from './php-serialize.js';

export interface HeleketOptions {
  /** Default https://api.heleket.com */
  apiUrl?: string;
  merchantId: string;
  paymentKey: string;
  timeoutMs?: number;
  /** How long the client may pay an invoice, in seconds (Heleket allows 300-43200; its default is 3600). */
  lifetimeSeconds?: number;
}

/** Statuses after which Heleket holds the client's money for the order (paid_over: more than asked). */
const PAID = new Set(['paid', 'paid_over']);

const md5Sign = (json: string, paymentKey: string) =>
  crypto.createHash('md5').update(Buffer.from(json, 'utf8').toString('base64') + paymentKey, 'utf8').digest('hex');

/**
 * Heleket's sign: md5 (hex) of base64(JSON) + payment key. A string is taken as the exact JSON
 * text (a request body as sent); any other value is written as PHP's json_encode writes it.
 */
export function heleketSign(body: unknown, paymentKey: string): string {
  return md5Sign(typeof body === 'string' ? body : phpJsonEncode(body), paymentKey);
}

export function heleketProvider(o: HeleketOptions): PaymentProvider {
  const apiUrl = (o.apiUrl ?? 'https://api.heleket.com').replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!o.merchantId || !o.paymentKey) throw new TypeError('Heleket needs its merchant id and payment key');

  return {
    name: 'heleket',

    async createInvoice(req: InvoiceRequest): Promise<Invoice> {
      checkInvoiceRequest(req);
      // Written as PHP writes JSON ("\/", \uXXXX), so the sign matches whether Heleket checks the
      // bytes received or its own re-encoding of them.
      const body = phpJsonEncode({
        amount: req.amount,
        currency: req.currency,
        order_id: req.orderId,
        url_callback: req.callbackUrl,
        url_return: req.failUrl,
        url_success: req.successUrl,
        lifetime: o.lifetimeSeconds,
      });
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${apiUrl}/v1/payment`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', merchant: o.merchantId, sign: heleketSign(body, o.paymentKey) },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        throw new PaymentProviderError(`Heleket ${fetchFailure(err, timeoutMs)}`);
      }
      let answer: any;
      try { answer = JSON.parse(text); } catch {
        throw new PaymentProviderError(`Heleket answered HTTP ${res.status} without JSON`, res.status);
      }
      const result = answer?.result;
      if (res.ok && answer?.state === 0 && typeof result?.uuid === 'string' && result.uuid !== ''
        && typeof result?.url === 'string' && /^https?:\/\//.test(result.url)) {
        return { provider: 'heleket', invoiceId: result.uuid, payUrl: result.url };
      }
      const why = answer?.message ?? answer?.errors;
      const said = why === undefined ? '' : `: ${typeof why === 'string' ? why : JSON.stringify(why)}`;
      throw new PaymentProviderError(`Heleket refused the payment (HTTP ${res.status}, state ${answer?.state ?? '?'})${said}`.slice(0, 500), res.status);
    },

    // The Content-Type is not consulted: Heleket posts JSON only, and only the signature decides.
    verifyCallback(rawBody: Buffer, _contentType: string | null): PaymentNotice {
      let node: JsonNode;
      try { node = parseOrderedJson(callbackText(rawBody)); } catch (err) {
        if (err instanceof PaymentSignatureError) throw err;
        throw new PaymentSignatureError(`Heleket webhook is not JSON (${(err as Error).message})`);
      }
      if (node.t !== 'object') throw new PaymentSignatureError('Heleket webhook is not a JSON object');
      const signEntry = node.entries.find(([k]) => k === 'sign')?.[1];
      if (signEntry?.t !== 'string' || signEntry.v === '') throw new PaymentSignatureError('Heleket webhook without sign');
      const rest: JsonNode = { t: 'object', entries: node.entries.filter(([k]) => k !== 'sign') };
      let candidates: string[];
      try {
        candidates = [md5Sign(encodeJsonNode(rest), o.paymentKey), md5Sign(encodeJsonNode(rest, { unescapedUnicode: true }), o.paymentKey)];
      } catch (err) {
        throw new PaymentSignatureError(`Heleket webhook cannot be re-encoded (${(err as Error).message})`);
      }
      // Both are compared, so the time taken does not tell which rendering matched.
      if (!candidates.map((c) => sameSignature(c, signEntry.v)).includes(true)) {
        throw new PaymentSignatureError('Heleket webhook signature does not match');
      }

      const orderId = scalarField(node, 'order_id');
      const invoiceId = scalarField(node, 'uuid');
      const status = scalarField(node, 'status');
      const amount = scalarField(node, 'amount');
      const currency = scalarField(node, 'currency');
      if (!orderId || !invoiceId || !status) throw new PaymentSignatureError('Heleket webhook without order_id, uuid or status');
      if (!amount || !DECIMAL.test(amount) || !currency) throw new PaymentSignatureError('Heleket webhook without a fiat amount and currency');
      return { provider: 'heleket', orderId, invoiceId, status, paid: PAID.has(status), amount, currency };
    },
  };
}
