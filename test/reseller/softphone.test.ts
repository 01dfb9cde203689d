// Reseller API `client-softphone-token`: the web phone's Janus token and `_web1` service SIP
// account, over HTTP; then against a real Janus gateway (Debian's `janus` package) on loopback.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createClient as provisionClient } from '../../src/onboarding/onboarding.js';
import { buildJanusToken, DEFAULT_JANUS_TOKEN_TTL_SECONDS, signJanusToken, verifyJanusToken } from '../../src/webphone/janus-token.js';
import pino from 'pino';
import { createClient, createPlan, startTestServer, type TestServer } from '../helpers/server.js';
import { requirePeer } from '../helpers/peers.js';
import { startJanus, type RunningJanus } from '../helpers/janus.js';

const md5 = (text: string) => crypto.createHash('md5').update(text).digest('hex');
const TOKEN_RE = /^(\d+),janus,janus\.plugin\.sip:([A-Za-z0-9+/]{27}=)$/;

interface Reseller { login: string; key: string; id: number; retailPlanId: number }
interface ResellerClient { login: string; key: string; id: number }

async function createReseller(t: TestServer, planId: number): Promise<Reseller> {
  const body = await t.admin('create-reseller', { plan_id: planId, login: `res${crypto.randomBytes(4).toString('hex')}` });
  return { login: body.reseller.login, key: body.api_key, id: body.reseller.id, retailPlanId: body.retail_plan.id };
}

/** A client under a reseller, on the reseller's retail plan (the service the Reseller API's create-client calls). */
async function createResellerClient(t: TestServer, reseller: Reseller): Promise<ResellerClient> {
  const login = `${20_000_000 + crypto.randomInt(70_000_000)}01`;
  const c = await provisionClient(t.server.ctx, reseller.id, { plan_id: reseller.retailPlanId, login });
  return { login: c.client.login, key: c.apiKey, id: Number(c.client.id) };
}

async function softphoneToken(t: TestServer, key: string, body: unknown) {
  return t.call('reseller', 'client-softphone-token', { key, body });
}

async function webAccounts(t: TestServer, accountId: number) {
  return t.server.ctx.db.selectFrom('sip_accounts').selectAll()
    .where('account_id', '=', accountId).where('kind', '=', 'web').execute();
}

