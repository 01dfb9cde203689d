// The portal's SMS page over HTTP, as a browser without JavaScript uses it, against a real
// server with the built-in SMS simulator: a client sends through the SMS API (the agent's key
// naming the session's client), is charged its retail price once per form however often it is
// submitted, sees its messages with their status, and never the agent's figures.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { startPortal, Visitor, type RunningPortal } from '../helpers/portal.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';

interface PortalClient { login: string; password: string }

// Distinctive figures: the agent's balance, markup and the wholesale price of one SMS segment.
const RESELLER_BALANCE = '98765.4321';
const MARKUP = '37.5';
const WHOLESALE = '0.043219';
const WHOLESALE_MICROS = 43_219n;
const RETAIL_MICROS = applyMarkup(WHOLESALE_MICROS, 37_500_000n);

const fieldOf = (html: string, name: string) => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no ${name} field on the page`);
  return m[1];
};

describe('agent portal: SMS', () => {
  let t: TestServer;
  let portal: RunningPortal;
  let resellerKey: string;
  let resellerLogin: string;
  let planId: number;
  let alice: PortalClient;
  let bob: PortalClient;

  const balanceMicros = async (login: string) => BigInt((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);
  const history = async (login: string, key = resellerKey) => {
    const res = await t.call('sms', 'history', { key, query: { client_login: login, limit: 100 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { total: number; messages: Array<{ sms_id: number; phone: string; message: string; status: string; cost: string }> };
  };

  async function newClient(key: string, plan: number, amount: string): Promise<PortalClient> {
    const password = `Pw${crypto.randomBytes(6).toString('hex')}7`;
    const res = await t.call('reseller', 'create-client', { key, body: { plan_id: plan, password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (amount !== '0') {
      const moved = await t.call('reseller', 'transfer', { key, body: { login: res.body.client.login, amount } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
    }
    return { login: res.body.client.login, password };
  }

  async function loggedIn(c: PortalClient, at = portal): Promise<Visitor> {
    const v = new Visitor(at.url);
    const res = await v.login('/login', c.login, c.password);
    assert.equal(res.status, 303, res.text.slice(0, 300));
    return v;
  }

  /** The SMS form as shown: its CSRF token and its one-time id. */
  async function smsForm(v: Visitor) {
    const res = await v.request('/sms');
    assert.equal(res.status, 200, res.text.slice(0, 500));
    return { _csrf: Visitor.csrf(res.text), external_id: fieldOf(res.text, 'external_id') };
  }

  before(async () => {
    // As test/sms/sms-api.test.ts: the simulator serves cryptosms and reports quickly.
    t = await startTestServer({ SMS_SIMULATOR_REPORT_MS: '30' });
    await t.admin('set-sms-rate', { provider: 'cryptosms', prefix: '49', rate: WHOLESALE });
    const { plan } = await t.admin('create-plan', { name: 'WHOLESALE-X' });
    await t.admin('add-rates', { plan_id: plan.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.123457', initblock: 60, billingblock: 60 }] });
    const created = await t.admin('create-reseller', { plan_id: plan.id, balance: RESELLER_BALANCE, markup_percent: MARKUP });
    resellerKey = created.api_key;
    resellerLogin = created.reseller.login;
    planId = created.retail_plan.id;
    alice = await newClient(resellerKey, planId, '12.34');
    bob = await newClient(resellerKey, planId, '0');
    portal = await startPortal(t, resellerKey);
  });
  after(async () => {
    await portal?.close();
    await t?.close();
  });

  it('a client sends an SMS, pays its retail price, and sees it in its history until delivered', async () => {
    const v = await loggedIn(alice);
    const before = await balanceMicros(alice.login);
    const resellerBefore = await balanceMicros(resellerLogin);
    const form = await smsForm(v);
    const sent = await v.request('/sms', { form: { ...form, phone: '+49 151 2345 6701', message: 'Hello from the portal' } });
    assert.equal(sent.status, 303, sent.text.slice(0, 500));
    assert.equal(sent.location, '/sms');
    const shown = await v.request('/sms');
    // The API's figures for the send: one GSM-7 segment at the client's price.
    const retail = formatMoney(RETAIL_MICROS, 4);
    assert.match(shown.text, new RegExp(`SMS to \\+49 151 2345 6701 sent: 1 part\\(s\\), GSM-7, ${retail.replace('.', '\\.')} USD`));
    assert.match(shown.text, /<td>\+4915123456701<\/td><td>Hello from the portal<\/td>/);
    assert.equal(await balanceMicros(alice.login), before - RETAIL_MICROS, 'the client pays the retail price');
    assert.equal(await balanceMicros(resellerLogin), resellerBefore - WHOLESALE_MICROS, 'the agent pays wholesale');
    const [message] = (await history(alice.login)).messages;
    assert.equal(message.phone, '+4915123456701');
    assert.equal(message.cost, retail);
    // The simulator reports it delivered; the page shows the status it has now.
    await until('the delivery report', () => history(alice.login), (h) => h.messages[0].status === 'DELIVERED');
    const delivered = await v.request('/sms');
    assert.match(delivered.text, new RegExp(`data-sms-id="${message.sms_id}" data-status="DELIVERED"`));
    assert.match(delivered.text, /Delivered/);
    assert.match((await v.request('/sms?lang=de')).text, /SMS senden[\s\S]*Zugestellt/);
  });

  it('the same form submitted twice, at once or again later, sends and charges once', async () => {
    const v = await loggedIn(alice);
    const count = (await history(alice.login)).total;
    const before = await balanceMicros(alice.login);
    const form = { ...(await smsForm(v)), phone: '+4915123456702', message: 'Only once' };
    const [a, b] = await Promise.all([v.request('/sms', { form }), v.request('/sms', { form })]);
    assert.equal(a.status, 303, a.text.slice(0, 300));
    assert.equal(b.status, 303, b.text.slice(0, 300));
    const again = await v.request('/sms', { form });
    assert.equal(again.status, 303);
    const after = await history(alice.login);
    assert.equal(after.total, count + 1, 'one message');
    assert.equal(after.messages.filter((m) => m.message === 'Only once').length, 1);
    assert.equal(await balanceMicros(alice.login), before - RETAIL_MICROS, 'one charge');
    // A new form is a new message.
    const next = await v.request('/sms', { form: { ...(await smsForm(v)), phone: '+4915123456702', message: 'Only once' } });
    assert.equal(next.status, 303);
    assert.equal((await history(alice.login)).total, count + 2);
  });

  it('refusals are shown on the page with the API\'s words, and charge nothing', async () => {
    const v = await loggedIn(alice);
    const before = await balanceMicros(alice.login);
    const count = (await history(alice.login)).total;
    const invalid = await v.request('/sms', { form: { ...(await smsForm(v)), phone: '12', message: 'Hi' } });
    assert.equal(invalid.status, 400);
    assert.match(invalid.text, /id="error">phone: must be an international number/);
    // What was typed stays in the form.
    assert.match(invalid.text, /name="phone"[^>]*value="12"/);
    assert.match(invalid.text, /<textarea[^>]*>Hi<\/textarea>/);
    const noRate = await v.request('/sms', { form: { ...(await smsForm(v)), phone: '+33612345678', message: 'Hi' } });
    assert.equal(noRate.status, 400);
    assert.match(noRate.text, /id="error">phone: has no SMS rate/);
    assert.equal(await balanceMicros(alice.login), before);
    assert.equal((await history(alice.login)).total, count);

    const poor = await loggedIn(bob);
    const broke = await poor.request('/sms', { form: { ...(await smsForm(poor)), phone: '+4915123456703', message: 'Hi' } });
    assert.equal(broke.status, 400);
    assert.match(broke.text, /id="error">Insufficient balance/);
    assert.equal((await history(bob.login)).total, 0);
  });

  it('a message the provider refuses is shown as refused, charged for the attempt as the API says', async () => {
    const v = await loggedIn(alice);
    const before = await balanceMicros(alice.login);
    const res = await v.request('/sms', { form: { ...(await smsForm(v)), phone: '+4915123459999', message: 'Refused' } });
    assert.equal(res.status, 303);
    const shown = await v.request('/sms');
    assert.match(shown.text, /class="flash error"[^>]*>The SMS to \+4915123459999 was not accepted \(REJECTED\)/);
    assert.match(shown.text, /data-status="FAILED"/);
    assert.equal(await balanceMicros(alice.login), before - RETAIL_MICROS);
  });

  it('a form without its CSRF token, or from another origin, sends nothing', async () => {
    const v = await loggedIn(alice);
    const count = (await history(alice.login)).total;
    const form = await smsForm(v);
    const attempts: Array<{ form: Record<string, string>; headers?: Record<string, string> }> = [
      { form: { external_id: form.external_id, phone: '+4915123456704', message: 'forged' } },
      { form: { ...form, _csrf: 'x'.repeat(form._csrf.length), phone: '+4915123456704', message: 'forged' } },
      { form: { ...form, phone: '+4915123456704', message: 'forged' }, headers: { origin: 'https://evil.example' } },
    ];
    for (const attempt of attempts) {
      const res = await v.request('/sms', attempt);
      assert.equal(res.status, 403, JSON.stringify(attempt));
    }
    assert.equal((await history(alice.login)).total, count);
    // Logged out, the page and the form lead to the login.
    const stranger = new Visitor(portal.url);
    const page = await stranger.request('/sms');
    assert.equal(page.status, 303);
    assert.equal(page.location, '/login');
  });

  it('a login in the form or the URL is ignored: the session\'s client sends and is listed', async () => {
    const v = await loggedIn(alice);
    const aliceCount = (await history(alice.login)).total;
    const res = await v.request('/sms', {
      form: { ...(await smsForm(v)), phone: '+4915123456705', message: 'Mine', client_login: bob.login, login: bob.login },
    });
    assert.equal(res.status, 303);
    assert.equal((await history(bob.login)).total, 0, 'nothing sent or charged for bob');
    assert.equal((await history(alice.login)).total, aliceCount + 1);
    const page = await v.request(`/sms?client_login=${bob.login}&login=${bob.login}`);
    assert.match(page.text, /Mine/);
    const bobs = await loggedIn(bob);
    assert.doesNotMatch((await bobs.request('/sms')).text, /Mine|Hello from the portal/);
  });

  it('the history pages through every message', async () => {
    const carol = await newClient(resellerKey, planId, '5');
    for (let i = 0; i < 27; i++) {
      const res = await t.call('sms', 'send', { key: resellerKey, body: { client_login: carol.login, phone: `+491512345${String(i).padStart(4, '0')}`, message: `n${i}` } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const v = await loggedIn(carol);
    const first = await v.request('/sms');
    assert.match(first.text, /<span id="total">27<\/span>/);
    assert.equal(first.text.match(/data-sms-id=/g)?.length, 25);
    const next = /href="([^"]+)" id="next-page"/.exec(first.text)?.[1];
    assert.equal(next, '/sms?offset=25');
    const second = await v.request(next!);
    assert.equal(second.text.match(/data-sms-id=/g)?.length, 2);
    assert.match(second.text, /<td>n0<\/td>/, 'oldest last');
    assert.doesNotMatch(second.text, /id="next-page"/);
    assert.match(second.text, /id="first-page"/);
  });

  it('no SMS page shows the agent\'s balance, wholesale price, markup or credit', async () => {
    const v = await loggedIn(alice);
    const pages = [await v.request('/sms'), await v.request('/sms?lang=de'),
      await v.request('/sms', { form: { ...(await smsForm(v)), phone: '+4915123456706', message: 'x' } }),
      await v.request('/sms')];
    for (const res of pages) {
      for (const secret of ['98765', '98,765', MARKUP, '37,5', WHOLESALE, '0.0432', '0,0432', 'WHOLESALE-X', resellerKey, 'markup', 'wholesale', 'credit_limit', 'reseller']) {
        assert.ok(!res.text.toLowerCase().includes(secret.toLowerCase()), `the SMS page shows "${secret}"`);
      }
    }
  });

  it('an agent whose own balance cannot pay blocks its clients\' SMS without telling them why', async () => {
    const { plan } = await t.admin('create-plan', { name: 'WHOLESALE-Y' });
    const poor = await t.admin('create-reseller', { plan_id: plan.id, balance: '0', markup_percent: MARKUP });
    const client = await newClient(poor.api_key, poor.retail_plan.id, '10');
    const other = await startPortal(t, poor.api_key);
    try {
      const v = await loggedIn(client, other);
      const res = await v.request('/sms', { form: { ...(await smsForm(v)), phone: '+4915123456707', message: 'Hi' } });
      assert.equal(res.status, 400);
      assert.match(res.text, /id="error">SMS cannot be sent at the moment/);
      assert.doesNotMatch(res.text, /reseller|balance cannot/i);
      assert.equal((await history(client.login, poor.api_key)).total, 0);
    } finally {
      await other.close();
    }
  });

});
