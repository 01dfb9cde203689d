// Loopback stand-ins for Plisio and Heleket that check the portal's requests as the real services
// do (Plisio's api_key, Heleket's merchant and sign headers over the exact body, required
// fields), record the invoices, serve a one-button payment page, and post callbacks to the
// recorded callback URL: genuine ones signed as the provider signs them, forged ones (another
// key), and tampered ones (a field changed after signing).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import crypto from 'node:crypto';
import { plisioJsonVerifyHash, plisioVerifyHash } from '../../agent-portal/payments/plisio.js';
import { heleketSign } from '../../agent-portal/payments/heleket.js';
import { phpJsonEncode } from '../../agent-portal/payments/php-serialize.js';

interface Listening { url: string; close(): Promise<void> }

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, url: URL) => Promise<void> | void;

async function listen(handler: Handler): Promise<Listening & { server: http.Server }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake.invalid');
      Promise.resolve(handler(req, Buffer.concat(chunks), res, url)).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String((err as Error)?.message ?? err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function paymentPage(title: string, amount: string, currency: string, action: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>
<h1>${escapeHtml(title)}</h1><p id="amount">${escapeHtml(amount)} ${escapeHtml(currency)}</p>
<form method="post" action="${escapeHtml(action)}"><button id="pay" type="submit">Pay</button></form>
</body></html>`;
}

/** Routes shared by both fakes: GET /invoice/:id shows the page, POST /invoice/:id/pay pays and sends the client back. */
async function invoicePage(
  method: string | undefined, path: string, res: http.ServerResponse,
  find: (id: string) => { title: string; amount: string; currency: string; successUrl: string } | undefined,
  pay: (id: string) => Promise<Response>,
): Promise<boolean> {
  const m = /^\/invoice\/([^/]+)(\/pay)?$/.exec(path);
  if (!m) return false;
  const id = decodeURIComponent(m[1]);
  const invoice = find(id);
  if (!invoice) { res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such invoice'); return true; }
  if (!m[2] && method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(paymentPage(invoice.title, invoice.amount, invoice.currency, `/invoice/${encodeURIComponent(id)}/pay`));
    return true;
  }
  if (m[2] && method === 'POST') {
    const answer = await pay(id);
    await answer.body?.cancel();
    // The client goes back to the shop once the callback was delivered, as after a real payment.
    res.writeHead(303, { Location: invoice.successUrl }).end();
    return true;
  }
  res.writeHead(405).end();
  return true;
}

const DECIMAL = /^\d+(\.\d+)?$/;
const isHttpUrl = (s: unknown) => { try { return typeof s === 'string' && /^https?:$/.test(new URL(s).protocol); } catch { return false; } };

// ---------------------------------------------------------------------------------------------
// Plisio

export interface PlisioFakeInvoice {
  txnId: string;
  orderNumber: string;
  orderName: string;
  amount: string;
  currency: string;
  callbackUrl: string;
  successUrl: string | null;
  failUrl: string | null;
  email: string | null;
  status: string;
  /** Every query parameter the invoice was created with except api_key. */
  query: Record<string, string>;
}

export interface PlisioFake {
  url: string;
  invoices: Map<string, PlisioFakeInvoice>;
  /** Each create request as received (api_key included, to check it was sent). */
  requests: Array<{ query: Record<string, string> }>;
  /** Posts a genuine callback (JSON when the callback URL has json=true unless `json` says otherwise); the receiver's answer. */
  pay(txnId: string, opts?: { status?: string; json?: boolean }): Promise<Response>;
  /** A callback signed with another key. */
  forge(txnId: string, opts?: { status?: string; json?: boolean }): Promise<Response>;
  /** A genuine callback with `field` changed to `value` after signing. */
  tamper(txnId: string, field: string, value: string, opts?: { status?: string; json?: boolean }): Promise<Response>;
  /** The fields Plisio signs for a status (verify_hash excluded), as a JSON callback carries them. */
  callbackFields(txnId: string, status: string, json: boolean): Record<string, string | number>;
  close(): Promise<void>;
}

/** htmlspecialchars(ENT_QUOTES), which Plisio applies to tx_urls in form callbacks (and not before signing). */
const htmlSpecialChars = (s: string) => s.replace(/[&"'<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', "'": '&#039;', '<': '&lt;', '>': '&gt;' })[c]!);

export async function startPlisioFake(o: { secretKey: string }): Promise<PlisioFake> {
  const invoices = new Map<string, PlisioFakeInvoice>();
  const requests: PlisioFake['requests'] = [];
  const error = (res: http.ServerResponse, status: number, name: string, message: string) =>
    sendJson(res, status, { status: 'error', data: { name, message, code: status === 401 ? 0 : 1 } });

  const callbackFields = (txnId: string, status: string, json: boolean): Record<string, string | number> => {
    const inv = invoices.get(txnId);
    if (!inv) throw new Error(`no Plisio invoice ${txnId}`);
    const rate = '65000.00';
    const crypto8 = (Number(inv.amount) / Number(rate)).toFixed(8);
    const expire = Math.floor(Date.now() / 1000) + 3600;
    const fields: Record<string, string | number> = {
      txn_id: inv.txnId, ipn_type: 'invoice', merchant: 'Ledgerline test shop', merchant_id: '5f0000000000000000000001',
      amount: crypto8, currency: 'BTC', order_number: inv.orderNumber, order_name: inv.orderName,
      confirmations: status === 'completed' || status === 'mismatch' ? '3' : '0', status,
      source_currency: inv.currency, source_amount: inv.amount, source_rate: rate,
      comment: 'Plisio API callback', psys_cid: 'BTC', invoice_commission: '0.00000100', invoice_sum: crypto8, invoice_total_sum: crypto8,
      // A number in JSON callbacks: PHP's SDK casts it back to a string for form callbacks.
      expire_utc: json ? expire : String(expire),
    };
    if (status === 'completed' || status === 'mismatch') {
      const hash = crypto.createHash('sha256').update(txnId).digest('hex');
      fields.tx_urls = JSON.stringify([`https://blockchair.com/bitcoin/transaction/${hash}?from=plisio&tx=1`]);
    }
    return fields;
  };

  const deliver = async (txnId: string, opts: { status?: string; json?: boolean }, sign: 'genuine' | 'forged', change?: [string, string]) => {
    const inv = invoices.get(txnId);
    if (!inv) throw new Error(`no Plisio invoice ${txnId}`);
    const status = opts.status ?? 'completed';
    const json = opts.json ?? new URL(inv.callbackUrl).searchParams.get('json') === 'true';
    const key = sign === 'genuine' ? o.secretKey : `${o.secretKey}-not`;
    const fields = callbackFields(txnId, status, json);
    let body: string;
    if (json) {
      const signed = { ...fields, verify_hash: plisioJsonVerifyHash(fields, key) };
      if (change) (signed as Record<string, string | number>)[change[0]] = change[1];
      body = phpJsonEncode(signed);
    } else {
      const strings = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]));
      const verifyHash = plisioVerifyHash(strings, key);
      const posted: Record<string, string> = { ...strings, verify_hash: verifyHash };
      if (posted.tx_urls !== undefined) posted.tx_urls = htmlSpecialChars(posted.tx_urls);
      if (change) posted[change[0]] = change[1];
      body = new URLSearchParams(posted).toString();
    }
    if (sign === 'genuine' && !change) inv.status = status;
    return fetch(inv.callbackUrl, {
      method: 'POST',
      headers: { 'Content-Type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
      body,
    });
  };

  const fake: PlisioFake = {
    url: '', invoices, requests, callbackFields,
    pay: (txnId, opts = {}) => deliver(txnId, opts, 'genuine'),
    forge: (txnId, opts = {}) => deliver(txnId, opts, 'forged'),
    tamper: (txnId, field, value, opts = {}) => deliver(txnId, opts, 'genuine', [field, value]),
    close: async () => {},
  };

  const listening = await listen(async (req, _body, res, url) => {
    if (await invoicePage(req.method, url.pathname, res, (id) => {
      const inv = invoices.get(id);
      return inv && { title: inv.orderName, amount: inv.amount, currency: inv.currency, successUrl: inv.successUrl ?? `${fake.url}/` };
    }, (id) => fake.pay(id))) return;
    if (url.pathname !== '/api/v1/invoices/new') { error(res, 404, 'Not Found', 'Page not found.'); return; }
    if (req.method !== 'GET') { error(res, 405, 'Method Not Allowed', 'Method Not Allowed. This URL can only handle the following request methods: GET.'); return; }
    const q = Object.fromEntries(url.searchParams);
    requests.push({ query: q });
    if (q.api_key !== o.secretKey) { error(res, 401, 'Unauthorized', 'Invalid secret key'); return; }
    for (const required of ['order_number', 'order_name']) {
      if (!q[required]) { error(res, 422, 'Unprocessable entity', `{"${required}":["${required} is required"]}`); return; }
    }
    if (!DECIMAL.test(q.source_amount ?? '') || Number(q.source_amount) <= 0) { error(res, 422, 'Unprocessable entity', '{"source_amount":["Source Amount must be a number."]}'); return; }
    if (!/^[A-Z]{3}$/.test(q.source_currency ?? '')) { error(res, 422, 'Unprocessable entity', '{"source_currency":["Source Currency is invalid."]}'); return; }
    for (const u of ['callback_url', 'success_invoice_url', 'fail_invoice_url']) {
      if (q[u] !== undefined && !isHttpUrl(q[u])) { error(res, 422, 'Unprocessable entity', `{"${u}":["${u} is not a valid URL."]}`); return; }
    }
    if (!q.callback_url) { error(res, 422, 'Unprocessable entity', '{"callback_url":["Status URL is not set"]}'); return; }
    if ([...invoices.values()].some((i) => i.orderNumber === q.order_number)) {
      error(res, 422, 'Unprocessable entity', '{"order_number":["Order number must be unique"]}');
      return;
    }
    const txnId = crypto.randomBytes(12).toString('hex');
    const { api_key: _key, ...query } = q;
    invoices.set(txnId, {
      txnId, orderNumber: q.order_number, orderName: q.order_name, amount: q.source_amount, currency: q.source_currency,
      callbackUrl: q.callback_url, successUrl: q.success_invoice_url ?? null, failUrl: q.fail_invoice_url ?? null,
      email: q.email ?? null, status: 'new', query,
    });
    sendJson(res, 200, { status: 'success', data: { txn_id: txnId, invoice_url: `${fake.url}/invoice/${txnId}` } });
  });
  fake.url = listening.url;
  fake.close = listening.close;
  return fake;
}