describe('reseller api: client-softphone-token', () => {
  const janusSecret = `janus-${crypto.randomBytes(12).toString('hex')}`;
  const janusUrl = 'wss://janus.example.test:8989/janus';
  let t: TestServer;
  let plan: { id: number };
  let resA: Reseller;
  let resB: Reseller;

  before(async () => {
    t = await startTestServer({ JANUS_URL: janusUrl, JANUS_TOKEN_SECRET: janusSecret, SIP_DOMAIN: 'voip.example.test' });
    plan = await createPlan(t);
    resA = await createReseller(t, plan.id);
    resB = await createReseller(t, plan.id);
  });
  after(async () => t.close());

  it('creates the _web1 service account and returns the Janus URL, a signed token and the SIP identity', async () => {
    const c = await createResellerClient(t, resA);
    const before = Math.floor(Date.now() / 1000);
    const res = await softphoneToken(t, resA.key, { login: c.login });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const b = res.body;
    assert.equal(b.ok, true);
    assert.equal(b.janus_url, janusUrl);
    assert.equal(b.janus_plugin, 'janus.plugin.sip');
    assert.equal(b.created, true);

    // The token: `<expiry>,janus,janus.plugin.sip:<base64 HMAC-SHA1>`, signed with the shared secret.
    const m = TOKEN_RE.exec(b.janus_token);
    assert.ok(m, `token format: ${b.janus_token}`);
    const expiry = Number(m[1]);
    const hmac = crypto.createHmac('sha1', janusSecret).update(`${expiry},janus,janus.plugin.sip`).digest('base64');
    assert.equal(m[2], hmac, 'signature is base64 HMAC-SHA1 of the token data with JANUS_TOKEN_SECRET');
    assert.ok(expiry > before, 'expires in the future');
    assert.ok(expiry <= before + 24 * 3600 + 5, 'lives at most 24 hours');
    assert.equal(b.token_expires_unix, expiry);
    assert.match(b.token_expires_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const d = new Date(expiry * 1000);
    const pad = (n: number) => String(n).padStart(2, '0');
    assert.equal(b.token_expires_at,
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`);
    assert.deepEqual(verifyJanusToken(janusSecret, b.janus_token, { plugin: 'janus.plugin.sip' }),
      { valid: true, expiresAt: expiry, plugins: ['janus.plugin.sip'] });

    // The SIP identity of the web phone.
    const name = `${c.login}_web1`;
    assert.equal(b.sip.username, name);
    assert.equal(b.sip.authuser, name);
    assert.equal(b.sip.domain, 'voip.example.test');
    assert.equal(b.sip.realm, 'voip.example.test');
    assert.equal(b.sip.uri, `sip:${name}@voip.example.test`);
    assert.equal(b.sip.proxy, 'sip:voip.example.test');
    const secret: string = b.sip.secret;
    assert.equal(typeof secret, 'string');
    assert.ok(secret.length >= 16, 'a long generated secret');
    assert.match(secret, /[a-z]/);
    assert.match(secret, /[A-Z]/);
    assert.match(secret, /\d/);
    assert.deepEqual(b.register, {
      request: 'register', username: `sip:${name}@voip.example.test`, authuser: name,
      display_name: c.login, secret, proxy: 'sip:voip.example.test',
    });
    for (const field of ['balance', 'markup_percent', 'wholesale', 'rate']) {
      assert.ok(!(field in b), `white-label response carries no ${field}`);
    }

    // Hidden from the client's normal SIP list, present with include_service=1.
    const normal = await t.call('client', 'sip', { key: c.key });
    assert.equal(normal.status, 200, JSON.stringify(normal.body));
    assert.deepEqual(normal.body.data.map((s: any) => s.name), [c.login]);
    const all = await t.call('client', 'sip', { key: c.key, query: { include_service: 1 } });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const web = all.body.data.find((s: any) => s.name === name);
    assert.ok(web, 'include_service=1 lists the web phone account');
    assert.equal(web.type, 'webphone');
    assert.equal(web.password, secret);

    // Projected into the switch tables: a WebRTC endpoint and a Kamailio subscriber, digests only.
    const db = t.server.ctx.db;
    const realm = 'voip.example.test';
    const ep = await db.selectFrom('ps_endpoints').selectAll().where('id', '=', name).executeTakeFirst();
    assert.ok(ep, 'ps_endpoints row');
    // Janus's SIP plugin registers over UDP: the endpoint must use that transport to be rung.
    assert.equal(ep.transport, 'transport-udp');
    assert.equal(ep.auth, name);
    assert.equal(ep.accountcode, c.login);
    const auth = await db.selectFrom('ps_auths').selectAll().where('id', '=', name).executeTakeFirst();
    assert.ok(auth, 'ps_auths row');
    assert.equal(auth.md5_cred, md5(`${name}:${realm}:${secret}`));
    assert.ok(auth.password === null || auth.password === '', 'no clear secret in ps_auths');
    assert.ok(await db.selectFrom('ps_aors').select('id').where('id', '=', name).executeTakeFirst(), 'ps_aors row');
    const sub = await db.selectFrom('subscriber').selectAll().where('username', '=', name).executeTakeFirst();
    assert.ok(sub, 'subscriber row');
    assert.equal(sub.domain, realm);
    assert.equal(sub.ha1, md5(`${name}:${realm}:${secret}`));
    assert.equal(sub.ha1b, md5(`${name}@${realm}:${realm}:${secret}`));
    assert.equal(sub.password, '');
    const stored = await webAccounts(t, c.id);
    assert.equal(stored.length, 1);
    assert.ok(!String(stored[0].secret_enc).includes(secret), 'stored encrypted');
  });

  it('a later call reuses the _web1 account and its secret, with a fresh token', async () => {
    const c = await createResellerClient(t, resA);
    const first = await softphoneToken(t, resA.key, { login: c.login });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    await new Promise((r) => setTimeout(r, 1100));
    const second = await softphoneToken(t, resA.key, { login: c.login });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.created, false);
    assert.equal(second.body.sip.username, first.body.sip.username);
    assert.equal(second.body.sip.secret, first.body.sip.secret);
    assert.ok(second.body.token_expires_unix > first.body.token_expires_unix, 'a new token each call');
    assert.equal(verifyJanusToken(janusSecret, second.body.janus_token).valid, true);
    assert.equal((await webAccounts(t, c.id)).length, 1, 'still one web phone account');
    const sip = await t.call('client', 'sip', { key: c.key, query: { include_service: 1 } });
    assert.deepEqual(sip.body.data.map((s: any) => s.name).sort(), [c.login, `${c.login}_web1`].sort());
  });

  it('concurrent first calls create one account and agree on its secret', async () => {
    const c = await createResellerClient(t, resA);
    const results = await Promise.all([1, 2, 3].map(() => softphoneToken(t, resA.key, { login: c.login })));
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(new Set(results.map((r) => r.body.sip.secret)).size, 1);
    assert.equal((await webAccounts(t, c.id)).length, 1);
  });

  it("another reseller's client, an admin client and an unknown login answer 404 and create nothing", async () => {
    const foreign = await createResellerClient(t, resB);
    const direct = await createClient(t, plan.id);
    for (const login of [foreign.login, direct.login, resB.login, resA.login, 'admin', '9999999901']) {
      const res = await softphoneToken(t, resA.key, { login });
      assert.equal(res.status, 404, `${login}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { ok: false, error: 'Client not found', code: 'NOT_FOUND' });
    }
    assert.equal((await webAccounts(t, foreign.id)).length, 0);
    assert.equal((await webAccounts(t, direct.id)).length, 0);
    assert.equal(await t.server.ctx.db.selectFrom('ps_endpoints').select('id')
      .where('id', '=', `${foreign.login}_web1`).executeTakeFirst(), undefined);
  });

  it('bad input answers 400 naming login', async () => {
    for (const body of [{}, { login: '' }, { login: '   ' }, { login: 12.5 }, { login: null }, { login: ['a'] }, { login: 'has space' }, { login: 'x'.repeat(80) }]) {
      const res = await softphoneToken(t, resA.key, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.field, 'login');
      assert.match(res.body.error, /login/);
      assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
    }
  });

  it('only reseller keys may use it, and only by POST', async () => {
    const c = await createResellerClient(t, resA);
    const asClient = await softphoneToken(t, c.key, { login: c.login });
    assert.equal(asClient.status, 403, JSON.stringify(asClient.body));
    const asAdmin = await softphoneToken(t, t.adminKey, { login: c.login });
    assert.equal(asAdmin.status, 403, JSON.stringify(asAdmin.body));
    const noKey = await t.call('reseller', 'client-softphone-token', { key: null, body: { login: c.login } });
    assert.equal(noKey.status, 401);
    const get = await t.call('reseller', 'client-softphone-token', { key: resA.key, query: { login: c.login } });
    assert.equal(get.status, 405);
    assert.equal((await webAccounts(t, c.id)).length, 0);
  });

  it('an inactive client, or a client of an inactive reseller, answers 403 ACCOUNT_INACTIVE', async () => {
    const c = await createResellerClient(t, resA);
    await t.admin('set-account-status', { login: c.login, active: false });
    const res = await softphoneToken(t, resA.key, { login: c.login });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
    assert.equal((await webAccounts(t, c.id)).length, 0);

    const res2 = await createReseller(t, plan.id);
    const c2 = await createResellerClient(t, res2);
    await t.admin('set-account-status', { login: res2.login, active: false });
    const inactive = await softphoneToken(t, res2.key, { login: c2.login });
    assert.equal(inactive.status, 403, JSON.stringify(inactive.body));
    assert.equal(inactive.body.code, 'ACCOUNT_INACTIVE');
    assert.equal((await webAccounts(t, c2.id)).length, 0);
    // Its tenancy still holds while inactive: another reseller's client is not found.
    const foreign = await softphoneToken(t, res2.key, { login: c.login });
    assert.equal(foreign.status, 404);
  });

  it('without JANUS_TOKEN_SECRET it answers 409 JANUS_NOT_CONFIGURED and creates nothing', async () => {
    const bare = await startTestServer({ JANUS_TOKEN_SECRET: '' }, { shareWith: t });
    try {
      const c = await createResellerClient(t, resA);
      const res = await softphoneToken(bare, resA.key, { login: c.login });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'JANUS_NOT_CONFIGURED');
      assert.match(res.body.error, /JANUS_TOKEN_SECRET/);
      assert.equal((await webAccounts(t, c.id)).length, 0);
      // Tenancy first: nothing about other tenants leaks through the configuration answer.
      const foreign = await createResellerClient(t, resB);
      assert.equal((await softphoneToken(bare, resA.key, { login: foreign.login })).status, 404);
    } finally {
      await bare.close();
    }
  });
});

