// The eSIM API with a reseller key naming one of its clients (`client_login`), against the fake
// upstream on loopback: the client's prices, the client charged and owning the order exactly as
// with its own key (the reseller's balance untouched), the order seen by the client's own key, a
// retry under one Idempotency-Key buying once, and any login that is not the reseller's own
// client answered 404 with nothing bought. A client key never acts for anyone else.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/esim-upstream.js';
import { until } from '../helpers/until.js';
import {
  balanceMicros, createClient, createPlan, createResellerClient, startTestServer, type TestClient, type TestServer,
} from '../helpers/server.js';

interface ResellerClient { login: string; key: string }

describe('eSIM API: a reseller acting for its client with client_login', () => {
  let fake: FakeUpstream;
  let t: TestServer;
  let planId: number;
  let reseller: { key: string; login: string; retailPlanId: number };
  let other: { key: string; login: string };
  let theirs: ResellerClient;
  let direct: TestClient;

  const esim = (key: string, endpoint: string, opts: { query?: Record<string, string | number>; body?: Record<string, unknown>; headers?: Record<string, string> } = {}) =>
    t.call('esim', endpoint, { key, ...opts });
  const ok = async (key: string, endpoint: string, opts: Parameters<typeof esim>[2] = {}) => {
    const res = await esim(key, endpoint, opts);
    assert.equal(res.status, 200, `${endpoint}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const balance = (login: string) => balanceMicros(t, login);
  /** The account's eSIM postings: kind and amount, oldest first. */
  const postings = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p').innerJoin('accounts as a', 'a.id', 'p.account_id')
    .select(['p.kind', 'p.amount_micros']).where('a.login', '=', login).where('p.kind', 'in', ['esim', 'refund']).orderBy('p.id').execute())
    .map((r) => [r.kind, Number(r.amount_micros)]);
  const upstreamOrders = () => fake.requests.filter((r) => r.path === 'esim/order').length;

  const resellerClient = (key: string, retailPlanId: number, amount: string): Promise<ResellerClient> =>
    createResellerClient(t, key, retailPlanId, { amount });

  before(async () => {
    fake = await startFakeUpstream();
    t = await startTestServer({ ESIM_UPSTREAM_URL: fake.url, ESIM_ACCESS_CODE: fake.accessCode, ESIM_SECRET_KEY: fake.secretKey });
    planId = (await createPlan(t)).id;
    const r = await t.admin('create-reseller', { plan_id: planId, balance: '200', markup_percent: '30' });
    reseller = { key: r.api_key, login: r.reseller.login, retailPlanId: r.retail_plan.id };
    const o = await t.admin('create-reseller', { plan_id: planId, balance: '200' });
    other = { key: o.api_key, login: o.reseller.login };
    theirs = await resellerClient(other.key, o.retail_plan.id, '20');
    direct = await createClient(t, planId, { balance: '20' });
  });
  after(async () => {
    await t?.close();
    await fake?.close();
  });

  it('packages, coverage and balance for the client answer what the client\'s own key gets: its prices, not the reseller\'s', async () => {
    const mine = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    const own = await ok(mine.key, 'packages', { query: { q: 'united states', limit: 50 } });
    const forIt = await ok(reseller.key, 'packages', { query: { q: 'united states', limit: 50, client_login: mine.login } });
    assert.deepEqual(forIt, own);
    const us = own.packages.find((p: any) => p.package_code === 'P2CYMUS93');
    // The operator's 25% margin, then the reseller's 30% markup.
    assert.equal(us.price, formatMoney(applyMarkup(applyMarkup(32000n * 100n, 25_000_000n), 30_000_000n), 4));
    const resellers = await ok(reseller.key, 'packages', { query: { q: 'united states', limit: 50 } });
    assert.equal(resellers.packages.find((p: any) => p.package_code === 'P2CYMUS93').price,
      formatMoney(applyMarkup(32000n * 100n, 25_000_000n), 4), 'without client_login: the reseller\'s own price, as before');

    assert.deepEqual(await ok(reseller.key, 'balance', { query: { client_login: mine.login } }), await ok(mine.key, 'balance'));
    assert.deepEqual(await ok(reseller.key, 'balance', { query: { client_login: mine.login } }),
      { success: true, login: mine.login, balance: '15.0000', available: '15.0000' });
    assert.equal((await ok(reseller.key, 'balance')).login, reseller.login);
    assert.deepEqual(await ok(reseller.key, 'coverage', { query: { package_code: 'EU-5GB-30D', client_login: mine.login } }),
      await ok(mine.key, 'coverage', { query: { package_code: 'EU-5GB-30D' } }));
  });

  it('buy for the client charges the client as its own purchase does, the order is the client\'s, the reseller\'s balance is untouched', async () => {
    const mine = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    const twin = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    const resellerBefore = await balance(reseller.login);

    const forIt = await ok(reseller.key, 'buy', { body: { package_code: 'P2CYMUS93', client_login: mine.login } });
    const itself = await ok(twin.key, 'buy', { body: { package_code: 'P2CYMUS93' } });
    assert.equal(forIt.status, 'ALLOCATING');
    const strip = (b: any) => ({ ...b, order_id: 0 });
    assert.deepEqual(strip(forIt), strip(itself), 'the same answer as the client\'s own purchase');
    const price = applyMarkup(applyMarkup(32000n * 100n, 25_000_000n), 30_000_000n);
    assert.equal(forIt.price, formatMoney(price, 4));
    assert.equal(await balance(mine.login), 15_000_000n - price);
    assert.deepEqual(await postings(mine.login), await postings(twin.login));
    assert.deepEqual(await postings(mine.login), [['esim', -Number(price)]]);
    assert.equal(await balance(reseller.login), resellerBefore, 'the reseller pays nothing, as with the client\'s own purchase');
    assert.deepEqual(await postings(reseller.login), []);

    const row = await t.server.ctx.db.selectFrom('esim_orders as o').innerJoin('accounts as a', 'a.id', 'o.account_id')
      .select('a.login').where('o.id', '=', forIt.order_id).executeTakeFirstOrThrow();
    assert.equal(row.login, mine.login, 'the client owns the order');

    // The client's own key sees it; so does the reseller naming the client; the reseller's own list does not.
    const seen = await ok(mine.key, 'orders');
    assert.deepEqual(seen.orders.map((o: any) => o.order_id), [forIt.order_id]);
    assert.deepEqual(await ok(reseller.key, 'orders', { query: { client_login: mine.login } }), seen);
    assert.equal((await ok(reseller.key, 'orders')).total, 0);
    const ready = await until('the profile', () => ok(reseller.key, 'sync-order', { query: { order_id: forIt.order_id, client_login: mine.login } }),
      (o: any) => o.status === 'READY');
    assert.match(ready.activation_code, /^LPA:1\$/);
    assert.deepEqual(await ok(mine.key, 'sync-order', { query: { order_id: forIt.order_id } }), ready);
    assert.equal((await esim(reseller.key, 'sync-order', { query: { order_id: forIt.order_id } })).status, 404, 'not the reseller\'s own order');
    assert.equal((await esim(reseller.key, 'sync-order', { query: { order_id: forIt.order_id, client_login: twin.login } })).status, 404,
      'not the other client\'s order');
  });

  it('a retry under one Idempotency-Key buys once, also when sent twice at once; the key with another client is refused', async () => {
    const mine = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    const headers = { 'Idempotency-Key': `esim-for-${mine.login}` };
    const body = { package_code: 'US-1GB-7D', client_login: mine.login };
    const sentBefore = upstreamOrders();
    const [a, b] = await Promise.all([esim(reseller.key, 'buy', { body, headers }), esim(reseller.key, 'buy', { body, headers })]);
    const again = await esim(reseller.key, 'buy', { body, headers });
    const answers = [a, b, again];
    assert.ok(answers.every((r) => r.status === 200), JSON.stringify(answers.map((r) => [r.status, r.body])));
    assert.ok(answers.every((r) => r.body.order_id === a.body.order_id), 'one order answered');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal((await ok(mine.key, 'orders')).total, 1);
    assert.equal((await postings(mine.login)).length, 1, 'one debit');
    assert.equal(upstreamOrders(), sentBefore + 1, 'one upstream order');

    const twin = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    const reused = await esim(reseller.key, 'buy', { body: { ...body, client_login: twin.login }, headers });
    assert.equal(reused.status, 409);
    assert.equal(reused.body.code, 'IDEMPOTENCY_MISMATCH');
    assert.equal((await ok(twin.key, 'orders')).total, 0);
  });

  it('another reseller\'s client, an admin client or an unknown login answers 404 on every endpoint, and nothing is bought', async () => {
    const resellerBefore = await balance(reseller.login);
    const sentBefore = upstreamOrders();
    const order = await ok(theirs.key, 'buy', { body: { package_code: 'US-1GB-7D' } });
    for (const login of [theirs.login, direct.login, 'nosuchclient', reseller.login, other.login, '']) {
      const calls: Array<[string, Parameters<typeof esim>[2]]> = [
        ['packages', { query: { q: 'europe', client_login: login } }],
        ['coverage', { query: { package_code: 'EU-5GB-30D', client_login: login } }],
        ['balance', { query: { client_login: login } }],
        ['orders', { query: { client_login: login } }],
        ['sync-order', { query: { order_id: order.order_id, client_login: login } }],
        ['buy', { body: { package_code: 'US-1GB-7D', client_login: login } }],
      ];
      for (const [endpoint, opts] of calls) {
        const res = await esim(reseller.key, endpoint, opts);
        assert.equal(res.status, 404, `${endpoint} for "${login}": ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'NOT_FOUND');
        assert.equal(res.body.success, false);
      }
    }
    assert.deepEqual(await postings(theirs.login), [['esim', (await postings(theirs.login))[0][1]]], 'their client bought only its own');
    assert.deepEqual(await postings(direct.login), []);
    assert.equal(await balance(reseller.login), resellerBefore);
    assert.equal(upstreamOrders(), sentBefore + 1);
  });

  it('a client key naming another client acts for itself only; an inactive client is refused as its own key would be', async () => {
    const mine = await resellerClient(reseller.key, reseller.retailPlanId, '15');
    assert.equal((await ok(mine.key, 'balance', { query: { client_login: theirs.login } })).login, mine.login);
    const theirsBefore = await balance(theirs.login);
    const bought = await ok(mine.key, 'buy', { body: { package_code: 'US-1GB-7D', client_login: theirs.login } });
    assert.equal(await balance(theirs.login), theirsBefore, 'nothing charged to the named client');
    assert.deepEqual((await ok(mine.key, 'orders', { query: { client_login: theirs.login } })).orders.map((o: any) => o.order_id), [bought.order_id]);
    assert.ok(!(await ok(theirs.key, 'orders')).orders.some((o: any) => o.order_id === bought.order_id));

    const off = await t.call('reseller', 'set-client-status', { key: reseller.key, body: { login: mine.login, active: false } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const own = await esim(mine.key, 'buy', { body: { package_code: 'US-1GB-7D' } });
    const forIt = await esim(reseller.key, 'buy', { body: { package_code: 'US-1GB-7D', client_login: mine.login } });
    assert.deepEqual([own.status, own.body.code], [403, 'ACCOUNT_INACTIVE']);
    assert.deepEqual([forIt.status, forIt.body.code], [own.status, own.body.code]);
    assert.equal((await ok(mine.key, 'orders')).total, 1);
  });
});
