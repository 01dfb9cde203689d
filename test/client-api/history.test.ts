import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const MONEY4 = /^-?\d+\.\d{4}$/;

interface Refill { id: number; date: string; amount: string; balance_after: string; kind: string; description: string | null }

describe('client api: call and refill history', () => {
  let t: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  const refills = async (key: string, query: Record<string, string | number> = {}) => {
    const res = await t.call('client', 'refills', { key, query });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    return res.body.data as { total: number; limit: number; offset: number; refills: Refill[] };
  };

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t, 'STANDARD-PLAN');
    const welcome = await createPlan(t, 'WELCOME-PLAN', { initial_credit: '0.5' });
    // alice: opening balance 1, refill 2.5, correction -0.5, voucher 4, refill 0.25 -> 7.25
    alice = await createClient(t, plan.id, { balance: '1' });
    await t.admin('refill', { login: alice.login, amount: '2.5', description: 'Bank transfer' });
    await t.admin('refill', { login: alice.login, amount: '-0.5', description: 'Correction' });
    const { vouchers } = await t.admin('create-vouchers', { value: '4', count: 1 });
    const redeemed = await t.call('client', 'redeem-voucher', { key: alice.key, body: { voucher: vouchers[0] } });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    await t.admin('refill', { login: alice.login, amount: 0.25 });
    // bob: initial credit of his plan 0.5, refill 9
    bob = await createClient(t, welcome.id);
    await t.admin('refill', { login: bob.login, amount: 9 });
  });
  after(async () => t.close());

  it('refills lists credits newest first, with the total and the default paging', async () => {
    const data = await refills(alice.key);
    assert.equal(data.total, 4, 'a negative correction is not a refill');
    assert.equal(data.limit, 50);
    assert.equal(data.offset, 0);
    assert.deepEqual(
      data.refills.map((r) => [r.amount, r.balance_after, r.kind]),
      [
        ['0.2500', '7.2500', 'refill'],
        ['4.0000', '7.0000', 'voucher'],
        ['2.5000', '3.5000', 'refill'],
        ['1.0000', '1.0000', 'refill'],
      ],
    );
    for (const r of data.refills) {
      assert.equal(typeof r.id, 'number');
      assert.match(r.date, LOCAL_TIME);
      assert.match(r.amount, MONEY4);
      assert.match(r.balance_after, MONEY4);
    }
    assert.equal(data.refills[2].description, 'Bank transfer');
    const ids = data.refills.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const balance = await t.call('client', 'balance', { key: alice.key });
    assert.equal(balance.body.data.balance, '7.2500');
  });

  it('refills pages with limit and offset; the total stays the same', async () => {
    const all = (await refills(alice.key)).refills.map((r) => r.id);
    const first = await refills(alice.key, { limit: 2, offset: 0 });
    assert.deepEqual([first.total, first.limit, first.offset], [4, 2, 0]);
    assert.deepEqual(first.refills.map((r) => r.id), all.slice(0, 2));
    const second = await refills(alice.key, { limit: 2, offset: 2 });
    assert.deepEqual([second.total, second.limit, second.offset], [4, 2, 2]);
    assert.deepEqual(second.refills.map((r) => r.id), all.slice(2, 4));
    const middle = await refills(alice.key, { limit: 1, offset: 1 });
    assert.deepEqual(middle.refills.map((r) => r.kind), ['voucher']);
    const past = await refills(alice.key, { limit: 50, offset: 4 });
    assert.equal(past.total, 4);
    assert.deepEqual(past.refills, []);
    const max = await refills(alice.key, { limit: 500 });
    assert.equal(max.limit, 500);
    assert.equal(max.refills.length, 4);
  });

  it("another client's refills are never shown", async () => {
    const a = await refills(alice.key);
    const b = await refills(bob.key);
    assert.equal(b.total, 2);
    assert.deepEqual(b.refills.map((r) => [r.amount, r.balance_after]), [['9.0000', '9.5000'], ['0.5000', '0.5000']]);
    const aliceIds = new Set(a.refills.map((r) => r.id));
    assert.ok(b.refills.every((r) => !aliceIds.has(r.id)));
    assert.ok(a.refills.every((r) => r.amount !== '9.0000' && r.amount !== '0.5000'));
  });

  it('calls answers the list envelope with total and paging even when empty', async () => {
    const res = await t.call('client', 'calls', { key: alice.key, query: { limit: 50, offset: 0 } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true, data: { total: 0, limit: 50, offset: 0, next: null, calls: [] } });
    const defaults = await t.call('client', 'calls', { key: alice.key });
    assert.deepEqual(defaults.body, { success: true, data: { total: 0, limit: 50, offset: 0, next: null, calls: [] } });
    const paged = await t.call('client', 'calls', { key: bob.key, query: { limit: 10, offset: 20 } });
    assert.equal(paged.status, 200);
    assert.deepEqual(paged.body.data, { total: 0, limit: 10, offset: 20, next: null, calls: [] });
  });

  it('a limit above 500 is clamped to 500; below 1 or not an integer answers 400 naming limit', async () => {
    for (const endpoint of ['calls', 'refills']) {
      for (const limit of ['501', '1000']) {
        const res = await t.call('client', endpoint, { key: alice.key, query: { limit } });
        assert.equal(res.status, 200, `${endpoint} limit=${limit}: ${JSON.stringify(res.body)}`);
      }
      for (const limit of ['0', '-1', 'abc', '1.5']) {
        const res = await t.call('client', endpoint, { key: alice.key, query: { limit } });
        assert.equal(res.status, 400, `${endpoint} limit=${limit}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.success, false);
        assert.equal(res.body.field, 'limit');
        assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
        assert.equal(typeof res.body.error, 'string');
      }
    }
  });

  it('a bad offset answers 400 naming offset', async () => {
    for (const endpoint of ['calls', 'refills']) {
      for (const offset of ['-1', 'x']) {
        const res = await t.call('client', endpoint, { key: alice.key, query: { offset } });
        assert.equal(res.status, 400, `${endpoint} offset=${offset}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, 'offset');
      }
    }
  });

  it('history endpoints are reads: a POST reads too, with its parameters in the body; PUT answers 405', async () => {
    for (const endpoint of ['calls', 'refills']) {
      const res = await t.call('client', endpoint, { key: alice.key, body: { limit: 1 } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.data.limit ?? res.body.limit, 1);
      const put = await t.call('client', endpoint, { key: alice.key, method: 'PUT', body: {} });
      assert.equal(put.status, 405);
      assert.equal(put.headers.get('allow'), 'GET, POST');
    }
  });
});
