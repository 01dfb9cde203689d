import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const md5 = (text: string) => crypto.createHash('md5').update(text).digest('hex');

describe('client api: SIP accounts and their switch projection', () => {
  let t: TestServer;
  let plan: { id: number; name: string };
  let seq = 0;

  /** A fresh client with a login of the documented form (8 digits + `01`). */
  async function freshClient(login?: string): Promise<TestClient> {
    seq += 1;
    const stem = String(20_000_000 + seq * 1_000 + crypto.randomInt(1_000));
    return createClient(t, plan.id, { login: login ?? `${stem}01` });
  }

  /** Every switch-table row that belongs to one SIP name. */
  async function switchRows(name: string) {
    const db = t.server.ctx.db;
    return {
      ps_endpoints: await db.selectFrom('ps_endpoints').selectAll().where('id', '=', name).execute(),
      ps_auths: await db.selectFrom('ps_auths').selectAll().where('id', '=', name).execute(),
      ps_aors: await db.selectFrom('ps_aors').selectAll().where('id', '=', name).execute(),
      ps_endpoint_id_ips: await db.selectFrom('ps_endpoint_id_ips').selectAll().where('id', '=', name).execute(),
      subscriber: await db.selectFrom('subscriber').selectAll().where('username', '=', name).execute(),
      address: await db.selectFrom('address').selectAll().where('tag', '=', name).execute(),
    };
  }

  /** A digest SIP account is projected with only digests of `password`, never the clear text. */
  async function assertDigestProjection(name: string, accountLogin: string, password: string) {
    const realm = t.config.sipDomain;
    const rows = await switchRows(name);
    assert.equal(rows.ps_endpoints.length, 1, `ps_endpoints row for ${name}`);
    const ep = rows.ps_endpoints[0];
    assert.equal(ep.auth, name);
    assert.equal(ep.aors, name);
    assert.equal(ep.identify_by, 'username');
    assert.equal(ep.accountcode, accountLogin);
    assert.equal(ep.from_domain, realm);

    assert.equal(rows.ps_auths.length, 1, `ps_auths row for ${name}`);
    const auth = rows.ps_auths[0];
    assert.equal(auth.auth_type, 'md5');
    assert.equal(auth.username, name);
    assert.equal(auth.realm, realm);
    assert.equal(auth.md5_cred, md5(`${name}:${realm}:${password}`));
    assert.ok(auth.password === null || auth.password === '', 'no clear password in ps_auths');

    assert.equal(rows.ps_aors.length, 1, `ps_aors row for ${name}`);
    assert.equal(rows.ps_endpoint_id_ips.length, 0, 'a digest account is not identified by IP');
    assert.equal(rows.address.length, 0, 'a digest account has no Kamailio address row');

    assert.equal(rows.subscriber.length, 1, `subscriber row for ${name}`);
    const sub = rows.subscriber[0];
    assert.equal(sub.domain, realm);
    assert.equal(sub.ha1, md5(`${name}:${realm}:${password}`));
    assert.equal(sub.ha1b, md5(`${name}@${realm}:${realm}:${password}`));
    assert.equal(sub.password, '', 'no clear password in subscriber');

    // The clear password appears nowhere in the switch tables.
    for (const [table, list] of Object.entries(rows)) {
      assert.ok(!JSON.stringify(list).includes(password), `clear password leaked into ${table}`);
    }
  }

  async function assertNoSwitchRows(name: string) {
    assert.deepEqual(await switchRows(name), {
      ps_endpoints: [], ps_auths: [], ps_aors: [], ps_endpoint_id_ips: [], subscriber: [], address: [],
    });
  }

  async function sipList(c: TestClient, query: Record<string, string | number> = {}) {
    const res = await t.call('client', 'sip', { key: c.key, query });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.ok(Array.isArray(res.body.data));
    return res.body.data as Array<Record<string, any>>;
  }

  async function createSip(c: TestClient, body: Record<string, unknown> = {}) {
    const res = await t.call('client', 'create-sip', { key: c.key, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as { name: string; password: string } & Record<string, unknown>;
  }

  function assertFieldError(res: { status: number; body: any }, field: string, label = '') {
    assert.equal(res.status, 400, `${label} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.field, field, `${label} ${JSON.stringify(res.body)}`);
    assert.match(res.body.error, new RegExp(field));
    assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
  }

  async function deactivate(c: TestClient) {
    const body = await t.admin('set-account-status', { login: c.login, active: false });
    assert.equal(body.active, 0);
  }

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t, 'STANDARD-PLAN');
  });
  after(async () => t.close());

  it('sip lists the main SIP account with the password it was created with', async () => {
    const c = await freshClient();
    const list = await sipList(c);
    assert.equal(list.length, 1);
    const main = list[0];
    assert.equal(main.name, c.login);
    assert.equal(c.sip.name, c.login, 'the main SIP account is named after the login');
    assert.equal(main.username, c.login);
    assert.equal(main.password, c.sip.password);
    assert.equal(main.type, 'main');
    assert.equal(main.host, t.config.sipDomain);
    assert.equal(main.active, 1);
    assert.equal(main.callerid, null);
    await assertDigestProjection(c.login, c.login, c.sip.password);
  });

  it('create-sip without a password generates a strong one; the name follows the main login', async () => {
    const c = await freshClient('1234567801');
    const res = await t.call('client', 'create-sip', { key: c.key, body: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'SIP account created');
    const created = res.body.data;
    assert.equal(created.name, '1234567802');
    assert.equal(created.username, '1234567802');
    assert.equal(typeof created.password, 'string');
    assert.ok(created.password.length >= 8, 'generated password is at least 8 characters');
    assert.match(created.password, /[A-Za-z]/);
    assert.match(created.password, /\d/);
    assert.equal(created.type, 'additional');
    assert.equal(created.host, t.config.sipDomain);
    assert.equal(created.active, 1);

    const list = await sipList(c);
    assert.deepEqual(list.map((s) => s.name), ['1234567801', '1234567802']);
    assert.equal(list[1].password, created.password, 'sip lists the password that was generated');
    assert.equal(list[1].type, 'additional');
    await assertDigestProjection('1234567802', '1234567801', created.password);

    const third = await createSip(c);
    assert.equal(third.name, '1234567803');
    assert.notEqual(third.password, created.password, 'generated passwords are random');
    await assertDigestProjection('1234567803', '1234567801', third.password);
  });

  it('generated names skip taken ones and reuse a freed one', async () => {
    const c = await freshClient();
    const stem = c.login.slice(0, -2);
    const a = await createSip(c);
    const b = await createSip(c);
    assert.deepEqual([a.name, b.name], [`${stem}02`, `${stem}03`]);
    const del = await t.call('client', 'delete-sip', { key: c.key, body: { name: a.name } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const again = await createSip(c);
    assert.equal(again.name, `${stem}02`);
    const next = await createSip(c);
    assert.equal(next.name, `${stem}04`);
  });

  it('a call centre: one client may have 200 lines (the bound is 500, not 100)', async () => {
    const c = await freshClient();
    const stem = c.login.slice(0, -2);
    let last = '';
    for (let i = 2; i <= 200; i++) last = (await createSip(c)).name;
    assert.equal(last, `${stem}200`);
    assert.equal((await sipList(c)).length, 200);
  });

  it('create-sip with a caller-chosen password stores and lists exactly that password', async () => {
    const c = await freshClient();
    const created = await createSip(c, { password: 'StrongSipPass123' });
    assert.equal(created.name, `${c.login.slice(0, -2)}02`);
    assert.equal(created.password, 'StrongSipPass123');
    const listed = (await sipList(c)).find((s) => s.name === created.name);
    assert.ok(listed, 'the new account is listed');
    assert.equal(listed.password, 'StrongSipPass123');
    await assertDigestProjection(created.name, c.login, 'StrongSipPass123');
    // Stored encrypted, not in clear.
    const row = await t.server.ctx.db.selectFrom('sip_accounts').selectAll().where('name', '=', created.name).executeTakeFirstOrThrow();
    assert.ok(!String(row.secret_enc).includes('StrongSipPass123'));
  });

  it('create-sip refuses a weak password with 400 naming password, and creates nothing', async () => {
    const c = await freshClient();
    const stem = c.login.slice(0, -2);
    for (const password of ['Short1', 'onlyletterslong', '1234567890123', '', 'has space 123', 12345678, null]) {
      const res = await t.call('client', 'create-sip', { key: c.key, body: { password } });
      assertFieldError(res, 'password', JSON.stringify(password));
    }
    assert.deepEqual((await sipList(c, { include_service: 1 })).map((s) => s.name), [c.login]);
    await assertNoSwitchRows(`${stem}02`);
  });

  it('update-sip-password changes the listed password and the digests', async () => {
    const c = await freshClient();
    const extra = await createSip(c);
    const res = await t.call('client', 'update-sip-password', { key: c.key, body: { name: extra.name, password: 'NewSipPass456' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'SIP password updated');
    assert.equal(res.body.data.name, extra.name);
    const listed = (await sipList(c)).find((s) => s.name === extra.name);
    assert.equal(listed?.password, 'NewSipPass456');
    await assertDigestProjection(extra.name, c.login, 'NewSipPass456');

    // The main account's password can be changed too.
    const main = await t.call('client', 'update-sip-password', { key: c.key, body: { name: c.login, password: 'MainSipPass789' } });
    assert.equal(main.status, 200, JSON.stringify(main.body));
    assert.equal((await sipList(c)).find((s) => s.name === c.login)?.password, 'MainSipPass789');
    await assertDigestProjection(c.login, c.login, 'MainSipPass789');
    // The other account kept its own.
    await assertDigestProjection(extra.name, c.login, 'NewSipPass456');
  });

  it('update-sip-password refuses a weak password with 400 naming password; nothing changes', async () => {
    const c = await freshClient();
    const extra = await createSip(c, { password: 'FirstSipPass1' });
    const before = await switchRows(extra.name);
    for (const password of ['abc1', 'alllettersonly', '99999999999', 'with space 1a', undefined]) {
      const res = await t.call('client', 'update-sip-password', { key: c.key, body: { name: extra.name, password } });
      assertFieldError(res, 'password', JSON.stringify(password));
    }
    assert.deepEqual(await switchRows(extra.name), before);
    assert.equal((await sipList(c)).find((s) => s.name === extra.name)?.password, 'FirstSipPass1');
  });

  it('update-sip-password requires a name and answers 404 for unknown ones', async () => {
    const c = await freshClient();
    assertFieldError(await t.call('client', 'update-sip-password', { key: c.key, body: { password: 'NewSipPass456' } }), 'name');
    const unknown = await t.call('client', 'update-sip-password', { key: c.key, body: { name: 'no-such-sip', password: 'NewSipPass456' } });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.equal(unknown.body.code, 'NOT_FOUND');
  });

  it("update-sip-password on another client's SIP login answers 404 and changes nothing", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const bobExtra = await createSip(bob, { password: 'BobSipPass123' });
    const bobBefore = { main: await switchRows(bob.login), extra: await switchRows(bobExtra.name), list: await sipList(bob) };
    for (const name of [bob.login, bobExtra.name]) {
      const res = await t.call('client', 'update-sip-password', { key: alice.key, body: { name, password: 'Hijacked12345' } });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assert.deepEqual({ main: await switchRows(bob.login), extra: await switchRows(bobExtra.name), list: await sipList(bob) }, bobBefore);
    await assertDigestProjection(bob.login, bob.login, bob.sip.password);
    await assertDigestProjection(bobExtra.name, bob.login, 'BobSipPass123');
  });

  it('update-sip-password does not reach IP-auth service peers', async () => {
    const c = await freshClient();
    const ip = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip: '198.51.100.61' } });
    assert.equal(ip.status, 200, JSON.stringify(ip.body));
    const peer = ip.body.data.peer_name;
    assert.equal(peer, `${c.login}_ipa1`);
    const before = await switchRows(peer);
    const res = await t.call('client', 'update-sip-password', { key: c.key, body: { name: peer, password: 'PeerSipPass123' } });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.deepEqual(await switchRows(peer), before);
    assert.equal(before.ps_auths.length, 0);
    assert.equal(before.subscriber.length, 0);
  });

  it('delete-sip removes the account and all its switch rows', async () => {
    const c = await freshClient();
    const extra = await createSip(c);
    await assertDigestProjection(extra.name, c.login, extra.password);
    const res = await t.call('client', 'delete-sip', { key: c.key, body: { name: extra.name } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'SIP account deleted');
    assert.equal(res.body.data.name, extra.name);
    assert.deepEqual((await sipList(c)).map((s) => s.name), [c.login]);
    await assertNoSwitchRows(extra.name);
    // The main account is untouched.
    await assertDigestProjection(c.login, c.login, c.sip.password);

    const again = await t.call('client', 'delete-sip', { key: c.key, body: { name: extra.name } });
    assert.equal(again.status, 404, JSON.stringify(again.body));
    assert.equal(again.body.code, 'NOT_FOUND');
    assertFieldError(await t.call('client', 'delete-sip', { key: c.key, body: {} }), 'name');
  });

  it('delete-sip of an account also removes its IP-auth peers', async () => {
    const c = await freshClient();
    const extra = await createSip(c);
    const ip = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: extra.name, ip: '198.51.100.62', port: 5070 } });
    assert.equal(ip.status, 200, JSON.stringify(ip.body));
    const peer = ip.body.data.peer_name;
    assert.equal(peer, `${extra.name}_ipa1`);
    assert.equal((await switchRows(peer)).ps_endpoints.length, 1);

    const res = await t.call('client', 'delete-sip', { key: c.key, body: { name: extra.name } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await assertNoSwitchRows(extra.name);
    await assertNoSwitchRows(peer);
    const list = await t.call('client', 'ip-auth-list', { key: c.key });
    assert.deepEqual(list.body.data.ip_auth, []);
    assert.deepEqual((await sipList(c, { include_service: 1 })).map((s) => s.name), [c.login]);
    // The address is free again.
    const reuse = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip: '198.51.100.62', port: 5070 } });
    assert.equal(reuse.status, 200, JSON.stringify(reuse.body));
  });

  it('delete-sip refuses the main account with 403 MAIN_SIP_ACCOUNT', async () => {
    const c = await freshClient();
    const before = await switchRows(c.login);
    const res = await t.call('client', 'delete-sip', { key: c.key, body: { name: c.login } });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'MAIN_SIP_ACCOUNT');
    assert.deepEqual((await sipList(c)).map((s) => s.name), [c.login]);
    assert.deepEqual(await switchRows(c.login), before);
    await assertDigestProjection(c.login, c.login, c.sip.password);
  });

  it("delete-sip of another client's SIP account answers 404 and it stays", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const bobExtra = await createSip(bob);
    for (const name of [bobExtra.name, bob.login]) {
      const res = await t.call('client', 'delete-sip', { key: alice.key, body: { name } });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assert.deepEqual((await sipList(bob)).map((s) => s.name), [bob.login, bobExtra.name]);
    await assertDigestProjection(bobExtra.name, bob.login, bobExtra.password);
    await assertDigestProjection(bob.login, bob.login, bob.sip.password);
  });

  it("sip lists only the caller's own accounts", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const aliceExtra = await createSip(alice);
    await createSip(bob);
    const list = await sipList(alice);
    assert.deepEqual(list.map((s) => s.name), [alice.login, aliceExtra.name]);
    assert.ok(!JSON.stringify(list).includes(bob.login));
  });

  it('an inactive client can list its SIP accounts but every SIP write answers 403 ACCOUNT_INACTIVE', async () => {
    const c = await freshClient();
    const extra = await createSip(c, { password: 'KeepSipPass123' });
    await deactivate(c);
    const snapshot = async () => ({
      list: await sipList(c, { include_service: 1 }),
      main: await switchRows(c.login),
      extra: await switchRows(extra.name),
      next: await switchRows(`${c.login.slice(0, -2)}03`),
    });
    const before = await snapshot();
    assert.deepEqual(before.list.map((s) => s.name), [c.login, extra.name]);
    assert.equal(before.list[1].password, 'KeepSipPass123');
    const writes: Array<[string, Record<string, unknown>]> = [
      ['create-sip', {}],
      ['create-sip', { password: 'StrongSipPass123' }],
      ['update-sip-password', { name: extra.name, password: 'NewSipPass456' }],
      ['update-sip-password', { name: c.login, password: 'NewSipPass456' }],
      ['delete-sip', { name: extra.name }],
    ];
    for (const [endpoint, body] of writes) {
      const res = await t.call('client', endpoint, { key: c.key, body });
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE', endpoint);
    }
    assert.deepEqual(await snapshot(), before);
  });

  it('sip is a read and create-sip a POST (a GET creates nothing)', async () => {
    const c = await freshClient();
    const post = await t.call('client', 'sip', { key: c.key, body: {} });
    assert.equal(post.status, 200);
    const get = await t.call('client', 'create-sip', { key: c.key, method: 'GET' });
    assert.equal(get.status, 405);
    assert.deepEqual((await sipList(c)).map((s) => s.name), [c.login]);
  });
});
