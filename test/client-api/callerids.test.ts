import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('client api: caller IDs and their switch projection', () => {
  let t: TestServer;
  let plan: { id: number; name: string };
  let seq = 0;
  let ipSeq = 0;

  async function freshClient(): Promise<TestClient> {
    seq += 1;
    const stem = String(40_000_000 + seq * 1_000 + crypto.randomInt(1_000));
    return createClient(t, plan.id, { login: `${stem}01` });
  }

  const freshIp = () => `203.0.113.${++ipSeq}`;

  async function callerIds(c: TestClient) {
    const res = await t.call('client', 'callerids', { key: c.key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.ok(Array.isArray(res.body.data));
    return res.body.data as Array<{ id: number; cid: string; name: string | null; active: number }>;
  }

  /** cid and active of each caller ID, in creation order. */
  const summary = async (c: TestClient) => (await callerIds(c)).map((r) => [r.cid, r.active]);

  async function add(c: TestClient, body: Record<string, unknown>) {
    const res = await t.call('client', 'add-callerid', { key: c.key, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as { id: number; cid: string; name: string | null; active: number };
  }

  /** The callerid column of every switch endpoint of the client, by endpoint id. */
  async function projected(c: TestClient): Promise<Record<string, string | null>> {
    const rows = await t.server.ctx.db.selectFrom('ps_endpoints').select(['id', 'callerid'])
      .where('accountcode', '=', c.login).orderBy('id').execute();
    return Object.fromEntries(rows.map((r) => [r.id, r.callerid]));
  }

  /** The caller ID the `sip` list shows on each account. */
  async function sipCallerIds(c: TestClient) {
    const res = await t.call('client', 'sip', { key: c.key });
    assert.equal(res.status, 200);
    return (res.body.data as Array<{ name: string; callerid: string | null }>).map((s) => [s.name, s.callerid]);
  }

  function assertFieldError(res: { status: number; body: any }, field: string, label = '') {
    assert.equal(res.status, 400, `${label} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.field, field, `${label} ${JSON.stringify(res.body)}`);
    assert.match(res.body.error, new RegExp(field));
  }

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t, 'STANDARD-PLAN');
  });
  after(async () => t.close());

  it('callerids starts empty; add-callerid normalizes to E.164', async () => {
    const c = await freshClient();
    assert.deepEqual(await callerIds(c), []);
    const res = await t.call('client', 'add-callerid', { key: c.key, body: { cid: '00 44 7575-396991', name: 'UK mobile' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'Caller ID added');
    const data = res.body.data;
    assert.equal(typeof data.id, 'number');
    assert.equal(data.cid, '+447575396991');
    assert.equal(data.name, 'UK mobile');
    assert.equal(data.active, 0, 'not active unless set_active');

    const list = await callerIds(c);
    assert.equal(list.length, 1);
    assert.deepEqual({ id: list[0].id, cid: list[0].cid, name: list[0].name, active: list[0].active },
      { id: data.id, cid: '+447575396991', name: 'UK mobile', active: 0 });
    assert.deepEqual(await projected(c), { [c.login]: null }, 'an inactive caller ID is not presented');

    for (const [input, expected] of [['+1 (234) 567-890', '+1234567890'], ['0049.151.1234.5678', '+4915112345678']]) {
      assert.equal((await add(c, { cid: input })).cid, expected, input);
    }
  });

  it('add-callerid refuses an invalid number with 400 naming cid and adds nothing', async () => {
    const c = await freshClient();
    for (const cid of ['', '12345', 'abc', '+0123456789', '+1234567', '+1234567890123456', '1234567890', '+12345abc890', '++1234567890', 1234567890, null]) {
      const res = await t.call('client', 'add-callerid', { key: c.key, body: { cid } });
      assertFieldError(res, 'cid', JSON.stringify(cid));
    }
    assertFieldError(await t.call('client', 'add-callerid', { key: c.key, body: {} }), 'cid', 'missing');
    assertFieldError(await t.call('client', 'add-callerid', { key: c.key, body: { cid: '+1234567890', name: 'x'.repeat(101) } }), 'name');
    assert.deepEqual(await callerIds(c), []);
  });

  it('a duplicate caller ID answers 409, also in another spelling; another client may use the same number', async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    await add(alice, { cid: '+447575396991', name: 'First' });
    for (const cid of ['+447575396991', '0044 7575 396991', '+44-7575-396991']) {
      const res = await t.call('client', 'add-callerid', { key: alice.key, body: { cid, set_active: true } });
      assert.equal(res.status, 409, `${cid}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
    }
    assert.deepEqual(await summary(alice), [['+447575396991', 0]], 'the repeat neither adds nor activates');
    assert.deepEqual(await projected(alice), { [alice.login]: null });
    const other = await add(bob, { cid: '+447575396991' });
    assert.equal(other.cid, '+447575396991');
  });

  it('add-callerid with set_active presents it on every endpoint of the client, and only there', async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const extra = await t.call('client', 'create-sip', { key: alice.key, body: {} });
    assert.equal(extra.status, 200);
    const extraName = extra.body.data.name;
    const ip = await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login: alice.login, ip: freshIp() } });
    assert.equal(ip.status, 200, JSON.stringify(ip.body));
    const peer = ip.body.data.peer_name;

    const added = await add(alice, { cid: '+1234567890', name: 'Main Caller ID', set_active: true });
    assert.equal(added.active, 1);
    assert.deepEqual(await summary(alice), [['+1234567890', 1]]);
    assert.deepEqual(await projected(alice), { [alice.login]: '+1234567890', [extraName]: '+1234567890', [peer]: '+1234567890' });
    assert.deepEqual(await sipCallerIds(alice), [[alice.login, '+1234567890'], [extraName, '+1234567890']]);
    assert.deepEqual(await projected(bob), { [bob.login]: null }, "another client's endpoints are untouched");

    // A second active one replaces the first.
    await add(alice, { cid: '+4915112345678', set_active: true });
    assert.deepEqual(await summary(alice), [['+1234567890', 0], ['+4915112345678', 1]]);
    assert.deepEqual(await projected(alice), { [alice.login]: '+4915112345678', [extraName]: '+4915112345678', [peer]: '+4915112345678' });

    // Accounts created later present the active caller ID from the start.
    const later = await t.call('client', 'create-sip', { key: alice.key, body: {} });
    assert.equal(later.status, 200);
    assert.equal(later.body.data.callerid, '+4915112345678');
    assert.equal((await projected(alice))[later.body.data.name], '+4915112345678');
    const ip2 = await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login: alice.login, ip: freshIp() } });
    assert.equal(ip2.status, 200);
    assert.equal((await projected(alice))[ip2.body.data.peer_name], '+4915112345678');
  });

  it('set-callerid makes an existing caller ID active and projects it', async () => {
    const c = await freshClient();
    const a = await add(c, { cid: '+1234567890', set_active: true });
    const b = await add(c, { cid: '+447575396991', name: 'UK' });
    const res = await t.call('client', 'set-callerid', { key: c.key, body: { cid: '0044 7575 396991' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'Caller ID set as active');
    assert.equal(res.body.data.id, b.id);
    assert.equal(res.body.data.cid, '+447575396991');
    assert.equal(res.body.data.active, 1);
    assert.deepEqual((await callerIds(c)).map((r) => [r.id, r.active]), [[a.id, 0], [b.id, 1]]);
    assert.deepEqual(await projected(c), { [c.login]: '+447575396991' });

    // Setting the active one again keeps it active.
    const again = await t.call('client', 'set-callerid', { key: c.key, body: { cid: '+447575396991' } });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual((await callerIds(c)).map((r) => [r.id, r.active]), [[a.id, 0], [b.id, 1]]);
    assert.deepEqual(await projected(c), { [c.login]: '+447575396991' });
  });

  it("set-callerid answers 404 for a number the client does not have (also another client's) and 400 for an invalid one", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    await add(alice, { cid: '+1234567890', set_active: true });
    await add(bob, { cid: '+15550001111' });
    for (const cid of ['+15550001111', '+19998887777']) {
      const res = await t.call('client', 'set-callerid', { key: alice.key, body: { cid } });
      assert.equal(res.status, 404, `${cid}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    for (const cid of ['nonsense', '', undefined]) {
      assertFieldError(await t.call('client', 'set-callerid', { key: alice.key, body: { cid } }), 'cid', String(cid));
    }
    assert.deepEqual(await summary(alice), [['+1234567890', 1]]);
    assert.deepEqual(await summary(bob), [['+15550001111', 0]]);
    assert.deepEqual(await projected(alice), { [alice.login]: '+1234567890' });
    assert.deepEqual(await projected(bob), { [bob.login]: null });
  });

  it('delete-callerid removes a caller ID; deleting the active one stops presenting it', async () => {
    const c = await freshClient();
    const a = await add(c, { cid: '+1234567890' });
    const b = await add(c, { cid: '+447575396991', set_active: true });
    const res = await t.call('client', 'delete-callerid', { key: c.key, body: { id: a.id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'Caller ID deleted');
    assert.equal(res.body.data.id, a.id);
    assert.equal(res.body.data.cid, '+1234567890');
    assert.deepEqual(await summary(c), [['+447575396991', 1]]);
    assert.deepEqual(await projected(c), { [c.login]: '+447575396991' }, 'deleting an inactive one changes no endpoint');

    const active = await t.call('client', 'delete-callerid', { key: c.key, body: { id: String(b.id) } });
    assert.equal(active.status, 200, JSON.stringify(active.body));
    assert.deepEqual(await callerIds(c), []);
    assert.deepEqual(await projected(c), { [c.login]: null });
    assert.deepEqual(await sipCallerIds(c), [[c.login, null]]);

    const again = await t.call('client', 'delete-callerid', { key: c.key, body: { id: b.id } });
    assert.equal(again.status, 404, JSON.stringify(again.body));
    assert.equal(again.body.code, 'NOT_FOUND');
    // The number can be added again.
    assert.equal((await add(c, { cid: '+447575396991' })).cid, '+447575396991');
  });

  it("delete-callerid of another client's caller ID answers 404 and it stays", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const bobCid = await add(bob, { cid: '+15550002222', name: 'Bob', set_active: true });
    const res = await t.call('client', 'delete-callerid', { key: alice.key, body: { id: bobCid.id } });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'NOT_FOUND');
    assert.deepEqual(await summary(bob), [['+15550002222', 1]]);
    assert.deepEqual(await projected(bob), { [bob.login]: '+15550002222' });
    assert.ok(!JSON.stringify(res.body).includes('+15550002222'), "the error does not reveal another client's number");
  });

  it('delete-callerid refuses a bad id with 400 naming id', async () => {
    const c = await freshClient();
    await add(c, { cid: '+1234567890' });
    for (const body of [{}, { id: null }, { id: 'abc' }, { id: 0 }, { id: -5 }, { id: 2.5 }, { id: true }, { id: '+1234567890' }]) {
      assertFieldError(await t.call('client', 'delete-callerid', { key: c.key, body }), 'id', JSON.stringify(body));
    }
    assert.equal((await callerIds(c)).length, 1);
  });

  it('clear-callerid deactivates the caller ID and clears it from every endpoint', async () => {
    const c = await freshClient();
    const ip = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip: freshIp() } });
    assert.equal(ip.status, 200);
    const peer = ip.body.data.peer_name;
    await add(c, { cid: '+1234567890' });
    await add(c, { cid: '+447575396991', set_active: true });
    assert.deepEqual(await projected(c), { [c.login]: '+447575396991', [peer]: '+447575396991' });

    const res = await t.call('client', 'clear-callerid', { key: c.key, body: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'Active Caller ID cleared');
    assert.equal(res.body.data.cleared, true);
    assert.deepEqual(await summary(c), [['+1234567890', 0], ['+447575396991', 0]], 'the caller IDs stay, none active');
    assert.deepEqual(await projected(c), { [c.login]: null, [peer]: null });
    assert.deepEqual(await sipCallerIds(c), [[c.login, null]]);

    const again = await t.call('client', 'clear-callerid', { key: c.key, body: {} });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.data.cleared, false);

    // A later set-callerid presents it again.
    assert.equal((await t.call('client', 'set-callerid', { key: c.key, body: { cid: '+1234567890' } })).status, 200);
    assert.deepEqual(await projected(c), { [c.login]: '+1234567890', [peer]: '+1234567890' });
  });

  it("clear-callerid leaves other clients' caller IDs alone", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    await add(alice, { cid: '+1234567890', set_active: true });
    await add(bob, { cid: '+1234567890', set_active: true });
    assert.equal((await t.call('client', 'clear-callerid', { key: alice.key, body: {} })).status, 200);
    assert.deepEqual(await projected(alice), { [alice.login]: null });
    assert.deepEqual(await projected(bob), { [bob.login]: '+1234567890' });
    assert.deepEqual(await summary(bob), [['+1234567890', 1]]);
  });

  it('a re-enabled IP peer presents the caller ID active at that time', async () => {
    const c = await freshClient();
    await add(c, { cid: '+1234567890', set_active: true });
    const ip = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip: freshIp() } });
    assert.equal(ip.status, 200);
    const { id, peer_name: peer } = ip.body.data;
    assert.equal((await projected(c))[peer], '+1234567890');
    assert.equal((await t.call('client', 'ip-auth-disable', { key: c.key, body: { id } })).status, 200);
    await add(c, { cid: '+447575396991', set_active: true });
    assert.equal((await t.call('client', 'ip-auth-enable', { key: c.key, body: { id } })).status, 200);
    assert.deepEqual(await projected(c), { [c.login]: '+447575396991', [peer]: '+447575396991' });
  });

  it("callerids lists only the caller's own", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    await add(alice, { cid: '+1234567890' });
    await add(bob, { cid: '+15550003333' });
    assert.deepEqual(await summary(alice), [['+1234567890', 0]]);
    assert.deepEqual(await summary(bob), [['+15550003333', 0]]);
  });

  it('an inactive client can list its caller IDs but every caller-ID write answers 403 ACCOUNT_INACTIVE', async () => {
    const c = await freshClient();
    const first = await add(c, { cid: '+1234567890', name: 'Main', set_active: true });
    await add(c, { cid: '+447575396991' });
    const body = await t.admin('set-account-status', { login: c.login, active: false });
    assert.equal(body.active, 0);
    const snapshot = async () => ({ list: await callerIds(c), endpoints: await projected(c), sip: await sipCallerIds(c) });
    const before = await snapshot();
    assert.equal(before.list.length, 2);
    for (const [endpoint, payload] of [
      ['add-callerid', { cid: '+15550001111', name: 'Other', set_active: true }],
      ['set-callerid', { cid: '+447575396991' }],
      ['delete-callerid', { id: first.id }],
      ['clear-callerid', {}],
    ] as Array<[string, Record<string, unknown>]>) {
      const res = await t.call('client', endpoint, { key: c.key, body: payload });
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE', endpoint);
    }
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual(before.endpoints, { [c.login]: '+1234567890' });
  });

  it('callerids is a read (GET or POST) and the writes are POSTs', async () => {
    const c = await freshClient();
    assert.equal((await t.call('client', 'callerids', { key: c.key, body: {} })).status, 200);
    for (const endpoint of ['add-callerid', 'set-callerid', 'delete-callerid', 'clear-callerid']) {
      assert.equal((await t.call('client', endpoint, { key: c.key, method: 'GET' })).status, 405, endpoint);
    }
  });
});