// ---------------------------------------------------------------------------------------------
// Heleket

export interface HeleketFakePayment {
  uuid: string;
  orderId: string;
  amount: string;
  currency: string;
  callbackUrl: string | null;
  returnUrl: string | null;
  successUrl: string | null;
  lifetime: number;
  status: string;
  /** The request body as parsed. */
  body: Record<string, unknown>;
}

export interface HeleketFake {
  url: string;
  payments: Map<string, HeleketFakePayment>;
  /** Each create request as received: headers, exact body, and whether its sign held. */
  requests: Array<{ headers: http.IncomingHttpHeaders; body: string; signValid: boolean }>;
  /** Posts a genuine webhook (status paid unless given); the receiver's answer. */
  pay(uuid: string, opts?: { status?: string }): Promise<Response>;
  forge(uuid: string, opts?: { status?: string }): Promise<Response>;
  tamper(uuid: string, field: string, value: unknown, opts?: { status?: string }): Promise<Response>;
  /** The fields Heleket signs for a status (sign excluded), in Heleket's order. */
  webhookFields(uuid: string, status: string): Record<string, unknown>;
  close(): Promise<void>;
}

const HELEKET_FINAL = new Set(['paid', 'paid_over', 'fail', 'cancel', 'system_fail', 'refund_paid', 'refund_fail', 'wrong_amount']);

