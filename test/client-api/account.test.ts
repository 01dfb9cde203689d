import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('client api: me, balance, auth, methods', () => {
  let t: TestServer;
  let plan: { id: number; name: string };
  let alice: TestClient;

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t, 'STANDARD-PLAN');
    alice = await createClient(t, plan.id, { balance: '1' });
  });
  after(async () => t.close());

  it('me answers the documented fields', async () => {
    const res = await t.call('client', 'me', { key: alice.key });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      success: true,
      data: { id: alice.id, username: alice.login, balance: '1.0000', active: 1, id_plan: plan.id, plan_name: 'STANDARD-PLAN' },
    });
  });

  it('the same API answers at /client-api/ and /client-api', async () => {
    for (const p of ['/client-api/', '/client-api']) {
      const res = await fetch(`${t.url}${p}?endpoint=balance`, { headers: { 'X-API-Key': alice.key } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).data.balance, '1.0000');
    }
  });

  it('missing and unknown keys answer 401', async () => {
    const missing = await t.call('client', 'me', { key: null });
    assert.equal(missing.status, 401);
    assert.equal(missing.body.success, false);
    assert.equal(missing.body.code, 'UNAUTHORIZED');
    const unknown = await t.call('client', 'me', { key: 'll_not-a-real-key' });
    assert.equal(unknown.status, 401);
  });

  it('a read may be POSTed; other methods answer 405', async () => {
    const posted = await t.call('client', 'me', { key: alice.key, method: 'POST', body: {} });
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    assert.equal(posted.body.data.username, alice.login);
    const res = await t.call('client', 'me', { key: alice.key, method: 'PUT', body: {} });
    assert.equal(res.status, 405);
    assert.equal(res.body.code, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.get('allow'), 'GET, POST');
  });
});
