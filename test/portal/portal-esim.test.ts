// The portal's eSIM page over HTTP, as a browser without JavaScript uses it, against a real
// server whose eSIM upstream is the fake on loopback: a client searches packages at its own
// price, buys through the eSIM API (the agent's key naming the session's client), is charged
// once per form however often it is submitted, and sees its eSIM's QR code and activation
// code; a login in a form or URL is ignored, and no page shows the agent's figures.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/esim-upstream.js';
import { loggedIn as portalLogin, startPortal, Visitor, type RunningPortal } from '../helpers/portal.js';
import { decodeQr } from '../helpers/qr.js';
import { balanceMicros as balanceOf, createResellerClient, startTestServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';

interface PortalClient { login: string; password: string }

// Distinctive figures only the agent and the operator may see: the agent's balance and markup,
// the operator's margin, and what the upstream and the agent pay for the packages.
const RESELLER_BALANCE = '98765.4321';
const MARKUP = '37.5';
const MARGIN = '13.7';
const upstreamMicros = { P2CYMUS93: 3_200_000n, 'US-1GB-7D': 1_800_000n, 'EU-5GB-30D': 6_500_000n } as const;
const operatorPrice = (code: keyof typeof upstreamMicros) => applyMarkup(upstreamMicros[code], 13_700_000n);
const clientPrice = (code: keyof typeof upstreamMicros) => applyMarkup(operatorPrice(code), 37_500_000n);
/** A price as the page shows it: the API's 4 decimals, trailing zeros past 2 dropped. */
const shown = (micros: bigint) => formatMoney(micros, 4).replace(/(\.\d\d\d*?)0+$/, '$1');

describe('agent portal: eSIM', () => {
  let fake: FakeUpstream;
  let t: TestServer;
  let portal: RunningPortal;
  let resellerKey: string;
  let resellerLogin: string;
  let planId: number;
  let alice: PortalClient;
  let bob: PortalClient;

  const balanceMicros = (login: string) => balanceOf(t, login);
  const orders = async (login: string) => {
    const res = await t.call('esim', 'orders', { key: resellerKey, query: { client_login: login, limit: 100 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { total: number; orders: Array<{ order_id: number; package_code: string; status: string; price: string }> };
  };
  const upstreamOrders = () => fake.requests.filter((r) => r.path === 'esim/order').length;

  const loggedIn = (c: PortalClient) => portalLogin(portal, c);

  /** The Buy form of one package as shown: its CSRF token and its one-time id. */
  async function buyForm(v: Visitor, code: string, search = 'united states') {
    const res = await v.request(`/esim?q=${encodeURIComponent(search)}`);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    const row = new RegExp(`<tr data-package="${code}">[\\s\\S]*?</tr>`).exec(res.text)?.[0];
    assert.ok(row, `${code} is listed`);
    const id = /name="external_id" value="([^"]+)"/.exec(row)?.[1];
    assert.ok(id, 'the form carries its id');
    return { _csrf: Visitor.csrf(row), external_id: id, package_code: code };
  }

  before(async () => {
    fake = await startFakeUpstream();
    t = await startTestServer({ ESIM_UPSTREAM_URL: fake.url, ESIM_ACCESS_CODE: fake.accessCode, ESIM_SECRET_KEY: fake.secretKey });
    await t.admin('set-esim-margin', { margin_percent: MARGIN });
    const { plan } = await t.admin('create-plan', { name: 'WHOLESALE-X' });
    const created = await t.admin('create-reseller', { plan_id: plan.id, balance: RESELLER_BALANCE, markup_percent: MARKUP });
    resellerKey = created.api_key;
    resellerLogin = created.reseller.login;
    planId = created.retail_plan.id;
    alice = await createResellerClient(t, resellerKey, planId, { amount: '40' });
    bob = await createResellerClient(t, resellerKey, planId);
    portal = await startPortal(t, resellerKey);
  });
  after(async () => {
    await portal?.close();
    await t?.close();
    await fake?.close();
  });

  it('search lists the packages by country, region or name at the client\'s own price', async () => {
    const v = await loggedIn(alice);
    const us = await v.request('/esim?q=united+states');
    assert.equal(us.status, 200, us.text.slice(0, 500));
    assert.match(us.text, /<span id="total">2<\/span>/);
    const api = await t.call('esim', 'packages', { key: resellerKey, query: { q: 'united states', client_login: alice.login } });
    for (const code of ['P2CYMUS93', 'US-1GB-7D'] as const) {
      const listed = api.body.packages.find((p: any) => p.package_code === code);
      assert.equal(listed.price, formatMoney(clientPrice(code), 4), 'the API prices it for the client');
      const row = new RegExp(`<tr data-package="${code}">[\\s\\S]*?</tr>`).exec(us.text)?.[0] ?? '';
      assert.match(row, new RegExp(`class="num esim-price">${shown(clientPrice(code)).replace('.', '\\.')}<`), `${code}: ${row}`);
      assert.match(row, /<button type="submit">Buy<\/button>/);
    }
    assert.match(us.text, /United States 3GB 15 Days<\/td><td>US<\/td><td class="num">3 GB<\/td><td class="num">15 days</);
    const de = await v.request('/esim?q=DE');
    assert.match(de.text, /data-package="EU-5GB-30D"/);
    assert.doesNotMatch(de.text, /data-package="P2CYMUS93"/);
    assert.match((await v.request('/esim?q=europe')).text, /data-package="EU-5GB-30D"/);
    assert.match((await v.request('/esim?q=atlantis')).text, /No packages found/);
    const german = await v.request('/esim?lang=de&q=DE');
    assert.match(german.text, /Land, Region oder Name[\s\S]*Kaufen[\s\S]*Meine eSIMs/);
    assert.match(german.text, /Ihr Guthaben: 40\.00/);
    assert.match((await v.request('/')).text, /<a href="\/esim">eSIM<\/a>/, 'the menu leads to the page');
  });

  it('buying charges the client its price once per form, however often it is submitted; the agent pays nothing', async () => {
    const v = await loggedIn(alice);
    const before = await balanceMicros(alice.login);
    const resellerBefore = await balanceMicros(resellerLogin);
    const count = (await orders(alice.login)).total;
    const sent = upstreamOrders();
    const form = await buyForm(v, 'P2CYMUS93');
    const [a, b] = await Promise.all([v.request('/esim/buy', { form }), v.request('/esim/buy', { form })]);
    const again = await v.request('/esim/buy', { form });
    for (const res of [a, b, again]) {
      assert.equal(res.status, 303, res.text.slice(0, 500));
      assert.match(res.location ?? '', /^\/esim\/orders\/\d+$/);
    }
    assert.equal(new Set([a.location, b.location, again.location]).size, 1, 'one order');
    const after = await orders(alice.login);
    assert.equal(after.total, count + 1);
    assert.equal(after.orders[0].package_code, 'P2CYMUS93');
    assert.equal(await balanceMicros(alice.login), before - clientPrice('P2CYMUS93'), 'the client pays its price, once');
    assert.equal(await balanceMicros(resellerLogin), resellerBefore, 'the agent\'s balance is untouched');
    assert.equal(upstreamOrders(), sent + 1, 'one order placed upstream');
    // A new form is a new purchase.
    const next = await v.request('/esim/buy', { form: await buyForm(v, 'US-1GB-7D') });
    assert.equal(next.status, 303);
    assert.equal((await orders(alice.login)).total, count + 2);
    assert.equal(await balanceMicros(alice.login), before - clientPrice('P2CYMUS93') - clientPrice('US-1GB-7D'));
    const listed = await v.request('/esim');
    assert.equal(listed.text.match(/data-order-id=/g)?.length, count + 2);
    const left = shown(40_000_000n - clientPrice('P2CYMUS93') - clientPrice('US-1GB-7D'));
    assert.match(listed.text, new RegExp(`Your balance: ${left.replace('.', '\\.')} USD`));
  });

  it('the order page shows the QR code as an image and the activation code as text', async () => {
    const v = await loggedIn(alice);
    const bought = await v.request('/esim/buy', { form: await buyForm(v, 'EU-5GB-30D', 'europe') });
    assert.equal(bought.status, 303, bought.text.slice(0, 500));
    const first = await v.request(bought.location!);
    assert.equal(first.status, 200);
    assert.match(first.text, new RegExp(`class="flash ok"[^>]*>Europe 5GB 30 Days bought for ${shown(clientPrice('EU-5GB-30D')).replace('.', '\\.')} USD`));
    const ready = await until('the profile on the page', () => v.request(bought.location!), (r) => /data-status="READY"/.test(r.text));
    const qr = /<img id="esim-qr" src="(data:image\/png;base64,[^"]+)"/.exec(ready.text)?.[1];
    assert.ok(qr, 'a QR image');
    const code = /<code id="esim-activation-code">([^<]+)<\/code>/.exec(ready.text)?.[1];
    assert.match(code ?? '', /^LPA:1\$/);
    assert.equal(decodeQr(qr!), code, 'the QR code reads back as the activation code shown');
    assert.match(ready.text, /<code id="esim-iccid">\d{19}<\/code>/);
    assert.match(ready.text, /5 GB/);
    assert.match(ready.headers.get('content-security-policy') ?? '', /img-src 'self' data:/);
    assert.match((await v.request(`${bought.location}?lang=de`)).text, /Aktivierungscode/);
    assert.equal((await v.request('/esim/orders/x1')).status, 404);
    assert.equal((await v.request('/esim/orders/999999999')).status, 404);
  });

  it('refusals are shown on the page: a balance that cannot pay buys nothing, a provider\'s refusal is refunded', async () => {
    const poor = await loggedIn(bob);
    const sent = upstreamOrders();
    const broke = await poor.request('/esim/buy', { form: await buyForm(poor, 'P2CYMUS93') });
    assert.equal(broke.status, 400);
    assert.match(broke.text, /id="error">Insufficient balance/);
    assert.match(broke.text, /data-package="P2CYMUS93"/, 'the search is shown again');
    assert.equal((await orders(bob.login)).total, 0);
    assert.equal(upstreamOrders(), sent);

    const v = await loggedIn(alice);
    const before = await balanceMicros(alice.login);
    fake.refused.add('US-1GB-7D');
    try {
      const res = await v.request('/esim/buy', { form: await buyForm(v, 'US-1GB-7D') });
      assert.equal(res.status, 303);
      const page = await v.request(res.location!);
      assert.match(page.text, /class="flash error"[^>]*>The provider did not accept United States 1GB 7 Days \(UPSTREAM_200007\)/);
      assert.match(page.text, /data-status="REFUNDED"/);
      assert.doesNotMatch(page.text, /esim-qr|esim-preparing/);
    } finally {
      fake.refused.delete('US-1GB-7D');
    }
    assert.equal(await balanceMicros(alice.login), before, 'refunded');
  });

  it('a form without its CSRF token, or from another origin, buys nothing', async () => {
    const v = await loggedIn(alice);
    const count = (await orders(alice.login)).total;
    const before = await balanceMicros(alice.login);
    const form = await buyForm(v, 'P2CYMUS93');
    const attempts: Array<{ form: Record<string, string>; headers?: Record<string, string> }> = [
      { form: { external_id: form.external_id, package_code: 'P2CYMUS93' } },
      { form: { ...form, _csrf: 'x'.repeat(form._csrf.length) } },
      { form, headers: { origin: 'https://evil.example' } },
    ];
    for (const attempt of attempts) {
      const res = await v.request('/esim/buy', attempt);
      assert.equal(res.status, 403, JSON.stringify(attempt));
      assert.match(res.text, /form expired/);
    }
    assert.equal((await orders(alice.login)).total, count);
    assert.equal(await balanceMicros(alice.login), before);
    const stranger = new Visitor(portal.url);
    for (const path of ['/esim', '/esim/orders/1']) {
      const res = await stranger.request(path);
      assert.equal(res.status, 303);
      assert.equal(res.location, '/login');
    }
  });

  it('a login in the form or the URL is ignored: the session\'s client buys and is listed', async () => {
    const v = await loggedIn(alice);
    const aliceCount = (await orders(alice.login)).total;
    const res = await v.request('/esim/buy', { form: { ...(await buyForm(v, 'US-1GB-7D')), client_login: bob.login, login: bob.login } });
    assert.equal(res.status, 303);
    assert.equal((await orders(bob.login)).total, 0, 'nothing bought or charged for bob');
    assert.equal(await balanceMicros(bob.login), 0n);
    assert.equal((await orders(alice.login)).total, aliceCount + 1);
    const list = await v.request(`/esim?client_login=${bob.login}&login=${bob.login}`);
    assert.equal(list.text.match(/data-order-id=/g)?.length, Math.min(10, aliceCount + 1));
    assert.match(list.text, /Your balance: /);
    assert.doesNotMatch(list.text, /Your balance: 0\.00/);
    // Bob cannot open alice's eSIM, whatever he adds to the URL.
    const bobs = await loggedIn(bob);
    for (const path of [res.location!, `${res.location}?login=${alice.login}&client_login=${alice.login}`]) {
      const page = await bobs.request(path);
      assert.equal(page.status, 404, path);
      assert.doesNotMatch(page.text, /LPA:1/);
    }
    assert.match((await bobs.request('/esim')).text, /No eSIMs bought yet/);
  });

  it('no eSIM page shows the agent\'s balance, markup, the operator\'s margin or what the agent and the provider pay', async () => {
    const v = await loggedIn(alice);
    const [latest] = (await orders(alice.login)).orders;
    const poor = await loggedIn(bob);
    const pages = [
      await v.request('/esim'), await v.request('/esim?lang=de'), await v.request('/esim?q=europe'), await v.request('/esim?q=united+states'),
      await v.request(`/esim/orders/${latest.order_id}`), await v.request(`/esim/orders/${latest.order_id}?lang=de`),
      await poor.request('/esim/buy', { form: await buyForm(poor, 'EU-5GB-30D', 'europe') }),
    ];
    const hidden = Object.keys(upstreamMicros).flatMap((code) => {
      const c = code as keyof typeof upstreamMicros;
      return [shown(upstreamMicros[c]), shown(operatorPrice(c)), formatMoney(upstreamMicros[c], 4), formatMoney(operatorPrice(c), 4)];
    });
    assert.deepEqual(pages.map((r) => r.status), [200, 200, 200, 200, 200, 200, 400]);
    assert.ok(pages.slice(0, 4).every((r) => /data-package=/.test(r.text) && /data-order-id=/.test(r.text)), 'the lists are shown');
    assert.ok(pages.slice(4, 6).every((r) => /id="esim-order"/.test(r.text)));
    for (const res of pages) {
      for (const secret of ['98765', '98,765', MARKUP, '37,5', MARGIN, '13,7', 'WHOLESALE-X', resellerKey, resellerLogin, ...hidden,
        ...hidden.map((h) => h.replace('.', ',')), 'markup', 'margin', 'wholesale', 'upstream_price', 'credit_limit', 'reseller']) {
        assert.ok(!res.text.toLowerCase().includes(secret.toLowerCase()), `an eSIM page shows "${secret}"`);
      }
    }
  });
});
