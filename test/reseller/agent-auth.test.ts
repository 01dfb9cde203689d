// The agent's own login in its white-label portal (`agent-auth`): the portal holds only the
// agent's API key and checks the agent's password with it, under the same limits as a client's
// password check (per login and, with client_ip, per visitor address within that reseller).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPlan, startTestServer, type TestServer } from '../helpers/server.js';
import { callFrom } from './portal-fixtures.js';

interface Agent { id: number; login: string; key: string; password: string; retailPlanId: number }

describe('reseller api: agent-auth', () => {
  let t: TestServer;
  let planId: number;
  let seq = 0;

  /** A reseller with a chosen password, created through the Admin API. */
  async function createAgent(extra: Record<string, unknown> = {}): Promise<Agent> {
    const password = `AgentPass${++seq}x9`;
    const body = await t.admin('create-reseller', { plan_id: planId, password, ...extra });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, password, retailPlanId: body.retail_plan.id };
  }

  /** A request from a chosen loopback address, so the per-address counts of cases stay apart. */
  const auth = (agent: Agent, addr: string, body: Record<string, unknown>, key = agent.key) =>
    callFrom(t, addr, 'reseller', 'agent-auth', key, body);

  const auditRows = (actorId: number) => t.server.ctx.db.selectFrom('audit_log').select(['status_code', 'error_code'])
    .where('actor_id', '=', actorId).where('endpoint', '=', 'agent-auth').orderBy('id').execute();

  before(async () => {
    t = await startTestServer();
    planId = (await createPlan(t)).id;
  });
  after(async () => t?.close());

  it('the right password answers the agent: login, name, active; never a password or its hash', async () => {
    const agent = await createAgent();
    const res = await auth(agent, '127.0.2.1', { password: agent.password });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    assert.deepEqual(Object.keys(res.body).sort(), ['agent', 'ok']);
    assert.deepEqual(Object.keys(res.body.agent).sort(), ['active', 'login', 'name']);
    assert.equal(res.body.agent.login, agent.login);
    assert.equal(typeof res.body.agent.name, 'string');
    assert.equal(res.body.agent.active, true);
    const text = JSON.stringify(res.body);
    assert.equal(text.includes('scrypt'), false, 'no password hash');
    assert.equal(text.includes(agent.password), false, 'no password');
    assert.equal(text.includes(agent.key), false, 'no API key');

    // The same name and status as portal-bootstrap shows for the portal.
    const bootstrap = await t.call('reseller', 'portal-bootstrap', { key: agent.key });
    assert.equal(bootstrap.status, 200, JSON.stringify(bootstrap.body));
    assert.deepEqual(res.body.agent, bootstrap.body.portal);
    assert.ok(bootstrap.body.endpoints.includes('agent-auth'));
  });

  it('a wrong password answers 403 INVALID_CREDENTIALS, as does an account with no password set', async () => {
    const agent = await createAgent();
    const wrong = await auth(agent, '127.0.2.2', { password: 'WrongPass999' });
    assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
    assert.equal(wrong.body.ok, false);
    assert.equal(wrong.body.code, 'INVALID_CREDENTIALS');

    const unset = await createAgent();
    await t.server.ctx.db.updateTable('accounts').set({ password_hash: null }).where('id', '=', unset.id).execute();
    for (const password of [unset.password, 'Anything123']) {
      const res = await auth(unset, '127.0.2.2', { password });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.code, 'INVALID_CREDENTIALS');
    }
  });

  it('validates password and client_ip (400 naming the field), and answers only POST', async () => {
    const agent = await createAgent();
    for (const [body, field] of [
      [{}, 'password'], [{ password: '' }, 'password'], [{ password: 123 }, 'password'], [{ password: 'x'.repeat(1025) }, 'password'],
      [{ password: agent.password, client_ip: 'not-an-ip' }, 'client_ip'],
    ] as const) {
      const res = await auth(agent, '127.0.2.3', body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field);
    }
    const viaGet = await t.call('reseller', 'agent-auth', { key: agent.key, query: { password: agent.password } });
    assert.equal(viaGet.status, 405);
  });

  it('after 5 wrong passwords the login is limited (429 RATE_LIMITED), even with the right one, from any address', async () => {
    const agent = await createAgent();
    for (let i = 0; i < 5; i++) {
      const res = await auth(agent, '127.0.2.4', { password: `Wrong${i}pass` });
      assert.equal(res.status, 403, `attempt ${i}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'INVALID_CREDENTIALS');
    }
    for (const [addr, body] of [
      ['127.0.2.4', { password: 'Wrong6pass' }], ['127.0.2.4', { password: agent.password }],
      ['127.0.2.5', { password: agent.password }], ['127.0.2.5', { password: agent.password, client_ip: '198.51.100.77' }],
    ] as const) {
      const res = await auth(agent, addr, body);
      assert.equal(res.status, 429, `${addr} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'RATE_LIMITED');
    }
    // Another agent is not limited by it.
    const other = await createAgent();
    assert.equal((await auth(other, '127.0.2.4', { password: other.password })).status, 200);
  });

  it('with client_ip, failed checks count against that visitor address within this reseller, shared with client-auth', async () => {
    const agent = await createAgent();
    const visitor = '203.0.113.41';
    // Wrong client logins from that visitor count against its address in this reseller's portal.
    for (let i = 0; i < 3; i++) {
      const res = await callFrom(t, '127.0.2.6', 'reseller', 'client-auth', agent.key, { login: `nobody-${i}`, password: 'Whatever123', client_ip: visitor });
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    for (let i = 0; i < 2; i++) {
      assert.equal((await auth(agent, '127.0.2.6', { password: `Wrong${i}pass`, client_ip: visitor })).status, 403);
    }
    const limited = await auth(agent, '127.0.2.6', { password: agent.password, client_ip: visitor });
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.equal(limited.body.code, 'RATE_LIMITED');
    // The agent's login is not locked: the same password from another visitor, or with none, gets in.
    assert.equal((await auth(agent, '127.0.2.6', { password: agent.password, client_ip: '203.0.113.42' })).status, 200);
    assert.equal((await auth(agent, '127.0.2.6', { password: agent.password })).status, 200);
    // The same address behind another reseller's portal starts from zero.
    const other = await createAgent();
    assert.equal((await auth(other, '127.0.2.6', { password: other.password, client_ip: visitor })).status, 200);
  });

  it('a success clears the login\'s failed count', async () => {
    const agent = await createAgent();
    for (let i = 0; i < 4; i++) assert.equal((await auth(agent, '127.0.2.7', { password: `Wrong${i}pass` })).status, 403);
    assert.equal((await auth(agent, '127.0.2.7', { password: agent.password })).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await auth(agent, '127.0.2.7', { password: `Again${i}pass` })).status, 403);
    assert.equal((await auth(agent, '127.0.2.7', { password: agent.password })).status, 200);
  });

  it('an inactive agent gets 403 ACCOUNT_INACTIVE, only with the right password', async () => {
    const agent = await createAgent();
    await t.admin('set-account-status', { login: agent.login, active: 0 });
    const right = await auth(agent, '127.0.2.8', { password: agent.password });
    assert.equal(right.status, 403, JSON.stringify(right.body));
    assert.equal(right.body.code, 'ACCOUNT_INACTIVE');
    const wrong = await auth(agent, '127.0.2.8', { password: 'WrongPass999' });
    assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
    assert.equal(wrong.body.code, 'INVALID_CREDENTIALS');
    await t.admin('set-account-status', { login: agent.login, active: 1 });
    assert.equal((await auth(agent, '127.0.2.8', { password: agent.password })).status, 200);
  });

  it('is for reseller keys only: a client key and the admin key answer 403, no key 401', async () => {
    const agent = await createAgent();
    const created = await t.call('reseller', 'create-client', { key: agent.key, body: { plan_id: agent.retailPlanId, password: 'ClientPass123' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const clientKey = created.body.api_key as string;
    for (const key of [clientKey, t.adminKey]) {
      const res = await auth(agent, '127.0.2.9', { password: 'ClientPass123' }, key);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.code, 'FORBIDDEN');
    }
    assert.equal((await t.call('reseller', 'agent-auth', { key: null, body: { password: agent.password } })).status, 401);
  });

  it('every check is audited, success and refusal alike', async () => {
    const agent = await createAgent();
    assert.equal((await auth(agent, '127.0.2.10', { password: agent.password })).status, 200);
    assert.equal((await auth(agent, '127.0.2.10', { password: 'WrongPass999' })).status, 403);
    const rows = await auditRows(agent.id);
    assert.deepEqual(rows.map((r) => [r.status_code, r.error_code]), [[200, null], [403, 'INVALID_CREDENTIALS']]);
  });
});