async function janusPost(url: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `janus HTTP status for ${JSON.stringify(body)}`);
  return res.json();
}

/** Changes one character of the signature, keeping it valid base64 of the same length. */
function forge(token: string): string {
  const colon = token.indexOf(':');
  const i = colon + 5;
  const flipped = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + flipped + token.slice(i + 1);
}

describe('janus gateway accepts the tokens Ledgerline signs', () => {
  const secret = `gw-${crypto.randomBytes(16).toString('hex')}`;
  let janus: RunningJanus | undefined;
  let t: TestServer | undefined;

  after(async () => {
    await janus?.stop();
    await t?.close();
  });

  it('session create and SIP plugin attach succeed with the issued token; forged and expired ones get 403', { timeout: 90_000 }, async (ctx) => {
    const binary = requirePeer(ctx, 'janus', 'apt-get install -y janus', ['/opt/janus/bin']);
    if (!binary) return;
    janus = await startJanus(binary, secret);
    t = await startTestServer({ JANUS_URL: janus.url, JANUS_TOKEN_SECRET: secret });
    const plan = await createPlan(t);
    const reseller = await createReseller(t, plan.id);
    const client = await createResellerClient(t, reseller);

    const issued = await softphoneToken(t, reseller.key, { login: client.login });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const { janus_url: url, janus_token: token } = issued.body;
    assert.equal(url, janus.url);

    // A valid token: a session, then a handle on the SIP plugin.
    const created = await janusPost(url, { janus: 'create', transaction: 'c1', token });
    assert.equal(created.janus, 'success', `create: ${JSON.stringify(created)}\n${janus.log().slice(-2000)}`);
    const sessionId = created.data.id;
    assert.ok(typeof sessionId === 'number' && sessionId > 0);
    const attached = await janusPost(`${url}/${sessionId}`, { janus: 'attach', plugin: 'janus.plugin.sip', transaction: 'a1', token });
    assert.equal(attached.janus, 'success', `attach: ${JSON.stringify(attached)}`);
    assert.ok(attached.data.id > 0, 'a plugin handle id');

    // A forged signature (one character changed) is refused: on create and on attach.
    const forged = forge(token);
    assert.notEqual(forged, token);
    const forgedCreate = await janusPost(url, { janus: 'create', transaction: 'c2', token: forged });
    assert.equal(forgedCreate.janus, 'error', JSON.stringify(forgedCreate));
    assert.equal(forgedCreate.error.code, 403);
    const forgedAttach = await janusPost(`${url}/${sessionId}`, { janus: 'attach', plugin: 'janus.plugin.sip', transaction: 'a2', token: forged });
    assert.equal(forgedAttach.janus, 'error', JSON.stringify(forgedAttach));
    assert.equal(forgedAttach.error.code, 403);

    // An expired token, correctly signed with the same secret, is refused.
    const expired = signJanusToken(secret, Math.floor(Date.now() / 1000) - 60);
    assert.equal(verifyJanusToken(secret, expired).valid, false);
    const expiredCreate = await janusPost(url, { janus: 'create', transaction: 'c3', token: expired });
    assert.equal(expiredCreate.janus, 'error', JSON.stringify(expiredCreate));
    assert.equal(expiredCreate.error.code, 403);

    // A token signed with another secret, and no token at all, are refused too.
    const otherSecret = signJanusToken('not-the-shared-secret', Math.floor(Date.now() / 1000) + 3600);
    const otherCreate = await janusPost(url, { janus: 'create', transaction: 'c4', token: otherSecret });
    assert.equal(otherCreate.error?.code, 403, JSON.stringify(otherCreate));
    const none = await janusPost(url, { janus: 'create', transaction: 'c5' });
    assert.equal(none.error?.code, 403, JSON.stringify(none));

    const destroyed = await janusPost(`${url}/${sessionId}`, { janus: 'destroy', transaction: 'd1', token });
    assert.equal(destroyed.janus, 'success', JSON.stringify(destroyed));
  });
});

