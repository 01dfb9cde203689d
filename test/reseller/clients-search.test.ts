// Reseller API `clients?search=`: a portal's search box over the reseller's own clients.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPlan, startTestServer, type TestServer } from '../helpers/server.js';

describe('reseller api: clients search', () => {
  let t: TestServer;
  let key: string;
  let otherKey: string;
  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    const a = await t.admin('create-reseller', { plan_id: plan.id });
    const b = await t.admin('create-reseller', { plan_id: plan.id });
    key = a.api_key;
    otherKey = b.api_key;
    for (const [k, login, name] of [[key, '5550001001', 'Anna Schmidt'], [key, '5550001002', 'Bernd Müller'], [key, '7770001003', 'ANNA_50% Ltd'], [otherKey, '5550001004', 'Anna Other']] as const) {
      const res = await t.call('reseller', 'create-client', { key: k, body: { plan_id: (k === key ? a : b).retail_plan.id, login } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await t.call('reseller', 'client-profile-update', { key: k, body: { login, name } });
    }
  });
  after(async () => t.close());

  const search = async (q: string, extra: Record<string, string | number> = {}) => {
    const res = await t.call('reseller', 'clients', { key, query: { search: q, ...extra } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { total: res.body.total as number, logins: (res.body.clients as Array<{ login: string }>).map((c) => c.login), next: res.body.next };
  };

  it('matches the start of a login or a part of the name, in any case, among the reseller\'s own clients only', async () => {
    assert.deepEqual(await search('555'), { total: 2, logins: ['5550001001', '5550001002'], next: null });
    assert.deepEqual((await search('anna')).logins, ['5550001001', '7770001003']);
    assert.deepEqual((await search('SCHMIDT')).logins, ['5550001001']);
    assert.equal((await search('0001')).total, 0, 'a login matches from its start');
    assert.equal((await search('other')).total, 0, 'another reseller\'s client is not found');
  });

  it('% and _ match only themselves, and paging works within the search', async () => {
    assert.deepEqual((await search('50%')).logins, ['7770001003']);
    assert.equal((await search('%')).total, 1);
    const first = await search('anna', { limit: 1 });
    assert.equal(first.total, 2);
    assert.deepEqual(first.logins, ['5550001001']);
    const second = await search('anna', { limit: 1, after: first.next });
    assert.deepEqual(second.logins, ['7770001003']);
    assert.equal((await t.call('reseller', 'clients', { key, query: { search: 'x'.repeat(65) } })).body.field, 'search');
  });
});
