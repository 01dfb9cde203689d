// eSIM purchases over HTTP against a fake upstream on loopback that checks every signature:
// the document's example bought and allocated, a refusal refunded, a balance that cannot pay
// ordering nothing, an upstream that fails or answers too late resolved by the worker without a
// second order, concurrent buys that never overspend, a retry that buys once, and tenancy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/esim-upstream.js';
import { decodeQr } from '../helpers/qr.js';
import { until } from '../helpers/until.js';
import { createClient, createPlan, isPostgres, startTestServer, type TestServer } from '../helpers/server.js';

describe('eSIM API: buying', () => {
  let fake: FakeUpstream;
  let t: TestServer;
  let planId: number;
  const esim = (key: string, endpoint: string, opts: { query?: Record<string, string | number>; body?: Record<string, unknown>; headers?: Record<string, string> } = {}) =>
    t.call('esim', endpoint, { key, ...opts });
  const price = (units: number, margin = 25_000_000n) => applyMarkup(BigInt(units) * 100n, margin);
  const postings = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p').innerJoin('accounts as a', 'a.id', 'p.account_id')
    .select(['p.kind', 'p.amount_micros']).where('a.login', '=', login).where('p.kind', 'in', ['esim', 'refund']).orderBy('p.id').execute())
    .map((r) => [r.kind, Number(r.amount_micros)]);
  const ordersFor = (tx: string) => fake.requests.filter((r) => r.path === 'esim/order' && r.body?.transactionId === tx).length;

  const orderRow = (id: number) => t.server.ctx.db.selectFrom('esim_orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  before(async () => {
    fake = await startFakeUpstream();
    t = await startTestServer({
      ESIM_UPSTREAM_URL: fake.url, ESIM_ACCESS_CODE: fake.accessCode, ESIM_SECRET_KEY: fake.secretKey,
      ESIM_UPSTREAM_TIMEOUT_MS: '400', ESIM_PENDING_GRACE_SECONDS: '1',
    });
    planId = (await createPlan(t)).id;
  });
  after(async () => {
    await t?.close();
    await fake?.close();
  });

  it('buy: the document\'s example is debited, ordered with the debit as transactionId, then allocated with its QR code', async () => {
    const c = await createClient(t, planId, { balance: '10' });
    const res = await esim(c.key, 'buy', { body: { package_code: 'P2CYMUS93' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'ALLOCATING');
    assert.equal(res.body.price, formatMoney(price(32000), 4));
    assert.equal(res.body.balance_after, formatMoney(10_000_000n - price(32000), 4));
    const row = await orderRow(res.body.order_id);
    assert.match(String(row.transaction_id), /^LL\d+$/);
    assert.equal(ordersFor(row.transaction_id!), 1);
    assert.ok(fake.requests.every((r) => r.signatureValid), 'every request signed');
    const ready = await until('the profile', async () => (await esim(c.key, 'sync-order', { query: { order_id: res.body.order_id } })).body,
      (o: any) => o.status === 'READY');
    assert.match(ready.iccid, /^\d{19}$/);
    assert.match(ready.activation_code, /^LPA:1\$/);
    assert.match(ready.qr_code, /^data:image\/png;base64,/);
    assert.equal(decodeQr(ready.qr_code), ready.activation_code, 'the QR code reads back as the activation code');
    assert.equal(ready.total_volume_bytes, 3 * 1024 ** 3);
    assert.equal(ready.remaining_bytes, 3 * 1024 ** 3);
    const list = await esim(c.key, 'orders');
    assert.equal(list.body.orders[0].order_id, res.body.order_id);
    assert.deepEqual(await postings(c.login), [['esim', -Number(price(32000))]]);
  });

  it('a refusal of the upstream refunds the money; a balance that cannot pay orders nothing (402)', async () => {
    const c = await createClient(t, planId, { balance: '10' });
    fake.refused.add('US-1GB-7D');
    try {
      const res = await esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([res.body.status, res.body.error_code], ['REFUNDED', 'UPSTREAM_200007']);
      assert.deepEqual(await postings(c.login), [['esim', -Number(price(18000))], ['refund', Number(price(18000))]]);
    } finally {
      fake.refused.delete('US-1GB-7D');
    }
    const poor = await createClient(t, planId, { balance: '1' });
    const before = fake.requests.filter((r) => r.path === 'esim/order').length;
    const refused = await esim(poor.key, 'buy', { body: { package_code: 'EU-5GB-30D' } });
    assert.equal(refused.status, 402);
    assert.equal(refused.body.code, 'INSUFFICIENT_BALANCE');
    assert.equal(fake.requests.filter((r) => r.path === 'esim/order').length, before, 'nothing ordered');
    assert.equal((await esim(poor.key, 'orders')).body.total, 0);
  });

  it('an upstream failing or answering too late: PENDING, then resolved by the worker with exactly one order', async () => {
    const c = await createClient(t, planId, { balance: '20' });
    fake.failNext('esim/order', [503]);
    const failed = await esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' } });
    assert.equal(failed.body.status, 'PENDING');
    fake.holdNext('esim/order', 1000);
    const late = await esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' } });
    assert.equal(late.body.status, 'PENDING');
    for (const id of [failed.body.order_id, late.body.order_id]) {
      const row = await until('the worker', () => orderRow(id), (o) => o.status === 'ALLOCATING' || o.status === 'READY');
      const placed = [...fake.orders.keys()].filter((tx) => tx === row.transaction_id).length;
      assert.equal(placed, 1, `one upstream order for ${row.transaction_id}`);
    }
    // The late one was placed by its first request: the worker found it and did not order again.
    const lateRow = await orderRow(late.body.order_id);
    assert.equal(ordersFor(lateRow.transaction_id!), 1);
    assert.equal((await postings(c.login)).length, 2);
  });

  it('20 concurrent buys on a balance that pays for 5 deliver 5 and charge 5', async () => {
    const each = price(18000);
    const c = await createClient(t, planId, { balance: formatMoney(each * 5n + 10_000n, 6) });
    const answers = await Promise.all(Array.from({ length: 20 }, () => esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' } })));
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(ok.length, 5, JSON.stringify(answers.map((a) => a.status)));
    assert.ok(answers.filter((a) => a.status !== 200).every((a) => a.status === 402));
    assert.ok(ok.every((a) => a.body.status === 'ALLOCATING'));
    assert.equal((await postings(c.login)).length, 5);
    const txs = await t.server.ctx.db.selectFrom('esim_orders').select('transaction_id').where('account_id', '=', c.id).execute();
    assert.equal(txs.reduce((n, r) => n + ordersFor(r.transaction_id!), 0), 5);
  });

  it('a retry under the same Idempotency-Key buys once; another account\'s order answers 404; a reseller buys at the operator\'s price', async () => {
    const c = await createClient(t, planId, { balance: '10' });
    const headers = { 'Idempotency-Key': `esim-${Date.now()}` };
    const first = await esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' }, headers });
    const again = await esim(c.key, 'buy', { body: { package_code: 'US-1GB-7D' }, headers });
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.body, first.body);
    assert.equal((await postings(c.login)).length, 1);
    const other = await createClient(t, planId, { balance: '1' });
    assert.equal((await esim(other.key, 'sync-order', { query: { order_id: first.body.order_id } })).status, 404);

    const r = await t.admin('create-reseller', { plan_id: planId, balance: '50' });
    const bought = await esim(r.api_key, 'buy', { body: { package_code: 'US-1GB-7D' } });
    assert.equal(bought.status, 200, JSON.stringify(bought.body));
    assert.equal(bought.body.price, formatMoney(price(18000), 4));
    assert.equal((await esim(r.api_key, 'orders')).body.total, 1);
    const synced = await esim(r.api_key, 'sync-order', { query: { order_id: bought.body.order_id } });
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    assert.equal(synced.body.order_id, bought.body.order_id);
    assert.equal((await esim(c.key, 'sync-order', { query: { order_id: bought.body.order_id } })).status, 404);
  });

  it('PostgreSQL, two instances: 20 concurrent buys split between them on a balance that pays for 5 deliver 5', { skip: !isPostgres() && 'PostgreSQL only' }, async () => {
    const second = await startTestServer({
      ESIM_UPSTREAM_URL: fake.url, ESIM_ACCESS_CODE: fake.accessCode, ESIM_SECRET_KEY: fake.secretKey, ESIM_UPSTREAM_TIMEOUT_MS: '400',
    }, { shareWith: t });
    try {
      const each = price(18000);
      const c = await createClient(t, planId, { balance: formatMoney(each * 5n + 10_000n, 6) });
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? t : second)
        .call('esim', 'buy', { key: c.key, body: { package_code: 'US-1GB-7D' } })));
      assert.equal(answers.filter((a) => a.status === 200).length, 5, JSON.stringify(answers.map((a) => a.status)));
      assert.equal((await postings(c.login)).length, 5);
      const txs = await t.server.ctx.db.selectFrom('esim_orders').select('transaction_id').where('account_id', '=', c.id).execute();
      assert.equal(txs.length, 5);
      assert.equal(txs.reduce((n, r) => n + ordersFor(r.transaction_id!), 0), 5);
    } finally {
      await second.close();
    }
  });
});
