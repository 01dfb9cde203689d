import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('client api: inactive accounts, unknown endpoints, malformed bodies', () => {
  let t: TestServer;
  let standard: { id: number; name: string };
  let premium: { id: number; name: string };
  let alice: TestClient;
  let extraSip: string;
  let ipAuthId: number;
  let callerIds: { first: { id: number; cid: string }; second: { id: number; cid: string } };
  let voucher: string;

  const READS = ['me', 'balance', 'plans', 'sip', 'ip-auth-list', 'callerids', 'calls', 'refills'];

  /** What a client sees through its reads, plus what the switch and the vouchers table hold. */
  async function snapshot() {
    const api: Record<string, unknown> = {};
    for (const endpoint of READS) {
      const res = await t.call('client', endpoint, { key: alice.key });
      assert.equal(res.status, 200, `${endpoint}: ${JSON.stringify(res.body)}`);
      api[endpoint] = res.body;
    }
    api['sip+service'] = (await t.call('client', 'sip', { key: alice.key, query: { include_service: 1 } })).body;
    const db = t.server.ctx.db;
    const tables = {
      account: await db.selectFrom('accounts').select(['balance_micros', 'plan_id', 'password_hash'])
        .where('id', '=', alice.id).executeTakeFirstOrThrow(),
      sip_accounts: await db.selectFrom('sip_accounts').selectAll().where('account_id', '=', alice.id).orderBy('id').execute(),
      ip_auth: await db.selectFrom('ip_auth').selectAll().where('account_id', '=', alice.id).orderBy('id').execute(),
      callerids: await db.selectFrom('callerids').selectAll().where('account_id', '=', alice.id).orderBy('id').execute(),
      voucher: await db.selectFrom('vouchers').selectAll().where('code', '=', voucher).executeTakeFirstOrThrow(),
      ps_endpoints: await db.selectFrom('ps_endpoints').selectAll().orderBy('id').execute(),
      ps_auths: await db.selectFrom('ps_auths').selectAll().orderBy('id').execute(),
      ps_endpoint_id_ips: await db.selectFrom('ps_endpoint_id_ips').selectAll().orderBy('id').execute(),
      subscriber: await db.selectFrom('subscriber').selectAll().orderBy('id').execute(),
      address: await db.selectFrom('address').selectAll().orderBy('id').execute(),
      postings: await db.selectFrom('ledger_postings').select('id').where('account_id', '=', alice.id).execute(),
    };
    return { api, tables };
  }

  const setActive = async (active: boolean) => {
    const body = await t.admin('set-account-status', { login: alice.login, active });
    assert.equal(body.active, active ? 1 : 0);
  };

  /** Every state-changing Client API endpoint, with a body that an active account may send. */
  const writes = () => [
    ['change-plan', { id_plan: premium.id }],
    ['create-sip', {}],
    ['create-sip', { password: 'StrongSipPass123' }],
    ['update-sip-password', { name: extraSip, password: 'NewSipPass456' }],
    ['delete-sip', { name: extraSip }],
    ['ip-auth-create', { sip_login: alice.login, ip: '198.51.100.20' }],
    ['ip-auth-disable', { id: ipAuthId }],
    ['ip-auth-enable', { id: ipAuthId }],
    ['ip-auth-delete', { id: ipAuthId }],
    ['add-callerid', { cid: '+15550001111', name: 'Other', set_active: true }],
    ['set-callerid', { cid: callerIds.second.cid }],
    ['delete-callerid', { id: callerIds.first.id }],
    ['clear-callerid', {}],
    ['redeem-voucher', { voucher }],
    ['change-password', { current_password: alice.password, new_password: 'NewPassword987' }],
  ] as Array<[string, Record<string, unknown>]>;

  before(async () => {
    t = await startTestServer();
    standard = await createPlan(t, 'STANDARD-PLAN');
    premium = await createPlan(t, 'PREMIUM-PLAN');
    alice = await createClient(t, standard.id, { balance: '5' });
    const sip = await t.call('client', 'create-sip', { key: alice.key, body: {} });
    assert.equal(sip.status, 200, JSON.stringify(sip.body));
    extraSip = sip.body.data.name;
    const ip = await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login: alice.login, ip: '203.0.113.10' } });
    assert.equal(ip.status, 200, JSON.stringify(ip.body));
    ipAuthId = ip.body.data.id;
    const first = await t.call('client', 'add-callerid', { key: alice.key, body: { cid: '+1234567890', name: 'Main', set_active: true } });
    const second = await t.call('client', 'add-callerid', { key: alice.key, body: { cid: '+4915112345678' } });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    callerIds = { first: first.body.data, second: second.body.data };
    voucher = (await t.admin('create-vouchers', { value: '2', count: 1 })).vouchers[0];
  });
  after(async () => t.close());

  it('an inactive account reads its own data; me shows active 0', async () => {
    await setActive(false);
    const me = await t.call('client', 'me', { key: alice.key });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.data, {
      id: alice.id, username: alice.login, balance: '5.0000', active: 0, id_plan: standard.id, plan_name: 'STANDARD-PLAN',
    });
    for (const endpoint of READS) {
      const res = await t.call('client', endpoint, { key: alice.key });
      assert.equal(res.status, 200, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, true);
    }
    const balance = await t.call('client', 'balance', { key: alice.key });
    assert.equal(balance.body.data.balance, '5.0000');
    const sip = await t.call('client', 'sip', { key: alice.key });
    assert.deepEqual((sip.body.data as Array<{ name: string }>).map((s) => s.name), [alice.login, extraSip]);
  });

  it('every state-changing endpoint answers 403 ACCOUNT_INACTIVE and changes nothing', async () => {
    const before = await snapshot();
    const auditBefore = await t.server.ctx.db.selectFrom('audit_log').select('id')
      .where('actor_login', '=', alice.login).where('error_code', '=', 'ACCOUNT_INACTIVE').execute();
    for (const [endpoint, body] of writes()) {
      const res = await t.call('client', endpoint, { key: alice.key, body });
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false, endpoint);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE', endpoint);
      assert.equal(typeof res.body.error, 'string');
    }
    assert.deepEqual(await snapshot(), before);
    const auditAfter = await t.server.ctx.db.selectFrom('audit_log').select('id')
      .where('actor_login', '=', alice.login).where('error_code', '=', 'ACCOUNT_INACTIVE').execute();
    assert.equal(auditAfter.length - auditBefore.length, writes().length, 'each refused write is audited');
  });

  it('an idempotent retry of a refused write is refused too', async () => {
    const headers = { 'Idempotency-Key': 'inactive-redeem' };
    for (let i = 0; i < 2; i++) {
      const res = await t.call('client', 'redeem-voucher', { key: alice.key, body: { voucher }, headers });
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
    }
  });

  it('after re-activation the writes work again', async () => {
    await setActive(true);
    const me = await t.call('client', 'me', { key: alice.key });
    assert.equal(me.body.data.active, 1);

    const redeem = await t.call('client', 'redeem-voucher', { key: alice.key, body: { voucher } });
    assert.equal(redeem.status, 200, JSON.stringify(redeem.body));
    assert.equal(redeem.body.data.balance, '7.0000');
    const plan = await t.call('client', 'change-plan', { key: alice.key, body: { id_plan: premium.id } });
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    const cid = await t.call('client', 'set-callerid', { key: alice.key, body: { cid: callerIds.second.cid } });
    assert.equal(cid.status, 200, JSON.stringify(cid.body));
    const disable = await t.call('client', 'ip-auth-disable', { key: alice.key, body: { id: ipAuthId } });
    assert.equal(disable.status, 200, JSON.stringify(disable.body));
    assert.equal(disable.body.data.status, 0);
    const sipPw = await t.call('client', 'update-sip-password', { key: alice.key, body: { name: extraSip, password: 'NewSipPass456' } });
    assert.equal(sipPw.status, 200, JSON.stringify(sipPw.body));
    const del = await t.call('client', 'delete-sip', { key: alice.key, body: { name: extraSip } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const pw = await t.call('client', 'change-password', {
      key: alice.key, body: { current_password: alice.password, new_password: 'NewPassword987' },
    });
    assert.equal(pw.status, 200, JSON.stringify(pw.body));

    const after = await t.call('client', 'me', { key: alice.key });
    assert.deepEqual(after.body.data, {
      id: alice.id, username: alice.login, balance: '7.0000', active: 1, id_plan: premium.id, plan_name: 'PREMIUM-PLAN',
    });
  });

  it('an unknown endpoint answers 404 UNKNOWN_ENDPOINT', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const res = await t.call('client', 'no-such-endpoint', { key: alice.key, method, ...(method === 'POST' ? { body: {} } : {}) });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'UNKNOWN_ENDPOINT');
    }
    // Names of other APIs are not Client API endpoints.
    const admin = await t.call('client', 'create-client', { key: alice.key, body: { plan_id: standard.id } });
    assert.equal(admin.status, 404);
    assert.equal(admin.body.code, 'UNKNOWN_ENDPOINT');
    const missing = await fetch(`${t.url}/client-api/index.php`, { headers: { 'X-API-Key': alice.key } });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).success, false);
  });

  it('a body that is not valid JSON answers 400', async () => {
    const before = (await t.call('client', 'me', { key: alice.key })).body.data;
    for (const rawBody of ['{"voucher":', '{voucher: 1}', 'not json at all']) {
      const res = await t.call('client', 'redeem-voucher', { key: alice.key, rawBody, headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 400, `${rawBody}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
      assert.equal(typeof res.body.error, 'string');
    }
    assert.deepEqual((await t.call('client', 'me', { key: alice.key })).body.data, before);
  });

  it('a JSON body that is not an object answers 400', async () => {
    for (const body of [[{ id_plan: standard.id }], [], 'a string', 42, null, true]) {
      const res = await t.call('client', 'change-plan', { key: alice.key, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
    }
    const me = await t.call('client', 'me', { key: alice.key });
    assert.equal(me.body.data.id_plan, premium.id);
  });

  it('a body that is not JSON at all answers 400', async () => {
    const res = await t.call('client', 'clear-callerid', { key: alice.key, rawBody: 'cid=1', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.success, false);
    const broken = await t.call('client', 'clear-callerid', { key: alice.key, rawBody: '{"cid":', headers: { 'Content-Type': 'application/json' } });
    assert.equal(broken.status, 400, JSON.stringify(broken.body));
    assert.equal(broken.body.code, 'INVALID_JSON');
    const callerids = await t.call('client', 'callerids', { key: alice.key });
    assert.equal((callerids.body.data as Array<{ active: number }>).filter((c) => c.active === 1).length, 1);
  });
});
