// The top-up payment providers over real HTTP against loopback fakes of Plisio and Heleket that
// check requests as the services do. A receiver stands in for the portal's callback endpoint and
// hands each raw body to verifyCallback: genuine callbacks become notices, with the paid mapping
// of each provider; forged and tampered ones are refused. Known vectors pin PHP's renderings
// (serialize() in UTF-8 bytes, json_encode()'s escaping) that the signatures are computed over.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { heleketProvider, heleketSign } from '../../agent-portal/payments/heleket.js';
import {
  JS_STRINGIFY, encodeJsonNode, parseOrderedJson, phpJsonEncode, phpSerialize,
} from '../../agent-portal/payments/php-serialize.js';
import { htmlEntityDecode, plisioJsonVerifyHash, plisioProvider, plisioVerifyHash } from '../../agent-portal/payments/plisio.js';
import {
  PaymentProviderError, PaymentSignatureError, type InvoiceRequest, type PaymentNotice, type PaymentProvider,
} from '../../agent-portal/payments/provider.js';
import { startHeleketFake, startPlisioFake, type HeleketFake, type PlisioFake } from '../helpers/payment-fakes.js';

interface Received { provider: string; contentType: string | null; raw: Buffer; notice?: PaymentNotice; error?: Error }

/** The portal's callback endpoint, reduced to what matters here: raw body in, verifyCallback, an answer. */
async function startReceiver(providers: Record<string, () => PaymentProvider>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = new URL(req.url ?? '/', 'http://x').pathname.split('/')[1];
      const raw = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? null;
      const entry: Received = { provider: name, contentType, raw };
      received.push(entry);
      try {
        entry.notice = providers[name]().verifyCallback(raw, contentType);
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      } catch (err) {
        entry.error = err as Error;
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end((err as Error).name);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    last: () => received[received.length - 1],
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A server that accepts connections and never answers, for the timeout. */
async function startSilent() {
  const server = http.createServer(() => { /* never answers */ });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A port nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

let seq = 0;
const request = (receiverUrl: string, path: string, extra: Partial<InvoiceRequest> = {}): InvoiceRequest => ({
  orderId: `topup-${process.pid}-${++seq}`,
  description: 'Пополнение баланса / Café top-up',
  amount: '12.50',
  currency: 'USD',
  callbackUrl: `${receiverUrl}/${path}`,
  successUrl: 'https://portal.example/topup/done?ok=1',
  failUrl: 'https://portal.example/topup/failed',
  ...extra,
});

const refused = (r: Received | undefined) => {
  assert.ok(r, 'a callback arrived');
  assert.equal(r.notice, undefined, 'no notice for a refused callback');
  assert.ok(r.error instanceof PaymentSignatureError, `refused as a signature error, not ${r.error}`);
};

describe('PHP renderings the signatures are computed over', () => {
  it('serialize() counts string lengths in UTF-8 bytes and writes integer-like keys as ints', () => {
    assert.equal(phpSerialize('Café ☕'), 's:9:"Café ☕";');
    assert.equal(phpSerialize({ order_name: 'Пополнение' }), 'a:1:{s:10:"order_name";s:20:"Пополнение";}');
    assert.equal(phpSerialize({ 7: 'x', 'ключ': '😀', '07': 'y' }), 'a:3:{i:7;s:1:"x";s:8:"ключ";s:4:"😀";s:2:"07";s:1:"y";}');
  });

  it('json_encode() escapes "/" as "\\/" and non-ASCII as lower-case \\uXXXX', () => {
    assert.equal(
      phpJsonEncode({ url: 'https://a.b/c', name: 'é', emoji: '😀', ls: '\u2028', ctl: '\u0001\n', q: '"\\', n: [1, 2.5, null, true] }),
      '{"url":"https:\\/\\/a.b\\/c","name":"\\u00e9","emoji":"\\ud83d\\ude00","ls":"\\u2028","ctl":"\\u0001\\n","q":"\\"\\\\","n":[1,2.5,null,true]}',
    );
    // JSON_UNESCAPED_UNICODE keeps UTF-8 but still escapes the line terminators, as PHP does.
    assert.equal(phpJsonEncode({ s: 'é/\u2028' }, { unescapedUnicode: true }), '{"s":"é\\/\\u2028"}');
    assert.equal(phpJsonEncode({ s: 'é/\u2028' }, JS_STRINGIFY), JSON.stringify({ s: 'é/\u2028' }));
    assert.throws(() => phpJsonEncode({ s: '\ud800' }), SyntaxError);
  });

  it('a received JSON object is written back with its key order and number texts, which JSON.parse would lose', () => {
    const text = '{"b":1.50,"2":"x","a":"caf\\u00e9 \\/ ok","1":[],"e":1e5,"o":{}}';
    assert.equal(encodeJsonNode(parseOrderedJson(text)), '{"b":1.50,"2":"x","a":"caf\\u00e9 \\/ ok","1":[],"e":1e5,"o":{}}');
    assert.notEqual(phpJsonEncode(JSON.parse(text)), encodeJsonNode(parseOrderedJson(text)));
    // A repeated key keeps its first place and its last value, as in PHP and JSON.parse.
    assert.equal(encodeJsonNode(parseOrderedJson('{"a":1,"b":2,"a":3}')), '{"a":3,"b":2}');
    for (const bad of ['{', '{"a":1}x', '\ufeff{}', '{"a":"\\ud800"}', '{"a":01}', "{'a':1}", '{"a":1,}', '']) {
      assert.throws(() => parseOrderedJson(bad), SyntaxError, JSON.stringify(bad));
    }
  });

  it('Plisio verify_hash is HMAC-SHA1 over serialize() of the fields sorted by key', () => {
    const fields = { txn_id: 'abc', status: 'completed', order_name: 'Café', verify_hash: 'ignored' };
    const serialized = 'a:3:{s:10:"order_name";s:5:"Café";s:6:"status";s:9:"completed";s:6:"txn_id";s:3:"abc";}';
    assert.equal(plisioVerifyHash(fields, 'k3y'), crypto.createHmac('sha1', 'k3y').update(serialized).digest('hex'));
    const json = '{"txn_id":"abc","status":"completed","url":"https:\\/\\/x\\/y","order_name":"Caf\\u00e9"}';
    assert.equal(
      plisioJsonVerifyHash({ txn_id: 'abc', status: 'completed', url: 'https://x/y', order_name: 'Café' }, 'k3y'),
      crypto.createHmac('sha1', 'k3y').update(json).digest('hex'),
    );
  });

  it('Heleket sign is md5 of base64(json_encode) + key', () => {
    const json = '{"order_id":"o-1","url":"https:\\/\\/x\\/y","name":"\\u00e9"}';
    assert.equal(
      heleketSign({ order_id: 'o-1', url: 'https://x/y', name: 'é' }, 'pk'),
      crypto.createHash('md5').update(Buffer.from(json).toString('base64') + 'pk').digest('hex'),
    );
    assert.equal(heleketSign('{"a":1}', 'pk'), crypto.createHash('md5').update('eyJhIjoxfQ==pk').digest('hex'));
  });

  it('html_entity_decode() as PHP 8 does it for an escaped URL list', () => {
    assert.equal(htmlEntityDecode('[&quot;https://x/?a=1&amp;b=2&quot;] &#039; &#x41; &lt;&gt; &apos; &#1;'), '["https://x/?a=1&b=2"] \' A <> &apos; &#1;');
  });
});

describe('Plisio', () => {
  const secretKey = 'plisio-secret-KEY-0123456789';
  let fake: PlisioFake;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let provider: PaymentProvider;
  before(async () => {
    fake = await startPlisioFake({ secretKey });
    provider = plisioProvider({ apiUrl: fake.url, secretKey, timeoutMs: 2000 });
    receiver = await startReceiver({ plisio: () => provider });
  });
  after(async () => { await fake?.close(); await receiver?.close(); });

  const invoice = async (extra: Partial<InvoiceRequest> = {}) => {
    const req = request(receiver.url, 'plisio/callback?portal=1', extra);
    const inv = await provider.createInvoice(req);
    return { req, inv };
  };

  it('creates an invoice priced in fiat, asking for JSON callbacks and sending the client back to the portal', async () => {
    const { req, inv } = await invoice({ email: 'client@example.com' });
    assert.equal(inv.provider, 'plisio');
    assert.equal(inv.payUrl, `${fake.url}/invoice/${inv.invoiceId}`);
    const rec = fake.invoices.get(inv.invoiceId);
    assert.ok(rec, 'Plisio recorded the invoice');
    assert.equal(rec.orderNumber, req.orderId);
    assert.equal(rec.orderName, req.description);
    assert.equal(rec.amount, '12.50');
    assert.equal(rec.currency, 'USD');
    assert.equal(rec.callbackUrl, `${receiver.url}/plisio/callback?portal=1&json=true`);
    assert.equal(rec.successUrl, req.successUrl);
    assert.equal(rec.failUrl, req.failUrl);
    assert.equal(rec.email, 'client@example.com');
    assert.equal(fake.requests.at(-1)?.query.api_key, secretKey);
    assert.equal(fake.requests.at(-1)?.query.success_callback_url, undefined, 'the return URL is the invoice page button, not a callback');
  });

  it('a wrong key, a repeated order number, no answer and no server are PaymentProviderErrors that never show the key', async () => {
    const wrongKey = 'wrong-key-SHOULD-NOT-LEAK';
    const wrong = plisioProvider({ apiUrl: fake.url, secretKey: wrongKey });
    const e1 = await wrong.createInvoice(request(receiver.url, 'plisio')).then(() => null, (e) => e);
    assert.ok(e1 instanceof PaymentProviderError, String(e1));
    assert.equal(e1.status, 401);
    assert.match(e1.message, /Invalid secret key/);
    assert.ok(!e1.message.includes(wrongKey));

    const { req } = await invoice();
    const e2 = await provider.createInvoice({ ...req }).then(() => null, (e) => e);
    assert.ok(e2 instanceof PaymentProviderError, String(e2));
    assert.equal(e2.status, 422);
    assert.match(e2.message, /unique/);

    const silent = await startSilent();
    try {
      const e3 = await plisioProvider({ apiUrl: silent.url, secretKey, timeoutMs: 200 }).createInvoice(request(receiver.url, 'plisio')).then(() => null, (e) => e);
      assert.ok(e3 instanceof PaymentProviderError, String(e3));
      assert.match(e3.message, /no answer within 200 ms/);
      assert.ok(!e3.message.includes(secretKey));
    } finally { await silent.close(); }

    const e4 = await plisioProvider({ apiUrl: await closedPortUrl(), secretKey }).createInvoice(request(receiver.url, 'plisio')).then(() => null, (e) => e);
    assert.ok(e4 instanceof PaymentProviderError, String(e4));
    assert.match(e4.message, /unreachable \(ECONNREFUSED\)/);
    assert.ok(!e4.message.includes(secretKey));
  });

  it('a request the portal should not have built is refused before Plisio sees it', async () => {
    const before = fake.requests.length;
    for (const bad of [{ amount: '10,00' }, { amount: '0.00' }, { currency: 'usd' }, { orderId: 'has space' }, { callbackUrl: '/relative' }]) {
      await assert.rejects(() => provider.createInvoice(request(receiver.url, 'plisio', bad)), TypeError, JSON.stringify(bad));
    }
    assert.equal(fake.requests.length, before);
  });

  it('genuine JSON callbacks become notices: completed and mismatch are paid, other statuses are not', async () => {
    const { req, inv } = await invoice();
    const expectations: Array<[string, boolean]> = [
      ['new', false], ['pending', false], ['expired', false], ['cancelled', false], ['error', false], ['completed', true], ['mismatch', true],
    ];
    for (const [status, paid] of expectations) {
      const res = await fake.pay(inv.invoiceId, { status });
      assert.equal(res.status, 200, `${status}: ${await res.text()}`);
      const got = receiver.last();
      assert.equal(got.contentType, 'application/json');
      assert.deepEqual(got.notice, {
        provider: 'plisio', orderId: req.orderId, invoiceId: inv.invoiceId, status, paid, amount: '12.50', currency: 'USD',
      });
    }
    // The body was written as PHP writes it, so the signature depended on that rendering.
    const raw = receiver.last().raw.toString();
    assert.match(raw, /https:\\\/\\\/blockchair/);
    assert.match(raw, /\\u041f/);
    assert.match(raw, /"expire_utc":\d+,/);
  });

  it('a JSON callback signed as Plisio documents for Node (JSON.stringify) is accepted too', () => {
    const txnId = [...fake.invoices.keys()][0];
    const fields = fake.callbackFields(txnId, 'completed', true);
    const jsHash = plisioJsonVerifyHash(fields, secretKey, JS_STRINGIFY);
    assert.notEqual(jsHash, plisioJsonVerifyHash(fields, secretKey), 'the two renderings differ for these fields');
    const notice = provider.verifyCallback(Buffer.from(JSON.stringify({ ...fields, verify_hash: jsHash })), 'application/json; charset=utf-8');
    assert.equal(notice.paid, true);
    assert.equal(notice.invoiceId, txnId);
  });

  it('genuine form callbacks (ksort, serialize, tx_urls posted HTML-escaped) become notices', async () => {
    const { req, inv } = await invoice();
    for (const [status, paid] of [['completed', true], ['pending', false]] as const) {
      const res = await fake.pay(inv.invoiceId, { status, json: false });
      assert.equal(res.status, 200, await res.text());
      const got = receiver.last();
      assert.equal(got.contentType, 'application/x-www-form-urlencoded');
      assert.deepEqual(got.notice, {
        provider: 'plisio', orderId: req.orderId, invoiceId: inv.invoiceId, status, paid, amount: '12.50', currency: 'USD',
      });
    }
    assert.match(receiver.received.at(-2)!.raw.toString(), /tx_urls=%5B%26quot%3Bhttps/);
  });

  it('forged and tampered callbacks are refused, as JSON and as forms', async () => {
    const { inv } = await invoice();
    for (const json of [true, false]) {
      assert.equal((await fake.forge(inv.invoiceId, { json })).status, 400);
      refused(receiver.last());
      assert.equal((await fake.tamper(inv.invoiceId, 'source_amount', '1250.00', { json })).status, 400);
      refused(receiver.last());
      assert.equal((await fake.tamper(inv.invoiceId, 'status', 'completed', { json, status: 'pending' })).status, 400);
      refused(receiver.last());
      assert.equal((await fake.tamper(inv.invoiceId, 'order_number', 'someone-else', { json })).status, 400);
      refused(receiver.last());
    }
    // The same invoice still pays when the callback is genuine.
    assert.equal((await fake.pay(inv.invoiceId)).status, 200);
    assert.equal(receiver.last().notice?.paid, true);
  });

  it('unparsable or incomplete callbacks are refused', () => {
    const sign = (fields: Record<string, string>) => JSON.stringify({ ...fields, verify_hash: plisioJsonVerifyHash(fields, secretKey) });
    const complete = { txn_id: 't1', order_number: 'o1', status: 'completed', source_amount: '1.00', source_currency: 'USD' };
    assert.equal(provider.verifyCallback(Buffer.from(sign(complete)), 'application/json').paid, true);
    const cases: Array<[string | Buffer, string | null]> = [
      ['{', 'application/json'],
      ['[]', 'application/json'],
      [JSON.stringify(complete), 'application/json'],
      [JSON.stringify({ ...complete, verify_hash: 1 }), 'application/json'],
      [sign(complete), 'text/plain'],
      [Buffer.from([0x7b, 0xff, 0x7d]), 'application/json'],
      [sign({ ...complete, order_number: '' }), 'application/json'],
      [sign({ txn_id: 't1', order_number: 'o1', source_amount: '1.00', source_currency: 'USD' }), 'application/json'],
      [sign({ ...complete, source_amount: 'ten' }), 'application/json'],
      ['txn_id=t1&status=completed', 'application/x-www-form-urlencoded'],
      [`${new URLSearchParams(complete)}&verify_hash=${plisioVerifyHash(complete, secretKey)}&x[1]=2`, 'application/x-www-form-urlencoded'],
    ];
    for (const [body, type] of cases) {
      assert.throws(() => provider.verifyCallback(Buffer.isBuffer(body) ? body : Buffer.from(body), type), PaymentSignatureError, String(body));
    }
    // Without a Content-Type the body's shape decides, and the signature still has to hold.
    assert.equal(provider.verifyCallback(Buffer.from(sign(complete)), null).orderId, 'o1');
    const form = `${new URLSearchParams(complete)}&verify_hash=${plisioVerifyHash(complete, secretKey)}`;
    assert.equal(provider.verifyCallback(Buffer.from(form), null).orderId, 'o1');
  });

  it('the payment page pays with a click: the callback is sent, then the client goes back to the portal', async () => {
    const { req, inv } = await invoice();
    const page = await fetch(inv.payUrl);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<button id="pay"/);
    const form = /<form method="post" action="([^"]+)"/.exec(html);
    assert.ok(form, 'the page has a pay form');
    const before = receiver.received.length;
    const res = await fetch(new URL(form[1], inv.payUrl), { method: 'POST', redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), req.successUrl);
    assert.equal(receiver.received.length, before + 1);
    assert.equal(receiver.last().notice?.orderId, req.orderId);
    assert.equal(receiver.last().notice?.paid, true);
    assert.equal(fake.invoices.get(inv.invoiceId)?.status, 'completed');
  });
});

