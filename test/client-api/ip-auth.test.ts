import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('client api: IP authentication and its switch projection', () => {
  let t: TestServer;
  let plan: { id: number; name: string };
  let seq = 0;
  let ipSeq = 0;

  async function freshClient(login?: string): Promise<TestClient> {
    seq += 1;
    const stem = String(30_000_000 + seq * 1_000 + crypto.randomInt(1_000));
    return createClient(t, plan.id, { login: login ?? `${stem}01` });
  }

  /** A fresh address from the documentation ranges (198.51.100.0/24 and 192.0.2.0/24). */
  function freshIp(): string {
    ipSeq += 1;
    return ipSeq < 250 ? `198.51.100.${ipSeq}` : `192.0.2.${ipSeq - 249}`;
  }

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

  async function assertNoSwitchRows(name: string) {
    assert.deepEqual(await switchRows(name), {
      ps_endpoints: [], ps_auths: [], ps_aors: [], ps_endpoint_id_ips: [], subscriber: [], address: [],
    });
  }

  /** An IP peer: identified by source address, no digest credentials. */
  async function assertPeerProjection(peer: string, accountLogin: string, ip: string, port: number) {
    const rows = await switchRows(peer);
    assert.equal(rows.ps_endpoints.length, 1, `ps_endpoints row for ${peer}`);
    const ep = rows.ps_endpoints[0];
    assert.equal(ep.identify_by, 'ip');
    assert.equal(ep.auth, null);
    assert.equal(ep.aors, peer);
    assert.equal(ep.accountcode, accountLogin);
    assert.equal(rows.ps_aors.length, 1, `ps_aors row for ${peer}`);
    assert.equal(rows.ps_aors[0].contact, `sip:${ip}:${port}`);
    assert.deepEqual(rows.ps_endpoint_id_ips.map((r) => ({ id: r.id, endpoint: r.endpoint, match: r.match })), [
      { id: peer, endpoint: peer, match: ip },
    ]);
    assert.equal(rows.address.length, 1, `address row for ${peer}`);
    assert.equal(rows.address[0].ip_addr, ip);
    assert.equal(Number(rows.address[0].port), port);
    assert.equal(Number(rows.address[0].mask), 32);
    assert.equal(rows.ps_auths.length, 0, 'an IP peer has no digest auth');
    assert.equal(rows.subscriber.length, 0, 'an IP peer is no Kamailio subscriber');
  }

  async function ipAuthList(c: TestClient) {
    const res = await t.call('client', 'ip-auth-list', { key: c.key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    return res.body.data as { sip_accounts: Array<Record<string, any>>; ip_auth: Array<Record<string, any>> };
  }

  async function create(c: TestClient, body: Record<string, unknown>) {
    const res = await t.call('client', 'ip-auth-create', { key: c.key, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as { id: number; sip_login: string; peer_name: string; ip: string; port: number; status: number };
  }

  async function sipNames(c: TestClient, query: Record<string, string | number> = {}) {
    const res = await t.call('client', 'sip', { key: c.key, query });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.data as Array<{ name: string }>).map((s) => s.name);
  }

  function assertFieldError(res: { status: number; body: any }, field: string, label = '') {
    assert.equal(res.status, 400, `${label} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.success, false);
    assert.equal(res.body.field, field, `${label} ${JSON.stringify(res.body)}`);
    assert.match(res.body.error, new RegExp(field));
  }

  async function tableCounts() {
    const db = t.server.ctx.db;
    const count = async (table: 'ip_auth' | 'sip_accounts' | 'ps_endpoints' | 'ps_aors' | 'ps_endpoint_id_ips' | 'address') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      ip_auth: await count('ip_auth'), sip_accounts: await count('sip_accounts'), ps_endpoints: await count('ps_endpoints'),
      ps_aors: await count('ps_aors'), ps_endpoint_id_ips: await count('ps_endpoint_id_ips'), address: await count('address'),
    };
  }

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t, 'STANDARD-PLAN');
  });
  after(async () => t.close());

  it('ip-auth-create answers the documented response and projects the peer', async () => {
    const c = await freshClient('1234567801');
    const res = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: '1234567801', ip: '203.0.113.10' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.message, 'IP authentication created');
    const data = res.body.data;
    assert.equal(typeof data.id, 'number');
    assert.ok(Number.isInteger(data.id) && data.id > 0);
    const documented = Object.fromEntries(['sip_login', 'peer_name', 'ip', 'port', 'status'].map((k) => [k, data[k]]));
    assert.deepEqual(documented, { sip_login: '1234567801', peer_name: '1234567801_ipa1', ip: '203.0.113.10', port: 5060, status: 1 });
    await assertPeerProjection('1234567801_ipa1', '1234567801', '203.0.113.10', 5060);
    // The client's digest account is untouched and still authenticates by username.
    const main = await switchRows('1234567801');
    assert.equal(main.ps_endpoints[0].identify_by, 'username');
    assert.equal(main.ps_auths.length, 1);
  });

  it('ip-auth-list shows the SIP accounts and the active and inactive records', async () => {
    const c = await freshClient();
    const extra = await t.call('client', 'create-sip', { key: c.key, body: {} });
    assert.equal(extra.status, 200);
    const extraName = extra.body.data.name;
    assert.deepEqual(await ipAuthList(c), {
      sip_accounts: [{ name: c.login, type: 'main', active: 1 }, { name: extraName, type: 'additional', active: 1 }],
      ip_auth: [],
    });
    const ip1 = freshIp();
    const ip2 = freshIp();
    const a = await create(c, { sip_login: c.login, ip: ip1 });
    const b = await create(c, { sip_login: extraName, ip: ip2, port: 5080 });
    assert.equal(a.peer_name, `${c.login}_ipa1`);
    assert.equal(b.peer_name, `${extraName}_ipa1`);
    assert.equal(b.port, 5080);
    const off = await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: b.id } });
    assert.equal(off.status, 200, JSON.stringify(off.body));

    const list = await ipAuthList(c);
    assert.deepEqual(list.sip_accounts.map((s) => s.name), [c.login, extraName], 'service peers are not listed as SIP accounts');
    assert.deepEqual(list.ip_auth.map((r) => ({ id: r.id, sip_login: r.sip_login, peer_name: r.peer_name, ip: r.ip, port: r.port, status: r.status })), [
      { id: a.id, sip_login: c.login, peer_name: `${c.login}_ipa1`, ip: ip1, port: 5060, status: 1 },
      { id: b.id, sip_login: extraName, peer_name: `${extraName}_ipa1`, ip: ip2, port: 5080, status: 0 },
    ]);
  });

  it('a second record on the same SIP account is the next _ipaN peer', async () => {
    const c = await freshClient();
    const a = await create(c, { sip_login: c.login, ip: freshIp() });
    const b = await create(c, { sip_login: c.login, ip: freshIp() });
    assert.deepEqual([a.peer_name, b.peer_name], [`${c.login}_ipa1`, `${c.login}_ipa2`]);
  });

  it('ip-auth-create refuses non-public addresses with 400 naming ip', async () => {
    const c = await freshClient();
    const before = await tableCounts();
    for (const ip of [
      '10.0.0.1', '192.168.1.1', '127.0.0.1', '100.64.0.1', '169.254.1.1', '224.0.0.1', '0.0.0.0', '255.255.255.255',
      '172.16.5.4', '240.0.0.1', 'not-an-ip', '', '203.0.113', '203.0.113.10.1', '203.0.113.256', '2001:db8::1', ' 203.0.113.10',
      12345, null,
    ]) {
      const res = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip } });
      assertFieldError(res, 'ip', JSON.stringify(ip));
    }
    const missing = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login } });
    assertFieldError(missing, 'ip', 'missing');
    assert.deepEqual(await tableCounts(), before);
    assert.deepEqual((await ipAuthList(c)).ip_auth, []);
  });

  it('ip-auth-create accepts public addresses, including the documentation ranges', async () => {
    const c = await freshClient();
    // 203.0.113.10 is the documented example's, held by another client (an address belongs to one).
    for (const ip of ['203.0.113.11', '198.51.100.200', '192.0.2.200', '8.8.4.4', '100.128.0.1', '172.32.0.1']) {
      const rec = await create(c, { sip_login: c.login, ip, port: 5062 });
      assert.equal(rec.ip, ip);
      assert.equal(rec.port, 5062);
      assert.equal(rec.status, 1);
      await assertPeerProjection(rec.peer_name, c.login, ip, 5062);
    }
  });

  it('ip-auth-create refuses a bad port with 400 naming port', async () => {
    const c = await freshClient();
    const ip = freshIp();
    const before = await tableCounts();
    for (const port of [0, -1, 65536, 70000, 5060.5, 'abc', '50 60', true, [5060], {}]) {
      const res = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.login, ip, port } });
      assertFieldError(res, 'port', JSON.stringify(port));
    }
    assert.deepEqual(await tableCounts(), before);
    const ok = await create(c, { sip_login: c.login, ip, port: 65535 });
    assert.equal(ok.port, 65535);
    await assertPeerProjection(ok.peer_name, c.login, ip, 65535);
    const asText = await create(c, { sip_login: c.login, ip, port: '5071' });
    assert.equal(asText.port, 5071);
  });

  it('one IP:port belongs to one SIP account, one IP to one client: a repeat answers 409', async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const ip = freshIp();
    const first = await create(alice, { sip_login: alice.login, ip });
    const before = await tableCounts();
    for (const [who, body] of [
      [alice, { sip_login: alice.login, ip }],
      [alice, { sip_login: alice.login, ip, port: 5060 }],
      [bob, { sip_login: bob.login, ip }],
    ] as Array<[TestClient, Record<string, unknown>]>) {
      const res = await t.call('client', 'ip-auth-create', { key: who.key, body });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
    }
    assert.deepEqual(await tableCounts(), before);
    assert.deepEqual((await ipAuthList(bob)).ip_auth, []);

    // A disabled record still holds its address.
    const off = await t.call('client', 'ip-auth-disable', { key: alice.key, body: { id: first.id } });
    assert.equal(off.status, 200);
    const whileDisabled = await t.call('client', 'ip-auth-create', { key: bob.key, body: { sip_login: bob.login, ip } });
    assert.equal(whileDisabled.status, 409, JSON.stringify(whileDisabled.body));

    // An address belongs to one client: another port of it is still alice's (409 IP_TAKEN for
    // bob, without saying whose), while alice may bind it.
    const otherPort = await t.call('client', 'ip-auth-create', { key: bob.key, body: { sip_login: bob.login, ip, port: 5061 } });
    assert.equal(otherPort.status, 409, JSON.stringify(otherPort.body));
    assert.equal(otherPort.body.code, 'IP_TAKEN');
    assert.equal(JSON.stringify(otherPort.body).includes(alice.login), false);
    const ownOtherPort = await create(alice, { sip_login: alice.login, ip, port: 5061 });
    assert.equal(ownOtherPort.port, 5061);
    // Once alice's records are deleted, the address is free.
    for (const id of [first.id, ownOtherPort.id]) {
      const del = await t.call('client', 'ip-auth-delete', { key: alice.key, body: { id } });
      assert.equal(del.status, 200);
    }
    const reuse = await create(bob, { sip_login: bob.login, ip });
    assert.equal(reuse.port, 5060);
  });

  it("ip-auth-create on another client's SIP login answers 404; service peers and unknown names too", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const bobRec = await create(bob, { sip_login: bob.login, ip: freshIp() });
    const before = await tableCounts();
    for (const sip_login of [bob.login, bobRec.peer_name, 'no-such-sip']) {
      const res = await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login, ip: freshIp() } });
      assert.equal(res.status, 404, `${sip_login}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    // A peer cannot be bound to one's own service peer either.
    const aliceRec = await create(alice, { sip_login: alice.login, ip: freshIp() });
    const nested = await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login: aliceRec.peer_name, ip: freshIp() } });
    assert.equal(nested.status, 404, JSON.stringify(nested.body));
    assertFieldError(await t.call('client', 'ip-auth-create', { key: alice.key, body: { ip: freshIp() } }), 'sip_login');
    const after = await tableCounts();
    assert.equal(after.ip_auth, before.ip_auth + 1);
    assert.deepEqual((await ipAuthList(bob)).ip_auth.map((r) => r.id), [bobRec.id]);
  });

  it('disable removes the peer from the switch, enable puts it back, delete removes it and the record', async () => {
    const c = await freshClient();
    const ip = freshIp();
    const rec = await create(c, { sip_login: c.login, ip, port: 5090 });
    const peer = rec.peer_name;
    await assertPeerProjection(peer, c.login, ip, 5090);
    const projected = await switchRows(peer);

    const off = await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: rec.id } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.success, true);
    assert.equal(off.body.message, 'IP authentication disabled');
    assert.equal(off.body.data.id, rec.id);
    assert.equal(off.body.data.status, 0);
    await assertNoSwitchRows(peer);
    assert.equal((await ipAuthList(c)).ip_auth[0].status, 0, 'the record stays, inactive');

    const on = await t.call('client', 'ip-auth-enable', { key: c.key, body: { id: String(rec.id) } });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.message, 'IP authentication enabled');
    assert.equal(on.body.data.status, 1);
    assert.equal(on.body.data.peer_name, peer);
    await assertPeerProjection(peer, c.login, ip, 5090);
    const strip = (rows: Awaited<ReturnType<typeof switchRows>>) => ({ ...rows, address: rows.address.map(({ id: _id, ...r }) => r) });
    assert.deepEqual(strip(await switchRows(peer)), strip(projected), 'enable restores the same projection');
    assert.equal((await ipAuthList(c)).ip_auth[0].status, 1);

    const del = await t.call('client', 'ip-auth-delete', { key: c.key, body: { id: rec.id } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(del.body.message, 'IP authentication deleted');
    assert.equal(del.body.data.id, rec.id);
    await assertNoSwitchRows(peer);
    assert.deepEqual((await ipAuthList(c)).ip_auth, []);
    assert.deepEqual(await sipNames(c, { include_service: 1 }), [c.login], 'the service peer is gone');
    const gone = await t.server.ctx.db.selectFrom('ip_auth').select('id').where('id', '=', rec.id).execute();
    assert.deepEqual(gone, []);

    for (const endpoint of ['ip-auth-enable', 'ip-auth-disable', 'ip-auth-delete']) {
      const res = await t.call('client', endpoint, { key: c.key, body: { id: rec.id } });
      assert.equal(res.status, 404, `${endpoint}: ${JSON.stringify(res.body)}`);
    }
    await assertNoSwitchRows(peer);
  });

  it('deleting a disabled record leaves nothing behind', async () => {
    const c = await freshClient();
    const rec = await create(c, { sip_login: c.login, ip: freshIp() });
    assert.equal((await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: rec.id } })).status, 200);
    const del = await t.call('client', 'ip-auth-delete', { key: c.key, body: { id: rec.id } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    await assertNoSwitchRows(rec.peer_name);
    assert.deepEqual(await sipNames(c, { include_service: 1 }), [c.login]);
  });

  it("disable, enable and delete of another client's record answer 404 and change nothing", async () => {
    const alice = await freshClient();
    const bob = await freshClient();
    const ip = freshIp();
    const bobOn = await create(bob, { sip_login: bob.login, ip });
    const bobOff = await create(bob, { sip_login: bob.login, ip: freshIp() });
    assert.equal((await t.call('client', 'ip-auth-disable', { key: bob.key, body: { id: bobOff.id } })).status, 200);
    const snapshot = async () => ({ list: await ipAuthList(bob), on: await switchRows(bobOn.peer_name), off: await switchRows(bobOff.peer_name) });
    const before = await snapshot();
    for (const endpoint of ['ip-auth-disable', 'ip-auth-enable', 'ip-auth-delete']) {
      for (const id of [bobOn.id, bobOff.id]) {
        const res = await t.call('client', endpoint, { key: alice.key, body: { id } });
        assert.equal(res.status, 404, `${endpoint} ${id}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.success, false);
        assert.equal(res.body.code, 'NOT_FOUND');
      }
    }
    assert.deepEqual(await snapshot(), before);
    await assertPeerProjection(bobOn.peer_name, bob.login, ip, 5060);
    await assertNoSwitchRows(bobOff.peer_name);
  });

  it('disable, enable and delete refuse a bad id with 400 naming id', async () => {
    const c = await freshClient();
    const rec = await create(c, { sip_login: c.login, ip: freshIp() });
    const before = await switchRows(rec.peer_name);
    for (const endpoint of ['ip-auth-disable', 'ip-auth-enable', 'ip-auth-delete']) {
      for (const body of [{}, { id: null }, { id: 'abc' }, { id: 0 }, { id: -1 }, { id: 1.5 }, { id: '1e3' }, { id: true }, { id: [rec.id] }]) {
        const res = await t.call('client', endpoint, { key: c.key, body });
        assertFieldError(res, 'id', `${endpoint} ${JSON.stringify(body)}`);
      }
      const unknown = await t.call('client', endpoint, { key: c.key, body: { id: 999_999_999 } });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    }
    assert.deepEqual(await switchRows(rec.peer_name), before);
    assert.equal((await ipAuthList(c)).ip_auth[0].status, 1);
  });

  it('sip hides _ipaN service peers unless include_service=1', async () => {
    const c = await freshClient();
    const rec = await create(c, { sip_login: c.login, ip: freshIp() });
    assert.deepEqual(await sipNames(c), [c.login]);
    assert.deepEqual(await sipNames(c, { include_service: 0 }), [c.login]);
    const full = await t.call('client', 'sip', { key: c.key, query: { include_service: 1 } });
    assert.equal(full.status, 200, JSON.stringify(full.body));
    const names = (full.body.data as Array<{ name: string; type: string }>).map((s) => [s.name, s.type]);
    assert.deepEqual(names, [[c.login, 'main'], [rec.peer_name, 'ip-auth']]);
    // Disabled peers stay hidden from the normal list too.
    assert.equal((await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: rec.id } })).status, 200);
    assert.deepEqual(await sipNames(c), [c.login]);
    assert.deepEqual(await sipNames(c, { include_service: 1 }), [c.login, rec.peer_name]);
  });

  it('an inactive client can read its IP-auth records but every IP-auth write answers 403 ACCOUNT_INACTIVE', async () => {
    const c = await freshClient();
    const ip = freshIp();
    const on = await create(c, { sip_login: c.login, ip });
    const off = await create(c, { sip_login: c.login, ip: freshIp() });
    assert.equal((await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: off.id } })).status, 200);
    const body = await t.admin('set-account-status', { login: c.login, active: false });
    assert.equal(body.active, 0);
    const snapshot = async () => ({
      list: await ipAuthList(c), sip: await sipNames(c, { include_service: 1 }),
      on: await switchRows(on.peer_name), off: await switchRows(off.peer_name), counts: await tableCounts(),
    });
    const before = await snapshot();
    assert.equal(before.list.ip_auth.length, 2);
    for (const [endpoint, payload] of [
      ['ip-auth-create', { sip_login: c.login, ip: freshIp() }],
      ['ip-auth-disable', { id: on.id }],
      ['ip-auth-enable', { id: off.id }],
      ['ip-auth-delete', { id: on.id }],
      ['ip-auth-delete', { id: off.id }],
    ] as Array<[string, Record<string, unknown>]>) {
      const res = await t.call('client', endpoint, { key: c.key, body: payload });
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE', endpoint);
    }
    assert.deepEqual(await snapshot(), before);
    await assertPeerProjection(on.peer_name, c.login, ip, 5060);
  });

  it('ip-auth-list is a GET and the writes are POSTs', async () => {
    const c = await freshClient();
    assert.equal((await t.call('client', 'ip-auth-list', { key: c.key, body: {} })).status, 200, 'a read may be POSTed');
    for (const endpoint of ['ip-auth-create', 'ip-auth-disable', 'ip-auth-enable', 'ip-auth-delete']) {
      assert.equal((await t.call('client', endpoint, { key: c.key, method: 'GET' })).status, 405, endpoint);
    }
  });
});