describe('janus token: building and checking', () => {
  const secret = 'shared-secret';
  const now = Date.UTC(2026, 4, 10, 12, 0, 0);

  it('signs `<expiry>,janus,janus.plugin.sip` with base64 HMAC-SHA1 and checks it the way Janus does', () => {
    const expiry = now / 1000 + 3600;
    const token = signJanusToken(secret, expiry);
    const data = `${expiry},janus,janus.plugin.sip`;
    assert.equal(token, `${data}:${crypto.createHmac('sha1', secret).update(data).digest('base64')}`);
    assert.deepEqual(verifyJanusToken(secret, token, { nowMs: now, plugin: 'janus.plugin.sip' }),
      { valid: true, expiresAt: expiry, plugins: ['janus.plugin.sip'] });
    assert.deepEqual(verifyJanusToken(secret, token, { nowMs: (expiry + 1) * 1000 }), { valid: false, reason: 'EXPIRED' });
    assert.deepEqual(verifyJanusToken('other', token, { nowMs: now }), { valid: false, reason: 'BAD_SIGNATURE' });
    assert.deepEqual(verifyJanusToken(secret, forge(token), { nowMs: now }), { valid: false, reason: 'BAD_SIGNATURE' });
    assert.deepEqual(verifyJanusToken(secret, token, { nowMs: now, plugin: 'janus.plugin.videoroom' }), { valid: false, reason: 'PLUGIN_NOT_ALLOWED' });
    assert.deepEqual(verifyJanusToken(secret, 'garbage', { nowMs: now }), { valid: false, reason: 'MALFORMED' });
    const otherRealm = `${expiry},other,janus.plugin.sip`;
    const signedOtherRealm = `${otherRealm}:${crypto.createHmac('sha1', secret).update(otherRealm).digest('base64')}`;
    assert.deepEqual(verifyJanusToken(secret, signedOtherRealm, { nowMs: now }), { valid: false, reason: 'WRONG_REALM' });
  });

  it('builds tokens that expire after the TTL, 24 hours at most', () => {
    const built = buildJanusToken(secret, { nowMs: now });
    assert.equal(built.expiresAt, now / 1000 + DEFAULT_JANUS_TOKEN_TTL_SECONDS);
    assert.ok(DEFAULT_JANUS_TOKEN_TTL_SECONDS <= 24 * 3600);
    assert.deepEqual(built.plugins, ['janus.plugin.sip']);
    assert.equal(buildJanusToken(secret, { nowMs: now, ttlSeconds: 60 }).expiresAt, now / 1000 + 60);
    assert.throws(() => buildJanusToken(secret, { nowMs: now, ttlSeconds: 24 * 3600 + 1 }));
    assert.throws(() => buildJanusToken(secret, { nowMs: now, ttlSeconds: 0 }));
    assert.throws(() => signJanusToken('', now / 1000));
    assert.throws(() => signJanusToken(secret, now / 1000, ['bad,plugin']));
  });
});