describe('Heleket', () => {
  const merchantId = '8b03432e-385b-4670-8d06-064591096795';
  const paymentKey = 'heleket-payment-KEY-abcdef';
  let fake: HeleketFake;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let provider: PaymentProvider;
  before(async () => {
    fake = await startHeleketFake({ merchantId, paymentKey });
    provider = heleketProvider({ apiUrl: fake.url, merchantId, paymentKey, timeoutMs: 2000, lifetimeSeconds: 1800 });
    receiver = await startReceiver({ heleket: () => provider });
  });
  after(async () => { await fake?.close(); await receiver?.close(); });

  const invoice = async (extra: Partial<InvoiceRequest> = {}) => {
    const req = request(receiver.url, 'heleket/webhook', extra);
    const inv = await provider.createInvoice(req);
    return { req, inv };
  };

  it('creates a payment with merchant and sign headers over the exact body, PHP-escaped', async () => {
    const { req, inv } = await invoice();
    assert.equal(inv.provider, 'heleket');
    assert.equal(inv.payUrl, `${fake.url}/invoice/${inv.invoiceId}`);
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.signValid, true);
    assert.equal(sent.headers.merchant, merchantId);
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.equal(sent.headers.sign, crypto.createHash('md5').update(Buffer.from(sent.body).toString('base64') + paymentKey).digest('hex'));
    assert.match(sent.body, /"url_callback":"http:\\\/\\\/127\.0\.0\.1:/);
    const rec = fake.payments.get(inv.invoiceId);
    assert.ok(rec, 'Heleket recorded the payment');
    assert.deepEqual(
      { orderId: rec.orderId, amount: rec.amount, currency: rec.currency, callbackUrl: rec.callbackUrl, successUrl: rec.successUrl, returnUrl: rec.returnUrl, lifetime: rec.lifetime },
      { orderId: req.orderId, amount: '12.50', currency: 'USD', callbackUrl: req.callbackUrl, successUrl: req.successUrl, returnUrl: req.failUrl, lifetime: 1800 },
    );
    // Heleket answers an order_id it already has with that payment.
    assert.equal((await provider.createInvoice(req)).invoiceId, inv.invoiceId);
  });

  it('a wrong key or merchant, no answer and no server are PaymentProviderErrors', async () => {
    for (const [m, k] of [[merchantId, 'wrong-key'], ['another-merchant', paymentKey]]) {
      const e = await heleketProvider({ apiUrl: fake.url, merchantId: m, paymentKey: k }).createInvoice(request(receiver.url, 'heleket')).then(() => null, (x) => x);
      assert.ok(e instanceof PaymentProviderError, String(e));
      assert.equal(e.status, 401);
      assert.match(e.message, /state 1/);
    }
    const lifetime = await heleketProvider({ apiUrl: fake.url, merchantId, paymentKey, lifetimeSeconds: 10 }).createInvoice(request(receiver.url, 'heleket')).then(() => null, (x) => x);
    assert.ok(lifetime instanceof PaymentProviderError, String(lifetime));
    assert.equal(lifetime.status, 422);
    assert.match(lifetime.message, /lifetime/);

    const silent = await startSilent();
    try {
      const e = await heleketProvider({ apiUrl: silent.url, merchantId, paymentKey, timeoutMs: 200 }).createInvoice(request(receiver.url, 'heleket')).then(() => null, (x) => x);
      assert.ok(e instanceof PaymentProviderError, String(e));
      assert.match(e.message, /no answer within 200 ms/);
    } finally { await silent.close(); }
    const e = await heleketProvider({ apiUrl: await closedPortUrl(), merchantId, paymentKey }).createInvoice(request(receiver.url, 'heleket')).then(() => null, (x) => x);
    assert.ok(e instanceof PaymentProviderError, String(e));
    assert.match(e.message, /unreachable/);
  });

  it('genuine webhooks become notices: paid and paid_over are paid, other statuses are not', async () => {
    const { req, inv } = await invoice();
    const expectations: Array<[string, boolean]> = [
      ['check', false], ['process', false], ['confirm_check', false], ['wrong_amount', false], ['cancel', false],
      ['fail', false], ['system_fail', false], ['refund_process', false], ['paid', true], ['paid_over', true],
    ];
    for (const [status, paid] of expectations) {
      const res = await fake.pay(inv.invoiceId, { status });
      assert.equal(res.status, 200, `${status}: ${await res.text()}`);
      assert.deepEqual(receiver.last().notice, {
        provider: 'heleket', orderId: req.orderId, invoiceId: inv.invoiceId, status, paid, amount: '12.50', currency: 'USD',
      });
    }
  });

  it('forged and tampered webhooks are refused', async () => {
    const { inv } = await invoice();
    assert.equal((await fake.forge(inv.invoiceId)).status, 400);
    refused(receiver.last());
    for (const [field, value, status] of [
      ['amount', '1250.00', 'paid'], ['status', 'paid', 'wrong_amount'], ['order_id', 'someone-else', 'paid'], ['payer_amount_exchange_rate', 1.0001, 'paid'],
    ] as const) {
      assert.equal((await fake.tamper(inv.invoiceId, field, value, { status })).status, 400, field);
      refused(receiver.last());
    }
    assert.equal((await fake.pay(inv.invoiceId)).status, 200);
    assert.equal(receiver.last().notice?.paid, true);
  });

  it('verifies over the fields as received: key order, number texts, either unicode rendering', () => {
    const signedText = (fields: string) => {
      const sign = crypto.createHash('md5').update(Buffer.from(`{${fields}}`).toString('base64') + paymentKey).digest('hex');
      return Buffer.from(`{${fields},"sign":"${sign}"}`);
    };
    const fields = '"type":"payment","uuid":"u-1","order_id":"o-1","amount":"5.00","rate":1.50,"10":"x","note":"caf\\u00e9 \\/","currency":"USD","status":"paid"';
    const notice = provider.verifyCallback(signedText(fields), 'application/json');
    assert.deepEqual(notice, { provider: 'heleket', orderId: 'o-1', invoiceId: 'u-1', status: 'paid', paid: true, amount: '5.00', currency: 'USD' });
    // The same data signed in JSON.parse's order and number form is not what was sent: refused.
    const reordered = JSON.stringify(JSON.parse(`{${fields}}`)).replace(/\//g, '\\/').slice(1, -1);
    assert.notEqual(reordered, fields);
    const body = JSON.parse(signedText(reordered).toString());
    assert.throws(() => provider.verifyCallback(Buffer.from(`{${fields},"sign":"${body.sign}"}`), 'application/json'), PaymentSignatureError);
    // Heleket's PHP example signs with JSON_UNESCAPED_UNICODE: raw UTF-8, slashes still escaped.
    assert.equal(provider.verifyCallback(signedText(fields.replace('caf\\u00e9', 'café')), 'application/json').paid, true);
  });

  it('unparsable or incomplete webhooks are refused', () => {
    const complete = { type: 'payment', uuid: 'u-1', order_id: 'o-1', amount: '5.00', currency: 'USD', status: 'paid' };
    const signed = (f: Record<string, unknown>) => Buffer.from(phpJsonEncode({ ...f, sign: heleketSign(f, paymentKey) }));
    assert.equal(provider.verifyCallback(signed(complete), 'application/json').paid, true);
    const { order_id: _o, ...noOrder } = complete;
    const { uuid: _u, ...noUuid } = complete;
    const { status: _s, ...noStatus } = complete;
    for (const body of [
      Buffer.from('not json'), Buffer.from('[1]'), Buffer.from(phpJsonEncode(complete)), Buffer.from(phpJsonEncode({ ...complete, sign: '' })),
      signed(noOrder), signed(noUuid), signed(noStatus), signed({ ...complete, amount: null }), Buffer.from([0xc3, 0x28]),
    ]) {
      assert.throws(() => provider.verifyCallback(body, 'application/json'), PaymentSignatureError, body.toString());
    }
  });

  it('the payment page pays with a click: the webhook is sent, then the client goes back to the portal', async () => {
    const { req, inv } = await invoice();
    const html = await (await fetch(inv.payUrl)).text();
    assert.match(html, /<button id="pay"/);
    const action = /<form method="post" action="([^"]+)"/.exec(html)![1];
    const res = await fetch(new URL(action, inv.payUrl), { method: 'POST', redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), req.successUrl);
    assert.deepEqual(receiver.last().notice, {
      provider: 'heleket', orderId: req.orderId, invoiceId: inv.invoiceId, status: 'paid', paid: true, amount: '12.50', currency: 'USD',
    });
    assert.equal(fake.payments.get(inv.invoiceId)?.status, 'paid');
  });
});
