// An IP address belongs to one client account: another tenant cannot bind it (not even on
// another port), the switch tables never match one source address to two endpoints, and the
// Switch API's lookup by source address finds the one client that holds it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/migrations.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createReseller, createResellerClient, wholesalePlan, type PortalClient, type TestReseller } from '../reseller/portal-fixtures.js';

describe('tenancy: one IP address belongs to one client', () => {
  let t: TestServer;
  let switchKey: string;
  let agent: TestReseller;
  let rival: TestReseller;
  let seq = 0;
  let ipSeq = 0;

  before(async () => {
    t = await startTestServer();
    const planId = await wholesalePlan(t);
    agent = await createReseller(t, planId);
    rival = await createReseller(t, planId);
    switchKey = (await t.admin('create-switch-key', { name: 'switch' })).api_key;
  });
  after(async () => { await t?.close(); });

  /** A client of the reseller with retail credit, so its calls are allowed. */
  async function funded(r: TestReseller): Promise<PortalClient> {
    seq += 1;
    const c = await createResellerClient(t, r, `ipt${r.id}x${seq}${crypto.randomInt(1000)}`);
    const res = await t.call('reseller', 'transfer', { key: r.key, body: { login: c.login, amount: '10' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return c;
  }
  const freshIp = () => `203.0.113.${++ipSeq}`;
  const ipAuth = (c: PortalClient, endpoint: string, body: Record<string, unknown>) => t.call('client', endpoint, { key: c.key, body });
  async function bind(c: PortalClient, ip: string, port: number) {
    const res = await ipAuth(c, 'ip-auth-create', { sip_login: c.sip, ip, port });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as { id: number; peer_name: string };
  }
  async function authorize(sourceIp: string, sourcePort?: number) {
    const res = await t.call('switch', 'authorize', {
      key: switchKey,
      body: { uniqueid: `u-${crypto.randomBytes(6).toString('hex')}`, source_ip: sourceIp, destination: '442071234567', ...(sourcePort ? { source_port: sourcePort } : {}) },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { allowed: boolean; sip_login?: string; reason?: string };
  }
  /** ps_endpoint_id_ips rows that can match a call from this address, by endpoint. */
  async function matchesOf(ip: string) {
    const rows = await t.server.ctx.db.selectFrom('ps_endpoint_id_ips').select(['endpoint', 'match'])
      .where((eb) => eb.or([eb('match', '=', ip), eb('match', 'like', `${ip}:%`)])).orderBy('endpoint').execute();
    return Object.fromEntries(rows.map((r) => [r.endpoint, r.match]));
  }

  it("another reseller's client cannot bind a taken address on another port (409 IP_TAKEN); the holder's calls by source_ip go on", async () => {
    const victim = await funded(agent);
    const intruder = await funded(rival);
    const ip = freshIp();
    const peer = await bind(victim, ip, 5060);

    const refused = await ipAuth(intruder, 'ip-auth-create', { sip_login: intruder.sip, ip, port: 5070 });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.success, false);
    assert.equal(refused.body.code, 'IP_TAKEN');
    const text = JSON.stringify(refused.body);
    for (const secret of [victim.login, peer.peer_name, agent.login]) assert.equal(text.includes(secret), false, `reveals ${secret}: ${text}`);
    const list = await t.call('client', 'ip-auth-list', { key: intruder.key });
    assert.deepEqual(list.body.data.ip_auth, []);

    for (const port of [undefined, 5060, 5070]) {
      const a = await authorize(ip, port);
      assert.equal(a.allowed, true, `port ${port}: ${JSON.stringify(a)}`);
      assert.equal(a.sip_login, peer.peer_name);
    }
    assert.deepEqual(await matchesOf(ip), { [peer.peer_name]: ip });
    const addresses = await t.server.ctx.db.selectFrom('address').select('tag').where('ip_addr', '=', ip).execute();
    assert.deepEqual(addresses.map((r) => r.tag), [peer.peer_name]);

    // A disabled record still holds the address; deleting the holder's last record frees it.
    assert.equal((await ipAuth(victim, 'ip-auth-disable', { id: peer.id })).status, 200);
    assert.equal((await ipAuth(intruder, 'ip-auth-create', { sip_login: intruder.sip, ip, port: 5070 })).body.code, 'IP_TAKEN');
    assert.equal((await ipAuth(victim, 'ip-auth-delete', { id: peer.id })).status, 200);
    const now = await bind(intruder, ip, 5070);
    assert.equal((await authorize(ip)).sip_login, now.peer_name);
    assert.equal((await ipAuth(victim, 'ip-auth-create', { sip_login: victim.sip, ip, port: 5060 })).body.code, 'IP_TAKEN');
  });

  it('several ports of one client: the bound port picks the peer, else the lowest-id active peer; each matches ip:port in the switch', async () => {
    const c = await funded(agent);
    const ip = freshIp();
    const first = await bind(c, ip, 5060);
    const second = await bind(c, ip, 5061);
    assert.deepEqual(await matchesOf(ip), { [first.peer_name]: `${ip}:5060`, [second.peer_name]: `${ip}:5061` });
    assert.equal((await authorize(ip)).sip_login, first.peer_name);
    assert.equal((await authorize(ip, 5061)).sip_login, second.peer_name);
    assert.equal((await authorize(ip, 5099)).sip_login, first.peer_name, 'an unbound port: the same client pays');

    assert.equal((await ipAuth(c, 'ip-auth-disable', { id: first.id })).status, 200);
    assert.deepEqual(await matchesOf(ip), { [second.peer_name]: ip }, 'a lone peer matches the whole address again');
    assert.equal((await authorize(ip)).sip_login, second.peer_name);
    assert.equal((await authorize(ip, 5060)).sip_login, second.peer_name);

    assert.equal((await ipAuth(c, 'ip-auth-enable', { id: first.id })).status, 200);
    assert.deepEqual(await matchesOf(ip), { [first.peer_name]: `${ip}:5060`, [second.peer_name]: `${ip}:5061` });
    assert.equal((await ipAuth(c, 'ip-auth-delete', { id: second.id })).status, 200);
    assert.deepEqual(await matchesOf(ip), { [first.peer_name]: ip });
    assert.equal((await authorize(ip, 5061)).sip_login, first.peer_name);

    const bad = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: 'bad-port', source_ip: ip, source_port: 'x', destination: '442071234567' } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.field, 'source_port');
  });

  it('delete-sip takes its peers along: the other peer matches the whole address again, and a fully freed address can be taken', async () => {
    const c = await funded(agent);
    const other = await funded(rival);
    const ip = freshIp();
    const extra = await t.call('client', 'create-sip', { key: c.key, body: {} });
    assert.equal(extra.status, 200, JSON.stringify(extra.body));
    const extraName = extra.body.data.name as string;
    const onMain = await bind(c, ip, 5060);
    const onExtra = (await ipAuth(c, 'ip-auth-create', { sip_login: extraName, ip, port: 5061 })).body.data;
    assert.deepEqual(await matchesOf(ip), { [onMain.peer_name]: `${ip}:5060`, [onExtra.peer_name]: `${ip}:5061` });
    assert.equal((await ipAuth(c, 'delete-sip', { name: extraName })).status, 200);
    assert.deepEqual(await matchesOf(ip), { [onMain.peer_name]: ip });
    assert.equal((await ipAuth(other, 'ip-auth-create', { sip_login: other.sip, ip, port: 5062 })).body.code, 'IP_TAKEN');

    // Its last record gone with another SIP account, the address is free for anyone.
    const ip2 = freshIp();
    const extra2 = (await t.call('client', 'create-sip', { key: c.key, body: {} })).body.data.name as string;
    assert.equal((await ipAuth(c, 'ip-auth-create', { sip_login: extra2, ip: ip2, port: 5060 })).status, 200);
    assert.equal((await ipAuth(c, 'delete-sip', { name: extra2 })).status, 200);
    const taken = await bind(other, ip2, 5070);
    assert.equal((await authorize(ip2)).sip_login, taken.peer_name);
    assert.equal((await ipAuth(c, 'ip-auth-create', { sip_login: c.sip, ip: ip2, port: 5060 })).body.code, 'IP_TAKEN');
  });

  it('two clients claiming one address at once: exactly one gets it', async () => {
    const a = await funded(agent);
    const b = await funded(rival);
    const ip = freshIp();
    const results = await Promise.all([
      ipAuth(a, 'ip-auth-create', { sip_login: a.sip, ip, port: 5060 }),
      ipAuth(b, 'ip-auth-create', { sip_login: b.sip, ip, port: 5062 }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], JSON.stringify(results.map((r) => r.body)));
    assert.equal(results.find((r) => r.status === 409)!.body.code, 'IP_TAKEN');
    assert.equal(Object.keys(await matchesOf(ip)).length, 1);
  });

  it('migration 0008 settles existing conflicts: the oldest record keeps the address, the others are disabled and audited', async () => {
    const holder = await funded(agent);
    const other = await funded(rival);
    const ip = freshIp();
    const kept = await bind(holder, ip, 5060);
    // A record from before the rule: another client on the same address, projected as then.
    const db = t.server.ctx.db;
    const peerName = `${other.sip}_ipa1`;
    const now = new Date().toISOString();
    const sip = await db.selectFrom('sip_accounts').select('id').where('name', '=', other.sip).executeTakeFirstOrThrow();
    await db.insertInto('sip_accounts').values({
      account_id: other.id, name: peerName, kind: 'ipa', secret_enc: null, ha1: null, ha1b: null, active: 1, created_at: now,
    }).execute();
    const legacy = await db.insertInto('ip_auth').values({
      account_id: other.id, sip_account_id: sip.id, peer_name: peerName, ip, port: 5070, status: 1, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('ps_endpoints').values({
      id: peerName, transport: 'transport-udp', aors: peerName, auth: null, context: 'ledgerline', disallow: 'all', allow: 'ulaw',
      callerid: null, direct_media: 'no', identify_by: 'ip', from_domain: null, accountcode: other.login,
    }).execute();
    await db.insertInto('ps_aors').values({ id: peerName, max_contacts: 1, remove_existing: 'yes', contact: `sip:${ip}:5070` }).execute();
    await db.insertInto('ps_endpoint_id_ips').values({ id: peerName, endpoint: peerName, match: ip }).execute();
    await db.insertInto('address').values({ grp: 1, ip_addr: ip, mask: 32, port: 5070, tag: peerName }).execute();
    // Back to before the migration, with that record in place, then migrate.
    await db.schema.dropTable('ip_auth_owners').execute();
    // Migrations run in name order: 0008 and those after it (which can run again) are taken back.
    await db.deleteFrom('kysely_migration' as never).where('name' as never, '>=', '0008_ip_auth_owners' as never).execute();
    await migrateToLatest(db, t.dialect);

    const list = (await t.call('client', 'ip-auth-list', { key: other.key })).body.data.ip_auth;
    assert.deepEqual(list.map((r: any) => ({ id: r.id, status: r.status })), [{ id: Number(legacy.id), status: 0 }]);
    assert.deepEqual(await matchesOf(ip), { [kept.peer_name]: ip });
    assert.equal((await db.selectFrom('ps_endpoints').select('id').where('id', '=', peerName).execute()).length, 0);
    assert.equal((await db.selectFrom('address').select('id').where('tag', '=', peerName).execute()).length, 0);
    const audited = await db.selectFrom('audit_log').select(['actor_login', 'error_code', 'status_code'])
      .where('api', '=', 'migration').where('actor_id', '=', other.id).execute();
    assert.deepEqual(audited, [{ actor_login: other.login, error_code: 'IP_TAKEN', status_code: 409 }]);
    assert.equal((await authorize(ip, 5070)).sip_login, kept.peer_name);
    const enable = await ipAuth(other, 'ip-auth-enable', { id: Number(legacy.id) });
    assert.equal(enable.status, 409, JSON.stringify(enable.body));
    assert.equal(enable.body.code, 'IP_TAKEN');
    // The record can still be deleted by its client.
    assert.equal((await ipAuth(other, 'ip-auth-delete', { id: Number(legacy.id) })).status, 200);
  });
});