export async function startHeleketFake(o: { merchantId: string; paymentKey: string }): Promise<HeleketFake> {
  const payments = new Map<string, HeleketFakePayment>();
  const requests: HeleketFake['requests'] = [];

  const webhookFields = (uuid: string, status: string): Record<string, unknown> => {
    const p = payments.get(uuid);
    if (!p) throw new Error(`no Heleket payment ${uuid}`);
    const paidAmount = status === 'wrong_amount' ? (Number(p.amount) / 2).toFixed(8)
      : status === 'paid_over' ? (Number(p.amount) * 1.1).toFixed(8) : Number(p.amount).toFixed(8);
    const merchantAmount = (Number(paidAmount) * 0.98).toFixed(8);
    return {
      type: 'payment', uuid: p.uuid, order_id: p.orderId, amount: p.amount, payment_amount: paidAmount,
      payment_amount_usd: Number(paidAmount).toFixed(2), merchant_amount: merchantAmount,
      commission: (Number(paidAmount) - Number(merchantAmount)).toFixed(8), is_final: HELEKET_FINAL.has(status), status,
      from: 'TJsSy6dpcqKP8bJZxYxHg5BZ6bK4L7ZZ1P', wallet_address_uuid: null, network: 'tron', currency: p.currency,
      payer_currency: 'USDT', payer_amount: paidAmount, payer_amount_exchange_rate: 1, additional_data: null,
      convert: { to_currency: 'USDT', commission: null, rate: '1.00000000', amount: merchantAmount },
      txid: crypto.createHash('sha256').update(`${uuid}:${status}`).digest('hex'),
    };
  };

  const deliver = async (uuid: string, opts: { status?: string }, key: string, change?: [string, unknown]) => {
    const p = payments.get(uuid);
    if (!p) throw new Error(`no Heleket payment ${uuid}`);
    if (!p.callbackUrl) throw new Error(`Heleket payment ${uuid} has no url_callback`);
    const status = opts.status ?? 'paid';
    const fields = webhookFields(uuid, status);
    const signed: Record<string, unknown> = { ...fields, sign: heleketSign(fields, key) };
    if (change) signed[change[0]] = change[1];
    if (key === o.paymentKey && !change) p.status = status;
    return fetch(p.callbackUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: phpJsonEncode(signed) });
  };

  const fake: HeleketFake = {
    url: '', payments, requests, webhookFields,
    pay: (uuid, opts = {}) => deliver(uuid, opts, o.paymentKey),
    forge: (uuid, opts = {}) => deliver(uuid, opts, `${o.paymentKey}-not`),
    tamper: (uuid, field, value, opts = {}) => deliver(uuid, opts, o.paymentKey, [field, value]),
    close: async () => {},
  };

  const refuse = (res: http.ServerResponse, status: number, message: string) => sendJson(res, status, { state: 1, message });
  const invalid = (res: http.ServerResponse, field: string, message: string) =>
    sendJson(res, 422, { state: 1, errors: { [field]: [message] } });

  const listening = await listen(async (req, raw, res, url) => {
    if (await invoicePage(req.method, url.pathname, res, (id) => {
      const p = payments.get(id);
      return p && { title: `Order ${p.orderId}`, amount: p.amount, currency: p.currency, successUrl: p.successUrl ?? p.returnUrl ?? `${fake.url}/` };
    }, (id) => fake.pay(id))) return;
    if (url.pathname !== '/v1/payment' || req.method !== 'POST') { refuse(res, 404, 'Not found'); return; }
    const text = raw.toString('utf8');
    const signValid = typeof req.headers.sign === 'string' && req.headers.sign === heleketSign(text, o.paymentKey);
    requests.push({ headers: req.headers, body: text, signValid });
    if (req.headers.merchant !== o.merchantId) { refuse(res, 401, 'You are forbidden'); return; }
    if (!signValid) { refuse(res, 401, 'Invalid Sign'); return; }
    let body: Record<string, unknown>;
    try { body = JSON.parse(text); } catch { refuse(res, 400, 'Invalid JSON'); return; }
    if (typeof body !== 'object' || body === null) { refuse(res, 400, 'Invalid JSON'); return; }
    if (typeof body.amount !== 'string' || !DECIMAL.test(body.amount) || Number(body.amount) <= 0) { invalid(res, 'amount', 'validation.numeric'); return; }
    if (typeof body.currency !== 'string' || !/^[A-Z]{3,10}$/.test(body.currency)) { invalid(res, 'currency', 'validation.required'); return; }
    if (typeof body.order_id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(body.order_id)) { invalid(res, 'order_id', 'validation.alpha_dash'); return; }
    for (const u of ['url_callback', 'url_return', 'url_success']) {
      if (body[u] !== undefined && !isHttpUrl(body[u])) { invalid(res, u, 'validation.url'); return; }
    }
    if (body.lifetime !== undefined && !(Number.isInteger(body.lifetime) && (body.lifetime as number) >= 300 && (body.lifetime as number) <= 43200)) {
      invalid(res, 'lifetime', 'validation.between.numeric');
      return;
    }
    // An order_id already used answers that payment again rather than making a second one.
    let p = [...payments.values()].find((x) => x.orderId === body.order_id);
    if (!p) {
      p = {
        uuid: crypto.randomUUID(), orderId: body.order_id, amount: body.amount, currency: body.currency,
        callbackUrl: (body.url_callback as string | undefined) ?? null, returnUrl: (body.url_return as string | undefined) ?? null,
        successUrl: (body.url_success as string | undefined) ?? null, lifetime: (body.lifetime as number | undefined) ?? 3600,
        status: 'check', body,
      };
      payments.set(p.uuid, p);
    }
    const now = Math.floor(Date.now() / 1000);
    sendJson(res, 200, {
      state: 0,
      result: {
        uuid: p.uuid, order_id: p.orderId, amount: p.amount, payment_amount: null, payer_amount: null, discount_percent: null,
        discount: '0.00000000', payer_currency: null, currency: p.currency, merchant_amount: null, network: null, address: null,
        from: null, txid: null, payment_status: p.status, url: `${fake.url}/invoice/${p.uuid}`, expired_at: now + p.lifetime,
        status: p.status, is_final: false, additional_data: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
      },
    });
  });
  fake.url = listening.url;
  fake.close = listening.close;
  return fake;
}
