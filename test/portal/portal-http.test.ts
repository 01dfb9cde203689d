// The agent portal over HTTP, as a browser without JavaScript uses it: sessions, CSRF, one
// client reaching another's data, and what client pages may show.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startPortal, Visitor, type RunningPortal } from '../helpers/portal.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface PortalClient { login: string; password: string; sip: string }

describe('agent portal over HTTP', () => {
  let t: TestServer;
  let portal: RunningPortal;
  let resellerKey: string;
  let reseller: { login: string; password: string };
  let alice: PortalClient;
  let bob: PortalClient;

  const sipDigest = async (name: string) => (await t.server.ctx.db.selectFrom('subscriber').select('ha1')
    .where('username', '=', name).executeTakeFirstOrThrow()).ha1;

  async function newClient(): Promise<PortalClient> {
    const password = `Pw${crypto.randomBytes(6).toString('hex')}7`;
    const res = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: planId, password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await t.call('reseller', 'transfer', { key: resellerKey, body: { login: res.body.client.login, amount: '12.34' } });
    return { login: res.body.client.login, password, sip: res.body.sip.name };
  }

  let planId: number;
  before(async () => {
    t = await startTestServer();
    // Distinctive reseller-only figures, to look for on client pages.
    const { plan } = await t.admin('create-plan', { name: 'WHOLESALE-X' });
    await t.admin('add-rates', { plan_id: plan.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.123457', initblock: 60, billingblock: 60 }] });
    const password = `Agent${crypto.randomBytes(6).toString('hex')}9`;
    const created = await t.admin('create-reseller', { plan_id: plan.id, balance: '98765.4321', password, markup_percent: '37.5' });
    resellerKey = created.api_key;
    reseller = { login: created.reseller.login, password };
    planId = created.retail_plan.id;
    alice = await newClient();
    bob = await newClient();
    portal = await startPortal(t, resellerKey);
  });
  after(async () => {
    await portal?.close();
    await t?.close();
  });

  it('logging in starts a new session: the id a visitor had before is worthless after', async () => {
    const v = new Visitor(portal.url);
    const form = await v.request('/login');
    assert.equal(form.status, 200);
    const before = v.cookie('portal_sid');
    assert.ok(before, 'a visitor session for the form');
    const res = await v.request('/login', { form: { _csrf: Visitor.csrf(form.text), login: alice.login, password: alice.password } });
    assert.equal(res.status, 303, res.text.slice(0, 500));
    assert.equal(res.location, '/');
    const afterLogin = v.cookie('portal_sid');
    assert.ok(afterLogin && afterLogin !== before);
    assert.match((await v.request('/')).text, /12\.34/);
    // An attacker who planted the pre-login id has nothing.
    const attacker = new Visitor(portal.url);
    attacker.setCookie('portal_sid', before!);
    const planted = await attacker.request('/');
    assert.equal(planted.status, 303);
    assert.equal(planted.location, '/login');
    // A cookie value not signed by the portal is not even looked up.
    const forged = new Visitor(portal.url);
    forged.setCookie('portal_sid', afterLogin!.replace(/\.[^.]+$/, '.AAAA'));
    assert.equal((await forged.request('/')).status, 303);
  });

  it('a wrong password is refused and logs nobody in', async () => {
    const v = new Visitor(portal.url);
    const res = await v.login('/login', alice.login, 'not-her-password-1');
    assert.equal(res.status, 403);
    assert.match(res.text, /Wrong login or password/);
    assert.equal((await v.request('/')).status, 303);
  });

  it('a form without its CSRF token, with another session\'s token, or from another origin changes nothing', async () => {
    const v = new Visitor(portal.url);
    await v.login('/login', alice.login, alice.password);
    const page = await v.request('/sip');
    const token = Visitor.csrf(page.text);
    const digest = await sipDigest(alice.sip);
    const other = new Visitor(portal.url);
    await other.login('/login', bob.login, bob.password);
    const othersToken = Visitor.csrf((await other.request('/sip')).text);
    const attempts: Array<{ form: Record<string, string>; headers?: Record<string, string> }> = [
      { form: { name: alice.sip } },
      { form: { name: alice.sip, _csrf: othersToken } },
      { form: { name: alice.sip, _csrf: token }, headers: { origin: 'https://evil.example' } },
    ];
    for (const attempt of attempts) {
      const res = await v.request('/sip/reset', attempt);
      assert.equal(res.status, 403, JSON.stringify(attempt));
      assert.match(res.text, /form expired/);
    }
    assert.equal(await sipDigest(alice.sip), digest, 'the SIP password did not change');
    // With its token it works, and the new password is shown once.
    const ok = await v.request('/sip/reset', { form: { name: alice.sip, _csrf: token } });
    assert.equal(ok.status, 303);
    const shown = await v.request('/sip');
    const secret = /<code id="secret">([^<]+)<\/code>/.exec(shown.text)?.[1];
    assert.ok(secret && secret.length >= 8, 'the new SIP password is shown');
    assert.notEqual(await sipDigest(alice.sip), digest);
    assert.doesNotMatch((await v.request('/sip')).text, /id="secret"/, 'only once');
  });

  it('one client cannot reach another\'s data by changing a login in a URL or a form', async () => {
    const v = new Visitor(portal.url);
    await v.login('/login', alice.login, alice.password);
    const token = Visitor.csrf((await v.request('/sip')).text);
    const bobsDigest = await sipDigest(bob.sip);
    const res = await v.request('/sip/reset', { form: { _csrf: token, name: bob.sip, login: bob.login } });
    assert.equal(res.status, 303);
    assert.equal(await sipDigest(bob.sip), bobsDigest, 'bob\'s SIP password is untouched');
    const flash = await v.request('/sip');
    assert.doesNotMatch(flash.text, /id="secret"/);
    for (const path of [`/sip?login=${bob.login}`, `/calls?login=${bob.login}`, `/profile?login=${bob.login}`, `/?login=${bob.login}`]) {
      const body = (await v.request(path)).text;
      assert.doesNotMatch(body, new RegExp(bob.sip), path);
    }
    const profile = await v.request('/profile', { form: { _csrf: token, login: bob.login, name: 'Mallory', email: '', phone: '', language: 'en' } });
    assert.equal(profile.status, 303);
    const bobs = await t.call('reseller', 'client', { key: resellerKey, query: { login: bob.login } });
    assert.notEqual(bobs.body.client?.name ?? bobs.body.name, 'Mallory');
  });

  it('no client page shows the reseller\'s balance, wholesale prices, markup or credit', async () => {
    const v = new Visitor(portal.url);
    await v.login('/login', alice.login, alice.password);
    const pages = ['/', '/calls', '/failed-calls', '/refills', '/sip', '/callerids', '/rates', '/rates?q=49', '/profile', '/password', '/topup', '/calls.csv'];
    for (const path of pages) {
      const res = await v.request(path);
      assert.ok(res.status === 200, `${path}: ${res.status}`);
      for (const secret of ['98765', '98,765', '37.5', '37,5', '0.123457', '0.1235', 'WHOLESALE-X', resellerKey, 'markup', 'wholesale', 'credit_limit']) {
        assert.ok(!res.text.toLowerCase().includes(secret.toLowerCase()), `${path} shows "${secret}"`);
      }
    }
    // The retail price is shown: 0.123457 * 1.375.
    assert.match((await v.request('/rates?q=49')).text, /0\.1697/);
  });

  it('a client session does not open the agent pages, and the agent logs in with its own password', async () => {
    const v = new Visitor(portal.url);
    await v.login('/login', alice.login, alice.password);
    const res = await v.request('/agent');
    assert.equal(res.status, 303);
    assert.equal(res.location, '/agent/login');
    const agent = new Visitor(portal.url);
    assert.equal((await agent.login('/agent/login', reseller.login, 'wrong-password-1')).status, 403);
    assert.equal((await agent.login('/agent/login', alice.login, alice.password)).status, 403, 'a client\'s password is not the agent\'s');
    const ok = await agent.login('/agent/login', reseller.login, reseller.password);
    assert.equal(ok.status, 303, ok.text.slice(0, 300));
    const clients = await agent.request('/agent');
    assert.equal(clients.status, 200);
    assert.match(clients.text, new RegExp(alice.login));
    assert.equal((await agent.request('/')).status, 303, 'the agent session is not a client session');
  });

  it('pages speak German when asked, and security headers are set', async () => {
    const v = new Visitor(portal.url);
    const res = await v.request('/login?lang=de');
    assert.match(res.text, /Anmelden/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(res.headers.get('set-cookie') ?? '', /HttpOnly/i);
    assert.match(res.headers.get('set-cookie') ?? '', /SameSite=Lax/i);
  });
});
