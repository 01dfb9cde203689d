// Stored idempotent replies: secrets shown once (API keys, passwords, SIP secrets, the web
// phone's `_web1` secret) are never kept in clear in `idempotency_keys`, yet a retry after a
// lost answer still gets them; records expire after IDEMPOTENCY_RETENTION_DAYS, and natural
// keys (external_id, voucher codes) keep refusing repeats after their record is gone.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createClient, createPlan, startTestServer, type TestServer } from '../helpers/server.js';

const rid = (p: string) => `${p}${crypto.randomBytes(4).toString('hex')}`;
const DAY_MS = 24 * 60 * 60 * 1000;

async function storedRows(t: TestServer) {
  return t.server.ctx.db.selectFrom('idempotency_keys').selectAll().execute();
}

/** Every stored reply, as the text a database dump would show. */
async function storedText(t: TestServer): Promise<string> {
  return (await storedRows(t)).map((r) => r.response_json).join('\n');
}

function assertNotStored(text: string, secrets: Array<string | undefined>) {
  for (const secret of secrets) {
    assert.ok(secret && secret.length >= 8, `a secret to look for: ${secret}`);
    assert.ok(!text.includes(secret), `secret ${secret.slice(0, 6)}… is stored in clear in idempotency_keys`);
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('idempotency records: secrets at rest', () => {
  let t: TestServer;
  let planId: number;
  let reseller: { login: string; key: string; retailPlanId: number };

  before(async () => {
    t = await startTestServer({ JANUS_TOKEN_SECRET: `janus-${crypto.randomBytes(12).toString('hex')}`, JANUS_URL: 'wss://janus.example.test/janus' });
    planId = (await createPlan(t)).id;
    const r = await t.admin('create-reseller', { plan_id: planId, balance: '10' });
    reseller = { login: r.reseller.login, key: r.api_key, retailPlanId: r.reseller.retail_plan_id };
  });
  after(async () => t.close());

  it('admin create-client: the reply is stored sealed, and a retry replays the same key, which works', async () => {
    const idem = rid('create-client-');
    const first = await t.call('admin', 'create-client', { body: { plan_id: planId }, headers: { 'Idempotency-Key': idem } });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.password, 'a generated password is shown once');
    assertNotStored(await storedText(t), [first.body.api_key, first.body.sip.password, first.body.password]);

    const row = (await storedRows(t)).find((r) => r.key === `header:${idem}`);
    assert.ok(row, 'the record exists');
    assert.doesNotMatch(row.response_json, /api_key|"sip"|password/, 'no field of the reply is readable');

    const retry = await t.call('admin', 'create-client', { body: { plan_id: planId }, headers: { 'Idempotency-Key': idem } });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.body, first.body);
    const me = await t.call('client', 'me', { key: retry.body.api_key });
    assert.equal(me.status, 200);
    assert.equal(me.body.data.username, first.body.client.login);
  });

  it('admin create-api-key and create-reseller: no key or password in clear', async () => {
    const client = await createClient(t, planId);
    const key = await t.call('admin', 'create-api-key', { body: { login: client.login }, headers: { 'Idempotency-Key': rid('k-') } });
    assert.equal(key.status, 200);
    const res = await t.call('admin', 'create-reseller', { body: { plan_id: planId }, headers: { 'Idempotency-Key': rid('r-') } });
    assert.equal(res.status, 200);
    assertNotStored(await storedText(t), [key.body.api_key, res.body.api_key, res.body.password]);
  });

  it('reseller create-client and client-softphone-token: no key, password or SIP secret in clear', async () => {
    const created = await t.call('reseller', 'create-client', {
      key: reseller.key, body: { plan_id: reseller.retailPlanId }, headers: { 'Idempotency-Key': rid('rc-') },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const token = await t.call('reseller', 'client-softphone-token', {
      key: reseller.key, body: { login: created.body.client.login }, headers: { 'Idempotency-Key': rid('st-') },
    });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assertNotStored(await storedText(t), [created.body.api_key, created.body.sip.password, created.body.password, token.body.sip.secret]);
  });

  it('a reply stored in clear before sealing is sealed by the next start and still replays', async () => {
    const client = await createClient(t, planId);
    const idem = rid('legacy-');
    const legacyBody = { success: true, login: client.login, api_key: `ll_${crypto.randomBytes(32).toString('base64url')}` };
    const admin = await t.server.ctx.db.selectFrom('accounts').select('id').where('role', '=', 'admin').executeTakeFirstOrThrow();
    // Find the request hash the server computes, from a real record of the same request.
    const probe = rid('probe-');
    await t.call('admin', 'create-api-key', { body: { login: client.login }, headers: { 'Idempotency-Key': probe } });
    const probeRow = (await storedRows(t)).find((r) => r.key === `header:${probe}`)!;
    await t.server.ctx.db.insertInto('idempotency_keys').values({
      account_id: admin.id, scope: 'admin:create-api-key', key: `header:${idem}`, request_hash: probeRow.request_hash,
      status_code: 200, response_json: JSON.stringify(legacyBody), created_at: new Date().toISOString(),
    }).execute();

    const second = await startTestServer({}, { shareWith: t });
    try {
      await waitFor('the legacy reply to be sealed', async () => !(await storedText(t)).includes(legacyBody.api_key));
      const replay = await second.call('admin', 'create-api-key', { body: { login: client.login }, headers: { 'Idempotency-Key': idem } });
      assert.equal(replay.status, 200);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(replay.body, legacyBody);
    } finally {
      await second.close();
    }
  });
});

describe('idempotency records: retention', () => {
  let t: TestServer;
  let planId: number;

  before(async () => {
    t = await startTestServer({ IDEMPOTENCY_RETENTION_DAYS: '2' });
    planId = (await createPlan(t)).id;
  });
  after(async () => t.close());

  const balanceOf = async (login: string) => Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);

  it('records older than the retention are deleted by the sweep; natural keys still refuse repeats', async () => {
    const r = await t.admin('create-reseller', { plan_id: planId, balance: '10' });
    const resellerKey: string = r.api_key;
    const created = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: r.reseller.retail_plan_id } });
    const clientLogin: string = created.body.client.login;
    const clientKey: string = created.body.api_key;

    const transferId = rid('T-');
    const transfer = await t.call('reseller', 'transfer', { key: resellerKey, body: { login: clientLogin, amount: 1, external_id: transferId } });
    assert.equal(transfer.status, 200, JSON.stringify(transfer.body));
    const paymentId = rid('P-');
    const payment = { login: clientLogin, amount: 2, external_id: paymentId, status: 'paid', provider: 'plisio' };
    assert.equal((await t.call('reseller', 'register-agent-payment', { key: resellerKey, body: payment })).status, 200);
    const [voucher] = (await t.admin('create-vouchers', { value: '3', count: 1 })).vouchers as string[];
    const adminClient = await createClient(t, planId);
    const redeemKey = rid('redeem-');
    const redeem = await t.call('client', 'redeem-voucher', { key: adminClient.key, body: { voucher }, headers: { 'Idempotency-Key': redeemKey } });
    assert.equal(redeem.status, 200, JSON.stringify(redeem.body));
    const recent = rid('recent-');
    assert.equal((await t.call('admin', 'create-api-key', { body: { login: clientLogin }, headers: { 'Idempotency-Key': recent } })).status, 200);

    // Age every record but the recent one past the 2-day retention, one to just inside it.
    const db = t.server.ctx.db;
    await db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 3 * DAY_MS).toISOString() })
      .where('key', '<>', `header:${recent}`).execute();
    await db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 2 * DAY_MS + 60_000).toISOString() })
      .where('key', '=', `header:${recent}`).execute();
    assert.ok((await storedRows(t)).length >= 3);

    // A start sweeps at once (and then every 10 minutes).
    const second = await startTestServer({ IDEMPOTENCY_RETENTION_DAYS: '2' }, { shareWith: t });
    try {
      await waitFor('expired records to be swept', async () => (await storedRows(t)).length === 1);
      assert.deepEqual((await storedRows(t)).map((row) => row.key), [`header:${recent}`]);
    } finally {
      await second.close();
    }

    const clientBefore = await balanceOf(clientLogin);
    const adminClientBefore = await balanceOf(adminClient.login);
    const again = await t.call('reseller', 'transfer', { key: resellerKey, body: { login: clientLogin, amount: 1, external_id: transferId } });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.code, 'DUPLICATE_EXTERNAL_ID');
    const paidAgain = await t.call('reseller', 'register-agent-payment', { key: resellerKey, body: payment });
    assert.equal(paidAgain.status, 200);
    assert.equal(paidAgain.body.duplicate, true);
    const redeemAgain = await t.call('client', 'redeem-voucher', { key: adminClient.key, body: { voucher }, headers: { 'Idempotency-Key': redeemKey } });
    assert.equal(redeemAgain.status, 409);
    assert.equal(redeemAgain.body.code, 'VOUCHER_USED');
    assert.equal(await balanceOf(clientLogin), clientBefore, 'nothing credited twice');
    assert.equal(await balanceOf(adminClient.login), adminClientBefore, 'nothing credited twice');
    // The client's own key is untouched by any of this.
    assert.equal((await t.call('client', 'me', { key: clientKey })).status, 200);
  });

  it('IDEMPOTENCY_RETENTION_DAYS: 7 by default, a whole number of days from 1', () => {
    assert.equal(loadConfig({}).idempotencyRetentionDays, 7);
    assert.equal(loadConfig({ IDEMPOTENCY_RETENTION_DAYS: '30' }).idempotencyRetentionDays, 30);
    assert.throws(() => loadConfig({ IDEMPOTENCY_RETENTION_DAYS: '0' }), /IDEMPOTENCY_RETENTION_DAYS/);
    assert.throws(() => loadConfig({ IDEMPOTENCY_RETENTION_DAYS: 'week' }), /IDEMPOTENCY_RETENTION_DAYS/);
  });
});
