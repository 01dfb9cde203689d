import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

type PlanRef = { id: number; name: string };

describe('client api: plans and change-plan', () => {
  let t: TestServer;
  let standard: PlanRef;
  let premium: PlanRef;
  let hidden: PlanRef;
  let retailPlanId: number;
  let alice: TestClient;
  let hiddenClient: TestClient;

  const planIds = async (key: string) => {
    const res = await t.call('client', 'plans', { key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    return (res.body.data as Array<{ id: number }>).map((p) => p.id).sort((a, b) => a - b);
  };
  const me = async (key: string) => {
    const res = await t.call('client', 'me', { key });
    assert.equal(res.status, 200);
    return res.body.data as { id_plan: number; plan_name: string; balance: string };
  };

  before(async () => {
    t = await startTestServer();
    standard = await createPlan(t, 'STANDARD-PLAN');
    premium = await createPlan(t, 'PREMIUM-PLAN');
    hidden = await createPlan(t, 'HIDDEN-PLAN', { selectable: false });
    // A reseller's retail plan belongs to the reseller: never offered to the admin's clients.
    const reseller = await t.admin('create-reseller', { plan_id: standard.id });
    retailPlanId = reseller.retail_plan.id;
    alice = await createClient(t, standard.id, { balance: '2' });
    hiddenClient = await createClient(t, hidden.id);
  });
  after(async () => t.close());

  it('plans lists the selectable plans of the admin, marking the current one', async () => {
    const res = await t.call('client', 'plans', { key: alice.key });
    assert.equal(res.status, 200);
    assert.equal(res.body.success, true);
    const byId = new Map((res.body.data as Array<{ id: number; name: string; current: boolean }>).map((p) => [p.id, p]));
    assert.deepEqual([...byId.keys()].sort((a, b) => a - b), [standard.id, premium.id].sort((a, b) => a - b));
    assert.equal(byId.get(standard.id)?.name, 'STANDARD-PLAN');
    assert.equal(byId.get(standard.id)?.current, true);
    assert.equal(byId.get(premium.id)?.current, false);
    assert.ok(!byId.has(hidden.id), 'a plan created with selectable:false is not offered');
    assert.ok(!byId.has(retailPlanId), 'a reseller retail plan is not offered to a direct client');
  });

  it('a plan that is not selectable is listed only to the client that is on it', async () => {
    const ids = await planIds(hiddenClient.key);
    assert.deepEqual(ids, [standard.id, premium.id, hidden.id].sort((a, b) => a - b));
    const res = await t.call('client', 'plans', { key: hiddenClient.key });
    const current = (res.body.data as Array<{ id: number; current: boolean }>).filter((p) => p.current).map((p) => p.id);
    assert.deepEqual(current, [hidden.id]);
  });

  it('change-plan moves the client to an available plan; me shows it', async () => {
    const res = await t.call('client', 'change-plan', { key: alice.key, body: { id_plan: premium.id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.deepEqual(res.body.data, { id_plan: premium.id, plan_name: 'PREMIUM-PLAN' });
    const after = await me(alice.key);
    assert.equal(after.id_plan, premium.id);
    assert.equal(after.plan_name, 'PREMIUM-PLAN');
    assert.equal(after.balance, '2.0000', 'changing plan moves no money');
    const res2 = await t.call('client', 'plans', { key: alice.key });
    const current = (res2.body.data as Array<{ id: number; current: boolean }>).filter((p) => p.current).map((p) => p.id);
    assert.deepEqual(current, [premium.id]);
  });

  it('id_plan may be given as a digit string', async () => {
    const res = await t.call('client', 'change-plan', { key: alice.key, body: { id_plan: String(standard.id) } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await me(alice.key)).id_plan, standard.id);
  });

  it('a plan not in the list answers 404 and changes nothing', async () => {
    for (const id of [hidden.id, retailPlanId, 999_999]) {
      const res = await t.call('client', 'change-plan', { key: alice.key, body: { id_plan: id } });
      assert.equal(res.status, 404, `plan ${id}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'NOT_FOUND');
      assert.equal(typeof res.body.error, 'string');
    }
    const after = await me(alice.key);
    assert.equal(after.id_plan, standard.id);
    assert.equal(after.plan_name, 'STANDARD-PLAN');
  });

  it('leaving a non-selectable plan is one-way: it is no longer offered afterwards', async () => {
    const res = await t.call('client', 'change-plan', { key: hiddenClient.key, body: { id_plan: standard.id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await planIds(hiddenClient.key), [standard.id, premium.id].sort((a, b) => a - b));
    const back = await t.call('client', 'change-plan', { key: hiddenClient.key, body: { id_plan: hidden.id } });
    assert.equal(back.status, 404);
    assert.equal((await me(hiddenClient.key)).id_plan, standard.id);
  });

  it('a bad id_plan answers 400 naming the field', async () => {
    for (const body of [{}, { id_plan: 'abc' }, { id_plan: 0 }, { id_plan: -3 }, { id_plan: 1.5 }, { id_plan: null }, { id_plan: [premium.id] }]) {
      const res = await t.call('client', 'change-plan', { key: alice.key, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.field, 'id_plan');
      assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
    }
    assert.equal((await me(alice.key)).id_plan, standard.id);
  });

  it('change-plan is a POST (a GET is refused and changes nothing); plans is a read', async () => {
    const get = await t.call('client', 'change-plan', { key: alice.key, query: { id_plan: premium.id } });
    assert.equal(get.status, 405);
    const post = await t.call('client', 'plans', { key: alice.key, body: {} });
    assert.equal(post.status, 200);
    assert.equal((await me(alice.key)).id_plan, standard.id);
  });

  it('a client key cannot use the admin API', async () => {
    for (const endpoint of ['accounts', 'verify-ledger']) {
      const res = await t.call('admin', endpoint, { key: alice.key });
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'FORBIDDEN');
    }
    const refill = await t.call('admin', 'refill', { key: alice.key, body: { login: alice.login, amount: 100 } });
    assert.equal(refill.status, 403);
    assert.equal((await me(alice.key)).balance, '2.0000');
  });

  it('a client cannot create plans, neither on the admin API nor on the client API', async () => {
    const countPlans = async () => Number((await t.server.ctx.db.selectFrom('plans')
      .select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await countPlans();
    const viaAdmin = await t.call('admin', 'create-plan', { key: alice.key, body: { name: 'MY-OWN-PLAN', selectable: true } });
    assert.equal(viaAdmin.status, 403);
    assert.equal(viaAdmin.body.code, 'FORBIDDEN');
    const addRates = await t.call('admin', 'add-rates', {
      key: alice.key, body: { plan_id: standard.id, rates: [{ prefix: '1', destination: 'USA', rate: '0' }] },
    });
    assert.equal(addRates.status, 403);
    const viaClient = await t.call('client', 'create-plan', { key: alice.key, body: { name: 'MY-OWN-PLAN' } });
    assert.equal(viaClient.status, 404);
    assert.equal(viaClient.body.code, 'UNKNOWN_ENDPOINT');
    assert.equal(await countPlans(), before);
    const rate = await t.server.ctx.db.selectFrom('rates').select('rate_micros')
      .where('plan_id', '=', standard.id).where('prefix', '=', '1').executeTakeFirstOrThrow();
    assert.equal(Number(rate.rate_micros), 12_000, 'the plan rates are untouched');
    assert.deepEqual(await planIds(alice.key), [standard.id, premium.id].sort((a, b) => a - b));
  });
});