describe('web phone gateway address at start-up', () => {
  /** Starts a server with the given Janus settings and returns the warnings it logged. */
  async function startupWarnings(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line); } });
    const t = await startTestServer(env, { log });
    await t.close();
    return lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40).map((l) => String(l.msg));
  }

  it('warns when browsers would be sent to a loopback gateway, not when the address is public', async () => {
    const loopback = await startupWarnings({ JANUS_TOKEN_SECRET: 'janus-secret-for-tests' });
    assert.ok(loopback.some((m) => /JANUS_URL/.test(m) && /wss:\/\//.test(m)), JSON.stringify(loopback));
    const explicitLoopback = await startupWarnings({ JANUS_TOKEN_SECRET: 'janus-secret-for-tests', JANUS_URL: 'ws://localhost:8188/janus' });
    assert.ok(explicitLoopback.some((m) => /JANUS_URL/.test(m)), JSON.stringify(explicitLoopback));
    assert.deepEqual((await startupWarnings({ JANUS_TOKEN_SECRET: 'janus-secret-for-tests', JANUS_URL: 'wss://phone.example.net/janus' }))
      .filter((m) => /JANUS_URL/.test(m)), []);
    // No web phone configured: nothing to warn about.
    assert.deepEqual((await startupWarnings({})).filter((m) => /JANUS_URL/.test(m)), []);
  });
});
