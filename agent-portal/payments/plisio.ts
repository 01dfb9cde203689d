// Plisio (crypto invoices priced in fiat). An invoice is created with a GET carrying the secret
// key as api_key; the client pays on Plisio's page, and Plisio POSTs status callbacks signed with
// verify_hash, an HMAC-SHA1 with the same key over a PHP rendering of the other fields:
// - form callbacks: serialize() of the fields sorted by key (ksort), with tx_urls HTML-entity
//   decoded first, as Plisio posts it escaped but signs it plain (their PHP SDK does the same);
// - JSON callbacks (callback_url with json=true, which the portal asks for): json_encode() of the
//   fields in the order received. A PHP sender's json_encode escapes "/" and non-ASCII by default
//   while Plisio's Node example verifies over JSON.stringify; both renderings are accepted, as
//   either is an HMAC under the secret key and neither can be made without it.
import crypto from 'node:crypto';
import {
  DECIMAL, PaymentProviderError, PaymentSignatureError, callbackText, checkInvoiceRequest, fetchFailure, mediaType, sameSignature,
  type Invoice, type InvoiceRequest, type PaymentNotice, type PaymentProvider,
} from './provider.js';
import {
  JS_STRINGIFY, encodeJsonNode, jsonNodeOf, parseOrderedJson, phpSerializeArray, scalarField, type JsonEncodeFlags, type JsonNode,
} from './php-serialize.js';

export interface PlisioOptions {
  /** Default https://api.plisio.net */
  apiUrl?: string;
  secretKey: string;
  timeoutMs?: number;
}

/** Statuses after which Plisio holds the client's money for the order (mismatch: paid, but not the exact sum). */
const PAID = new Set(['completed', 'mismatch']);

// PHP's ksort() in its default (SORT_REGULAR) order: two numeric keys compare as numbers, any
// other pair byte by byte. Plisio's keys are plain words, but a wrong order would refuse a
// genuine callback, so the order follows PHP's rather than JS's.
const PHP_NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;
function phpKeyCompare(a: string, b: string): number {
  if (PHP_NUMERIC.test(a) && PHP_NUMERIC.test(b)) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Plisio's verify_hash of a form callback: HMAC-SHA1 (hex) with the secret key over PHP
 * serialize() of the fields (verify_hash excluded, values as Plisio signs them) sorted by key.
 */
export function plisioVerifyHash(fields: Record<string, string>, secretKey: string): string {
  const pairs = Object.entries(fields).filter(([k]) => k !== 'verify_hash').sort(([a], [b]) => phpKeyCompare(a, b));
  return crypto.createHmac('sha1', secretKey).update(phpSerializeArray(pairs), 'utf8').digest('hex');
}

function jsonHash(node: JsonNode, secretKey: string, flags: JsonEncodeFlags): string {
  const rest: JsonNode = node.t === 'object' ? { t: 'object', entries: node.entries.filter(([k]) => k !== 'verify_hash') } : node;
  return crypto.createHmac('sha1', secretKey).update(encodeJsonNode(rest, flags), 'utf8').digest('hex');
}

/**
 * Plisio's verify_hash of a JSON callback: HMAC-SHA1 (hex) over json_encode() of the fields
 * (verify_hash excluded) in their order, as PHP writes them by default ("\/", \uXXXX) unless
 * `flags` say otherwise (JS_STRINGIFY for the rendering of Plisio's Node example).
 */
export function plisioJsonVerifyHash(fields: Record<string, unknown>, secretKey: string, flags: JsonEncodeFlags = {}): string {
  return jsonHash(jsonNodeOf(fields), secretKey, flags);
}

/**
 * PHP 8.1+ html_entity_decode() with its defaults (ENT_QUOTES | ENT_HTML401), for what an
 * htmlspecialchars()-escaped URL list carries: &amp; &quot; &lt; &gt; and numeric entities. Other
 * named entities are left as written; were one ever sent, the signature would not match and the
 * callback would be refused rather than misread.
 */
export function htmlEntityDecode(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]+|#\d+|amp|quot|lt|gt);/g, (whole, ent: string) => {
    if (ent === 'amp') return '&';
    if (ent === 'quot') return '"';
    if (ent === 'lt') return '<';
    if (ent === 'gt') return '>';
    const code = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
    // The code points PHP decodes for HTML 4.01; it leaves any other entity as written.
    const allowed = (code >= 0x20 && code <= 0x7e) || code === 0x0a || code === 0x09 || code === 0x0d
      || (code >= 0xa0 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0x10ffff);
    return allowed ? String.fromCodePoint(code) : whole;
  });
}

/** A form body's fields as PHP's $_POST has them (last value of a repeated key, in its first place). */
function formFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [rawKey, value] of new URLSearchParams(text)) {
    // PHP drops leading spaces of a name and turns "." and " " into "_"; "[" would make an array,
    // which Plisio never sends and serialize() would render otherwise.
    const key = rawKey.replace(/^ +/, '');
    if (key === '') continue;
    if (key.includes('[')) throw new PaymentSignatureError('callback field name with "[" is not a Plisio field');
    fields.set(key.replace(/[. ]/g, '_'), value);
  }
  return fields;
}

