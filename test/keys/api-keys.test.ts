// API key life-cycle: the operator lists keys (by prefix, never the key or its hash) and
// revokes them; clients and resellers rotate their own; a revoked key answers 401 at once, on
// every instance sharing the database; last use is recorded without a write per request.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, runCli, startTestServer, twoInstances, type TestServer } from '../helpers/server.js';

const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('API keys: list, revoke, rotate', () => {
  let t: TestServer;
  let planId: number;

  before(async () => {
    t = await startTestServer();
    planId = (await createPlan(t)).id;
  });
  after(async () => t.close());

  const listKeys = (login: string) => t.call('admin', 'api-keys', { query: { login } });
  const meStatus = async (key: string, server = t) => (await server.call('client', 'me', { key })).status;

  it('api-keys lists id, prefix, role, label and times, never the key or its hash', async () => {
    const client = await createClient(t, planId);
    const second = await t.admin('create-api-key', { login: client.login });
    const res = await listKeys(client.login);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.login, client.login);
    assert.equal(res.body.total, 2);
    assert.equal(res.body.api_keys.length, 2);
    for (const k of res.body.api_keys) {
      assert.deepEqual(Object.keys(k).sort(), ['active', 'created_at', 'id', 'label', 'last_used_at', 'prefix', 'revoked_at', 'role']);
      assert.equal(k.role, 'client');
      assert.equal(k.active, true);
      assert.equal(k.revoked_at, null);
      assert.match(k.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    }
    assert.deepEqual(res.body.api_keys.map((k: { prefix: string }) => k.prefix), [client.key.slice(0, 10), second.api_key.slice(0, 10)]);
    const text = JSON.stringify(res.body);
    for (const key of [client.key, second.api_key]) {
      assert.ok(!text.includes(key) && !text.includes(sha256(key)), 'neither the key nor its hash is listed');
    }

    assert.equal((await listKeys('nobody-here')).status, 404);
    const missing = await t.call('admin', 'api-keys', {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'login');
    assert.equal((await t.call('admin', 'api-keys', { key: client.key, query: { login: client.login } })).status, 403);
  });

  it('revoke-api-key: the key answers 401 from the next request on; the other key still works', async () => {
    const client = await createClient(t, planId);
    const other = (await t.admin('create-api-key', { login: client.login })).api_key as string;
    assert.equal(await meStatus(client.key), 200);
    const [first] = (await listKeys(client.login)).body.api_keys;

    const revoked = await t.call('admin', 'revoke-api-key', { body: { id: first.id } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.already_revoked, false);
    assert.equal(revoked.body.api_key.active, false);
    assert.ok(revoked.body.api_key.revoked_at);

    const refused = await t.call('client', 'me', { key: client.key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'UNAUTHORIZED');
    assert.equal(await meStatus(other), 200);

    const again = await t.call('admin', 'revoke-api-key', { body: { id: first.id } });
    assert.equal(again.status, 200);
    assert.equal(again.body.already_revoked, true);
    assert.equal(again.body.api_key.revoked_at, revoked.body.api_key.revoked_at, 'a second revocation changes nothing');

    const listed = (await listKeys(client.login)).body.api_keys;
    assert.deepEqual(listed.map((k: { active: boolean }) => k.active), [false, true]);

    assert.equal((await t.call('admin', 'revoke-api-key', { body: { id: 99_999_999 } })).status, 404);
    const bad = await t.call('admin', 'revoke-api-key', { body: { id: 'first' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'id');
    const rows = await t.server.ctx.db.selectFrom('audit_log').select(['endpoint', 'status_code'])
      .where('endpoint', '=', 'revoke-api-key').execute();
    assert.ok(rows.some((r) => r.status_code === 200), 'revocations are audited');
  });

  it('the last working admin key cannot be revoked; with another one issued it can', async () => {
    const [adminKey] = (await listKeys('admin')).body.api_keys;
    const refused = await t.call('admin', 'revoke-api-key', { body: { id: adminKey.id } });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'LAST_ADMIN_KEY');
    assert.equal((await t.call('admin', 'accounts', {})).status, 200);

    const spare = (await t.admin('create-api-key', { login: 'admin' })).api_key as string;
    const spareId = (await listKeys('admin')).body.api_keys.at(-1).id as number;
    const revoked = await t.call('admin', 'revoke-api-key', { key: spare, body: { id: spareId } });
    assert.equal(revoked.status, 200, 'revoking a spare admin key is fine, even with itself');
    assert.equal((await t.call('admin', 'accounts', { key: spare })).status, 401);
    assert.equal((await t.call('admin', 'accounts', {})).status, 200);
  });

  it('client rotate-api-key: a new key shown once, the calling key revoked at once', async () => {
    const client = await createClient(t, planId);
    const res = await t.call('client', 'rotate-api-key', { key: client.key, body: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    const fresh = res.body.data.api_key as string;
    assert.match(fresh, /^ll_/);
    assert.notEqual(fresh, client.key);
    assert.equal(res.body.data.key.prefix, fresh.slice(0, 10));
    assert.equal(res.body.data.previous_key.prefix, client.key.slice(0, 10));
    assert.equal(res.body.data.previous_key.active, false);
    assert.equal(res.body.data.previous_key.grace_seconds, 0);

    assert.equal(await meStatus(client.key), 401);
    assert.equal(await meStatus(fresh), 200);
    const listed = (await listKeys(client.login)).body.api_keys;
    assert.deepEqual(listed.map((k: { active: boolean }) => k.active), [false, true]);
    assert.equal(listed[1].label, `rotated from ${client.key.slice(0, 10)}`);
    // The revoked key cannot rotate again.
    assert.equal((await t.call('client', 'rotate-api-key', { key: client.key, body: {} })).status, 401);
  });

  it('rotate-api-key with grace_seconds: the old key works until then; a retry replays the same new key', async () => {
    const client = await createClient(t, planId);
    const idem = { 'Idempotency-Key': `rotate-${crypto.randomBytes(4).toString('hex')}` };
    const res = await t.call('client', 'rotate-api-key', { key: client.key, body: { grace_seconds: 4 }, headers: idem });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.previous_key.active, true);
    assert.equal(res.body.data.previous_key.grace_seconds, 4);
    assert.equal(await meStatus(client.key), 200, 'the old key works during the grace period');
    const retry = await t.call('client', 'rotate-api-key', { key: client.key, body: { grace_seconds: 4 }, headers: idem });
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(retry.body.data.api_key, res.body.data.api_key, 'a retry after a lost answer gets the same new key');
    // The operator's view agrees while the old key still works: not revoked yet.
    const account = async () => (await t.call('admin', 'account', { query: { login: client.login } })).body.api_keys.map((k: { revoked: boolean }) => k.revoked);
    assert.deepEqual(await account(), [false, false]);

    await waitFor('the grace period to end', async () => (await meStatus(client.key)) === 401, 10_000);
    assert.equal(await meStatus(res.body.data.api_key), 200);
    assert.deepEqual(await account(), [true, false]);
  });

  it('grace_seconds is checked; an inactive client cannot rotate', async () => {
    const client = await createClient(t, planId);
    for (const grace of [-1, 86_401, 'soon']) {
      const res = await t.call('client', 'rotate-api-key', { key: client.key, body: { grace_seconds: grace } });
      assert.equal(res.status, 400, `grace_seconds ${grace}`);
      assert.equal(res.body.field, 'grace_seconds');
    }
    await t.admin('set-account-status', { login: client.login, active: false });
    const inactive = await t.call('client', 'rotate-api-key', { key: client.key, body: {} });
    assert.equal(inactive.status, 403);
    assert.equal(inactive.body.code, 'ACCOUNT_INACTIVE');
    assert.equal(await meStatus(client.key), 200);
  });

  it('reseller rotate-api-key: the reseller replaces its own key', async () => {
    const r = await t.admin('create-reseller', { plan_id: planId });
    const res = await t.call('reseller', 'rotate-api-key', { key: r.api_key, body: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    assert.equal(res.body.key.role, 'reseller');
    assert.equal((await t.call('reseller', 'me', { key: r.api_key })).status, 401);
    const me = await t.call('reseller', 'me', { key: res.body.api_key });
    assert.equal(me.status, 200);
    assert.equal(me.body.reseller.username ?? me.body.reseller.login, r.reseller.login);
    // A client key cannot use the reseller endpoint, nor the reverse.
    const client = await createClient(t, planId);
    assert.equal((await t.call('reseller', 'rotate-api-key', { key: client.key, body: {} })).status, 403);
    assert.equal((await t.call('client', 'rotate-api-key', { key: res.body.api_key, body: {} })).status, 403);
  });

  it('last_used_at is recorded shortly after use, at most once a minute per key', async () => {
    const client = await createClient(t, planId);
    const lastUsed = async () => (await listKeys(client.login)).body.api_keys[0].last_used_at as string | null;
    assert.equal(await lastUsed(), null);
    assert.equal(await meStatus(client.key), 200);
    await waitFor('last_used_at to be recorded', async () => (await lastUsed()) !== null, 5_000);
    const recorded = await lastUsed();
    await sleep(1_100);
    for (let i = 0; i < 5; i++) assert.equal(await meStatus(client.key), 200);
    await sleep(1_500);
    assert.equal(await lastUsed(), recorded, 'uses within the minute are not written again');
  });

  it('an operator-chosen ADMIN_API_KEY keeps no more than 4 characters in clear', async () => {
    const rows = await t.server.ctx.db.selectFrom('api_keys').selectAll().where('label', '=', 'ADMIN_API_KEY').execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].key_prefix, t.adminKey.slice(0, 4));
    const secretPart = t.adminKey.slice(4);
    for (const table of ['api_keys', 'settings', 'audit_log', 'idempotency_keys'] as const) {
      const text = JSON.stringify(await t.server.ctx.db.selectFrom(table).selectAll().execute());
      for (let i = 0; i + 6 <= secretPart.length; i++) {
        assert.ok(!text.includes(secretPart.slice(i, i + 6)), `${table} holds part of the admin key beyond its prefix`);
      }
    }
  });

  it('CLI: ledgerline api-keys LOGIN and ledgerline revoke-api-key ID', async () => {
    const client = await createClient(t, planId);
    const listed = await runCli(t, ['api-keys', client.login]);
    assert.equal(listed.code, 0, listed.stderr);
    const body = JSON.parse(listed.stdout);
    assert.equal(body.api_keys.length, 1);
    assert.ok(!listed.stdout.includes(client.key));
    const revoked = await runCli(t, ['revoke-api-key', String(body.api_keys[0].id)]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(JSON.parse(revoked.stdout).api_key.active, false);
    assert.equal(await meStatus(client.key), 401);
    const unknown = await runCli(t, ['revoke-api-key', '99999999']);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /NOT_FOUND/);
    const usage = await runCli(t, ['api-keys', client.login, 'extra']);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /unexpected argument "extra"/);
  });

  it('CLI: a wrong command line is told without a database (none answers here)', async () => {
    const usage = await runCli(t, ['api-keys', 'alice', 'extra'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' } });
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /unexpected argument "extra"/);
  });
});

describe('API keys: revocation on every instance', () => {
  const servers = twoInstances();

  it('a key revoked through one instance answers 401 at once on another that just served it', async () => {
    const { a, b } = servers;
    const planId = (await createPlan(a)).id;
    const client = await createClient(a, planId);
    const spare = (await a.admin('create-api-key', { login: client.login })).api_key as string;
    // Instance B serves (and may cache) the key first.
    for (let i = 0; i < 3; i++) assert.equal((await b.call('client', 'me', { key: client.key })).status, 200);
    const [first] = (await a.call('admin', 'api-keys', { query: { login: client.login } })).body.api_keys;
    assert.equal((await a.call('admin', 'revoke-api-key', { body: { id: first.id } })).status, 200);
    assert.equal((await b.call('client', 'me', { key: client.key })).status, 401);
    assert.equal((await a.call('client', 'me', { key: client.key })).status, 401);
    assert.equal((await b.call('client', 'me', { key: spare })).status, 200);

    // A rotation through B is seen by A at once.
    const rotated = await b.call('client', 'rotate-api-key', { key: spare, body: {} });
    assert.equal(rotated.status, 200);
    assert.equal((await a.call('client', 'me', { key: spare })).status, 401);
    assert.equal((await a.call('client', 'me', { key: rotated.body.data.api_key })).status, 200);
  });
});
