import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, isPostgres, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

/**
 * POSTs change-password from a chosen loopback source address (127.0.0.0/8 all reach the
 * server), so per-address limits of one case do not leak into another.
 */
function changePasswordFrom(t: TestServer, localAddress: string, key: string, body: unknown): Promise<{ status: number; body: any }> {
  const url = new URL(`${t.url}/client-api/index.php?endpoint=change-password`);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', localAddress,
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('client api: change-password', () => {
  let t: TestServer;
  let planId: number;

  const storedHash = async (c: TestClient) => (await t.server.ctx.db.selectFrom('accounts').select('password_hash')
    .where('id', '=', c.id).executeTakeFirstOrThrow()).password_hash;

  before(async () => {
    t = await startTestServer();
    planId = (await createPlan(t, 'STANDARD-PLAN')).id;
  });
  after(async () => t.close());

  it('changes the password; the old one is no longer accepted', async () => {
    const alice = await createClient(t, planId, { password: 'OldPassword123' });
    const res = await changePasswordFrom(t, '127.0.0.11', alice.key, { current_password: 'OldPassword123', new_password: 'NewPassword987' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(typeof res.body.message, 'string');

    const hash = await storedHash(alice);
    assert.match(hash ?? '', /^scrypt\$/);
    assert.ok(!hash?.includes('NewPassword987'));

    const stale = await changePasswordFrom(t, '127.0.0.11', alice.key, { current_password: 'OldPassword123', new_password: 'Another12345' });
    assert.equal(stale.status, 403, JSON.stringify(stale.body));
    assert.equal(stale.body.success, false);
    assert.equal(stale.body.code, 'INVALID_PASSWORD');
    assert.equal(await storedHash(alice), hash, 'a refused change changes nothing');

    const next = await changePasswordFrom(t, '127.0.0.11', alice.key, { current_password: 'NewPassword987', new_password: 'Third4567pass' });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.notEqual(await storedHash(alice), hash);
  });

  it('a weak new password answers 400 naming new_password', async () => {
    const c = await createClient(t, planId, { password: 'Current12345' });
    const before = await storedHash(c);
    for (const new_password of ['short1', 'lettersonly', '12345678', '', 'with space 123', 12345678, null, 'x1'.repeat(70)]) {
      const res = await changePasswordFrom(t, '127.0.0.12', c.key, { current_password: 'Current12345', new_password });
      assert.equal(res.status, 400, `${JSON.stringify(new_password)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.field, 'new_password');
    }
    const missing = await changePasswordFrom(t, '127.0.0.12', c.key, { current_password: 'Current12345' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'new_password');
    assert.equal(await storedHash(c), before);
  });

  it('a missing current password answers 400 naming current_password', async () => {
    const c = await createClient(t, planId, { password: 'Current12345' });
    const before = await storedHash(c);
    for (const body of [{ new_password: 'NewPassword987' }, { current_password: '', new_password: 'NewPassword987' },
      { current_password: null, new_password: 'NewPassword987' }, { current_password: 12345678, new_password: 'NewPassword987' }]) {
      const res = await changePasswordFrom(t, '127.0.0.13', c.key, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, 'current_password');
    }
    assert.equal(await storedHash(c), before);
    // Validation errors are not failed password checks: the right password still works.
    const ok = await changePasswordFrom(t, '127.0.0.13', c.key, { current_password: 'Current12345', new_password: 'NewPassword987' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('after 5 wrong attempts the login is rate-limited (429), even with the right password', async () => {
    const bob = await createClient(t, planId, { password: 'BobPassword123' });
    const before = await storedHash(bob);
    for (let i = 0; i < 5; i++) {
      const res = await changePasswordFrom(t, '127.0.0.21', bob.key, { current_password: `Guess${i}word99`, new_password: 'Taken12345' });
      assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'INVALID_PASSWORD');
    }
    const right = await changePasswordFrom(t, '127.0.0.21', bob.key, { current_password: 'BobPassword123', new_password: 'Taken12345' });
    assert.equal(right.status, 429, JSON.stringify(right.body));
    assert.equal(right.body.success, false);
    assert.equal(right.body.code, 'RATE_LIMITED');
    // Per login: another address does not help.
    const elsewhere = await changePasswordFrom(t, '127.0.0.22', bob.key, { current_password: 'BobPassword123', new_password: 'Taken12345' });
    assert.equal(elsewhere.status, 429);
    assert.equal(await storedHash(bob), before, 'the password was not changed');
    // Reads keep working for the limited account.
    const me = await t.call('client', 'me', { key: bob.key });
    assert.equal(me.status, 200);
  });

  it('failed checks are limited per address too', async () => {
    const carol = await createClient(t, planId, { password: 'CarolPass123' });
    const dave = await createClient(t, planId, { password: 'DavePass1234' });
    // Wrong guesses against carol from one address...
    for (let i = 0; i < 5; i++) {
      const res = await changePasswordFrom(t, '127.0.0.31', carol.key, { current_password: `Nope${i}nope99`, new_password: 'Fresh12345' });
      assert.equal(res.status, 403);
    }
    // ...block that address for other logins as well, but not other addresses.
    const fromSame = await changePasswordFrom(t, '127.0.0.31', dave.key, { current_password: 'DavePass1234', new_password: 'Fresh12345' });
    assert.equal(fromSame.status, 429, JSON.stringify(fromSame.body));
    const fromOther = await changePasswordFrom(t, '127.0.0.32', dave.key, { current_password: 'DavePass1234', new_password: 'Fresh12345' });
    assert.equal(fromOther.status, 200, JSON.stringify(fromOther.body));
  });

  it('concurrent wrong attempts cannot outrun the limit', async () => {
    const erin = await createClient(t, planId, { password: 'ErinPass1234' });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      changePasswordFrom(t, '127.0.0.41', erin.key, { current_password: `Burst${i}guess9`, new_password: 'Fresh12345' })));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 403 || s === 429), statuses.join(','));
    assert.ok(statuses.filter((s) => s === 403).length <= 5, `at most 5 passwords may be tried: ${statuses.join(',')}`);
    const right = await changePasswordFrom(t, '127.0.0.42', erin.key, { current_password: 'ErinPass1234', new_password: 'Fresh12345' });
    assert.equal(right.status, 429);
  });

  it('change-password answers only POST', async () => {
    const c = await createClient(t, planId);
    const res = await t.call('client', 'change-password', { key: c.key, query: { current_password: c.password, new_password: 'NewPassword987' } });
    assert.equal(res.status, 405);
  });
});

describe('client api: password limits across instances', () => {
  // Several instances may share a PostgreSQL database; an SQLite database has one server process.
  const skip = isPostgres() ? false : 'SQLite is served by one process';
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    if (skip) return;
    a = await startTestServer();
    b = await startTestServer({}, { shareWith: a });
  });
  after(async () => {
    if (skip) return;
    await b.close();
    await a.close();
  });

  it('instances sharing the database share the count of failed attempts', { skip }, async () => {
    const plan = await createPlan(a);
    const frank = await createClient(a, plan.id, { password: 'FrankPass123' });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await changePasswordFrom(i % 2 ? b : a, '127.0.0.51', frank.key, { current_password: `Wrong${i}guess9`, new_password: 'Fresh12345' });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [403, 403, 403, 403, 403, 429, 429, 429]);
    // Concurrent guesses through both instances for another login: still at most five tried.
    const gina = await createClient(a, plan.id, { password: 'GinaPass1234' });
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      changePasswordFrom(i % 2 ? b : a, '127.0.0.52', gina.key, { current_password: `Burst${i}guess9`, new_password: 'Fresh12345' })));
    assert.equal(burst.filter((r) => r.status === 403).length, 5, burst.map((r) => r.status).join(','));
    const right = await changePasswordFrom(a, '127.0.0.53', gina.key, { current_password: 'GinaPass1234', new_password: 'Fresh12345' });
    assert.equal(right.status, 429, 'the login is limited on every instance');
  });
});