export function plisioProvider(o: PlisioOptions): PaymentProvider {
  const apiUrl = (o.apiUrl ?? 'https://api.plisio.net').replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!o.secretKey) throw new TypeError('Plisio needs its secret key');
  // Plisio's error messages are passed on; none should ever carry the key, but it is the one
  // thing that must not reach a log.
  const scrub = (s: string) => s.split(o.secretKey).join('[secret key]');

  return {
    name: 'plisio',

    async createInvoice(req: InvoiceRequest): Promise<Invoice> {
      checkInvoiceRequest(req);
      // json=true makes Plisio post callbacks as JSON, which keeps field order and types as signed.
      const callback = new URL(req.callbackUrl);
      if (callback.searchParams.get('json') !== 'true') callback.search = callback.search ? `${callback.search}&json=true` : '?json=true';
      const query = new URLSearchParams({
        api_key: o.secretKey,
        order_number: req.orderId,
        order_name: req.description,
        source_amount: req.amount,
        source_currency: req.currency,
        callback_url: callback.href,
        success_invoice_url: req.successUrl,
        fail_invoice_url: req.failUrl,
      });
      if (req.email) query.set('email', req.email);
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${apiUrl}/api/v1/invoices/new?${query}`, {
          headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (err) {
        throw new PaymentProviderError(`Plisio ${fetchFailure(err, timeoutMs)}`);
      }
      let answer: any;
      try { answer = JSON.parse(text); } catch {
        throw new PaymentProviderError(`Plisio answered HTTP ${res.status} without JSON`, res.status);
      }
      if (res.ok && answer?.status === 'success' && typeof answer.data?.txn_id === 'string' && answer.data.txn_id !== ''
        && typeof answer.data?.invoice_url === 'string' && /^https?:\/\//.test(answer.data.invoice_url)) {
        return { provider: 'plisio', invoiceId: answer.data.txn_id, payUrl: answer.data.invoice_url };
      }
      const message = answer?.data?.message;
      const said = message === undefined ? '' : `: ${typeof message === 'string' ? message : JSON.stringify(message)}`;
      throw new PaymentProviderError(scrub(`Plisio refused the invoice (HTTP ${res.status}${answer?.status ? `, ${answer.status}` : ''})${said}`.slice(0, 500)), res.status);
    },

    verifyCallback(rawBody: Buffer, contentType: string | null): PaymentNotice {
      const text = callbackText(rawBody);
      const type = mediaType(contentType);
      let json: boolean;
      if (type === 'application/json' || type?.endsWith('+json')) json = true;
      else if (type === 'application/x-www-form-urlencoded') json = false;
      else if (type === null) json = text.trimStart().startsWith('{');
      else throw new PaymentSignatureError(`Plisio callback of unexpected Content-Type ${type}`);

      let field: (key: string) => string | undefined;
      let genuine: boolean;
      if (json) {
        let node: JsonNode;
        try { node = parseOrderedJson(text); } catch (err) {
          throw new PaymentSignatureError(`Plisio callback is not JSON (${(err as Error).message})`);
        }
        if (node.t !== 'object') throw new PaymentSignatureError('Plisio callback is not a JSON object');
        const received = scalarField(node, 'verify_hash');
        if (node.entries.find(([k]) => k === 'verify_hash')?.[1].t !== 'string' || !received) {
          throw new PaymentSignatureError('Plisio callback without verify_hash');
        }
        // Both renderings are computed and compared, so the time taken does not tell which one matched.
        let candidates: string[];
        try {
          candidates = [jsonHash(node, o.secretKey, {}), jsonHash(node, o.secretKey, JS_STRINGIFY)];
        } catch (err) {
          throw new PaymentSignatureError(`Plisio callback cannot be re-encoded (${(err as Error).message})`);
        }
        genuine = candidates.map((c) => sameSignature(c, received)).includes(true);
        field = (key) => scalarField(node, key);
      } else {
        const fields = formFields(text);
        const received = fields.get('verify_hash');
        if (!received) throw new PaymentSignatureError('Plisio callback without verify_hash');
        fields.delete('verify_hash');
        const signed = Object.fromEntries(fields);
        if (signed.tx_urls !== undefined) signed.tx_urls = htmlEntityDecode(signed.tx_urls);
        genuine = sameSignature(plisioVerifyHash(signed, o.secretKey), received);
        field = (key) => fields.get(key);
      }
      if (!genuine) throw new PaymentSignatureError('Plisio callback signature does not match');

      const orderId = field('order_number');
      const invoiceId = field('txn_id');
      const status = field('status');
      const amount = field('source_amount');
      const currency = field('source_currency');
      if (!orderId || !invoiceId || !status) throw new PaymentSignatureError('Plisio callback without order_number, txn_id or status');
      if (!amount || !DECIMAL.test(amount) || !currency) throw new PaymentSignatureError('Plisio callback without a fiat source_amount and source_currency');
      return { provider: 'plisio', orderId, invoiceId, status, paid: PAID.has(status), amount, currency };
    },
  };
}
