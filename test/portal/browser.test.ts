// The agent portal in a real browser: Debian's Chromium driven by playwright-core, against the
// portal in-process, Ledgerline, a real Janus gateway and Plisio and Heleket fakes on loopback.
// Screenshots of every page go to the folder the test prints (PORTAL_SCREENSHOTS_DIR, else a
// new temporary folder). Skipped with a notice where chromium or janus is missing; failed
// instead under LEDGERLINE_REQUIRE_PEERS=1 (.ci/run installs both).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startHeleketFake, startPlisioFake, type HeleketFake, type PlisioFake } from '../helpers/payment-fakes.js';
import { startJanus, type RunningJanus } from '../helpers/janus.js';
import { requirePeer } from '../helpers/peers.js';
import { startPortal, type RunningPortal } from '../helpers/portal.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const SIP_DOMAIN = 'ledgerline.local';

test('the agent portal in Chromium', { timeout: 240_000 }, async (ctx) => {
  const chromiumPath = requirePeer(ctx, 'chromium', 'apt-get install -y chromium');
  if (!chromiumPath) return;
  const janusBinary = requirePeer(ctx, 'janus', 'apt-get install -y janus', ['/opt/janus/bin']);
  if (!janusBinary) return;

  const shots = process.env.PORTAL_SCREENSHOTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-portal-screenshots-'));
  fs.mkdirSync(shots, { recursive: true });
  ctx.diagnostic(`screenshots: ${shots}`);
  process.stderr.write(`\nportal screenshots: ${shots}\n`);

  const stops: Array<() => Promise<unknown>> = [];
  let browser: Browser | undefined;
  let t: TestServer | undefined;
  try {
    const janusSecret = crypto.randomBytes(16).toString('hex');
    const janus: RunningJanus = await startJanus(janusBinary, janusSecret);
    stops.push(() => janus.stop());
    t = await startTestServer({ SIP_DOMAIN, JANUS_URL: janus.url, JANUS_TOKEN_SECRET: janusSecret });
    const server = t;

    const { plan } = await server.admin('create-plan', { name: `PORTAL-${crypto.randomBytes(3).toString('hex')}` });
    await server.admin('add-rates', { plan_id: plan.id, rates: [
      { prefix: '49', destination: 'Germany', rate: '0.0600', initblock: 1, billingblock: 1 },
      { prefix: '44', destination: 'United Kingdom', rate: '0.0300', initblock: 1, billingblock: 1 },
    ] });
    const agentPassword = `Agent${crypto.randomBytes(6).toString('hex')}1`;
    const created = await server.admin('create-reseller', { plan_id: plan.id, balance: '500', password: agentPassword });
    const resellerKey = created.api_key as string;
    const agentLogin = created.reseller.login as string;
    const retailPlanId = created.retail_plan.id as number;
    const call = (family: 'reseller', endpoint: string, body: unknown) => server.call(family, endpoint, { key: resellerKey, body });

    const clientPassword = `Client${crypto.randomBytes(6).toString('hex')}2`;
    const client = (await call('reseller', 'create-client', { plan_id: retailPlanId, password: clientPassword })).body;
    const login = client.client.login as string;
    await call('reseller', 'transfer', { login, amount: '20' });
    // 30 answered calls of 10 s to Germany: 30 × 0.0120 at the 20% markup (0.072/min).
    const switchKey = (await server.admin('create-switch-key', { name: 'portal-test' })).api_key;
    for (let i = 0; i < 30; i++) {
      const uniqueid = `portal-${crypto.randomBytes(6).toString('hex')}`;
      const body = { uniqueid, sip_login: client.sip.name, destination: `4930${1000 + i}` };
      await server.call('switch', 'authorize', { key: switchKey, body });
      const cdr = await server.call('switch', 'cdr', { key: switchKey, body: { ...body, answered_seconds: 10, disposition: 'ANSWERED' } });
      assert.equal(cdr.status, 200, JSON.stringify(cdr.body));
    }
    const balanceOf = async (who: string) => Number((await server.call('reseller', 'client', { key: resellerKey, query: { login: who } })).body.client.balance);
    const startBalance = await balanceOf(login);
    assert.equal(startBalance, 20 - 30 * 0.012);

    const plisioKey = crypto.randomBytes(16).toString('hex');
    const plisio: PlisioFake = await startPlisioFake({ secretKey: plisioKey });
    stops.push(() => plisio.close());
    const heleketKey = crypto.randomBytes(16).toString('hex');
    const heleketMerchant = crypto.randomUUID();
    const heleket: HeleketFake = await startHeleketFake({ merchantId: heleketMerchant, paymentKey: heleketKey });
    stops.push(() => heleket.close());
    const portal: RunningPortal = await startPortal(server, resellerKey, {
      PLISIO_API_URL: plisio.url, PLISIO_SECRET_KEY: plisioKey,
      HELEKET_API_URL: heleket.url, HELEKET_MERCHANT_ID: heleketMerchant, HELEKET_PAYMENT_KEY: heleketKey,
      PORTAL_SIP_HOST: 'sip.acme.example', PORTAL_BRAND_COLOR: '#6a1b9a',
    });
    stops.push(() => portal.close());

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
    });
    const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    const errors: string[] = [];
    const newPage = async () => {
      const context = await browser!.newContext({ locale: 'en-US' });
      const page = await context.newPage();
      // Script errors; a refused request (the wrong password's 403) is the page working.
      page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`${page.url()}: ${m.text()}`); });
      page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
      return page;
    };
    const loginAs = async (page: Page, who: string, password: string) => {
      await page.goto(`${portal.url}/login`);
      await page.fill('input[name=login]', who);
      await page.fill('input[name=password]', password);
      await page.click('#login-submit');
      await page.waitForLoadState();
      assert.equal(page.url(), `${portal.url}/`, `logged in as ${who}: ${await page.textContent('main')}`);
    };

    const page = await newPage();
    await page.goto(`${portal.url}/login`);
    await shot(page, '01-login');
    await loginAs(page, login, clientPassword);

    await ctx.test('the client reads its dashboard', async () => {
      assert.equal(await page.textContent('#balance'), String((Math.round(startBalance * 100) / 100).toFixed(2)));
      assert.equal((await page.textContent('#plan'))?.trim(), created.retail_plan.name);
      assert.equal(await page.locator('#calls-table tbody tr').count(), 10, 'recent calls');
      assert.equal(await page.locator('#spend-chart rect').count(), 30, 'a bar per day');
      await shot(page, '02-dashboard');
    });

    await ctx.test('the client pages through its calls', async () => {
      await page.click('nav >> text=Calls');
      assert.equal(await page.textContent('#total'), '30');
      assert.equal(await page.locator('#calls-table tbody tr').count(), 25);
      await shot(page, '03-calls');
      await page.click('#next-page');
      assert.equal(await page.locator('#calls-table tbody tr').count(), 5);
      await shot(page, '04-calls-page-2');
      const download = await Promise.all([page.waitForEvent('download'), page.click('#csv')]).then(([d]) => d);
      const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split(/\r?\n/);
      assert.equal(csv.length, 31, 'header and 30 calls');
      for (const [p, name] of [['/failed-calls', '05-failed-calls'], ['/refills', '06-refills'], ['/callerids', '07-callerids'], ['/profile', '08-profile']]) {
        await page.goto(`${portal.url}${p}`);
        await shot(page, name);
      }
      await page.goto(`${portal.url}/rates`);
      await page.fill('#rates-q', '44');
      await page.click('#rates-search');
      assert.equal(await page.locator('#rates-table tbody tr').count(), 1);
      assert.match(await page.textContent('#rates-table tbody') ?? '', /United Kingdom/);
      await shot(page, '09-rates');
    });

    await ctx.test('the client resets a SIP password: shown once, and it is the one the switch checks', async () => {
      await page.goto(`${portal.url}/sip`);
      assert.equal(await page.textContent('#sip-host'), 'sip.acme.example');
      await page.click(`.reset-sip[data-name="${client.sip.name}"]`);
      const secret = (await page.textContent('#secret'))!.trim();
      await shot(page, '10-sip-reset');
      const ha1 = crypto.createHash('md5').update(`${client.sip.name}:${SIP_DOMAIN}:${secret}`).digest('hex');
      const row = await server.server.ctx.db.selectFrom('subscriber').select('ha1').where('username', '=', client.sip.name).executeTakeFirstOrThrow();
      assert.equal(row.ha1, ha1);
      await page.reload();
      assert.equal(await page.locator('#secret').count(), 0, 'shown only once');
    });

    const newPassword = `Changed${crypto.randomBytes(6).toString('hex')}3`;
    await ctx.test('the client changes its password', async () => {
      await page.goto(`${portal.url}/password`);
      await page.fill('input[name=current_password]', clientPassword);
      await page.fill('input[name=new_password]', newPassword);
      await page.fill('input[name=new_password_again]', newPassword);
      await page.click('#password-save');
      assert.match(await page.textContent('.flash.ok') ?? '', /Password changed/);
      await shot(page, '11-password');
      const other = await newPage();
      await other.goto(`${portal.url}/login`);
      await other.fill('input[name=login]', login);
      await other.fill('input[name=password]', clientPassword);
      await other.click('#login-submit');
      assert.match(await other.textContent('#error') ?? '', /Wrong login or password/);
      await loginAs(other, login, newPassword);
      await other.context().close();
    });

    const topUp = async (provider: 'plisio' | 'heleket', amount: string, name: string) => {
      await page.goto(`${portal.url}/topup`);
      await page.fill('#topup-amount', amount);
      await page.check(`#provider-${provider}`);
      await page.click('#topup-submit');
      await shot(page, `${name}-invoice`);
      await page.click('#pay-link');
      await page.waitForSelector('#pay');
      await shot(page, `${name}-provider-page`);
      await Promise.all([page.waitForURL(`${portal.url}/topup/done`), page.click('#pay')]);
      await shot(page, `${name}-done`);
    };

    await ctx.test('a Plisio top-up credits exactly once; forged and tampered callbacks credit nothing', async () => {
      await topUp('plisio', '10', '12-plisio');
      const credited = await until('the Plisio payment credited', () => balanceOf(login), (b) => Math.abs(b - (startBalance + 10)) < 1e-9);
      const [txn] = [...plisio.invoices.keys()];
      assert.equal((await plisio.pay(txn)).status, 200, 'a repeat is accepted');
      assert.equal((await plisio.pay(txn, { status: 'completed' })).status, 200);
      assert.equal((await plisio.forge(txn)).status, 400);
      assert.equal((await plisio.tamper(txn, 'source_amount', '1000')).status, 400);
      assert.equal(await balanceOf(login), credited, 'credited once');
      await page.goto(`${portal.url}/`);
      assert.equal(await page.textContent('#balance'), (startBalance + 10).toFixed(2));
    });

    await ctx.test('a Heleket top-up credits exactly once; forged and tampered webhooks credit nothing', async () => {
      const before = await balanceOf(login);
      await topUp('heleket', '7.50', '13-heleket');
      const credited = await until('the Heleket payment credited', () => balanceOf(login), (b) => Math.abs(b - (before + 7.5)) < 1e-9);
      const [uuid] = [...heleket.payments.keys()];
      assert.equal((await heleket.pay(uuid)).status, 200);
      assert.equal((await heleket.forge(uuid)).status, 400);
      assert.equal((await heleket.tamper(uuid, 'amount', '750.00')).status, 400);
      // A status that is not paid is recorded, never credited.
      const pending = [...heleket.payments.keys()].length;
      assert.equal(pending, 1);
      assert.equal(await balanceOf(login), credited);
      await page.goto(`${portal.url}/refills`);
      await shot(page, '14-refills-after-top-ups');
    });

    await ctx.test('the web phone obtains a token and attaches to the SIP plugin of a real Janus', async () => {
      await page.goto(`${portal.url}/phone`);
      const state = await until('the phone attached', () => page.getAttribute('#phone', 'data-state'),
        (s) => s === 'attached' || s === 'registered' || s === 'registration_failed' || s === 'error', 30_000);
      assert.notEqual(state, 'error', `${await page.textContent('#phone-status')}\n${janus.log().slice(-2000)}\n${errors.join('\n')}`);
      ctx.diagnostic(`web phone: ${state} (${await page.textContent('#phone-status')})`);
      await shot(page, '15-phone');
    });

    await ctx.test('the agent creates a client and transfers credit to it', async () => {
      const agent = await newPage();
      await agent.goto(`${portal.url}/agent/login`);
      await agent.fill('input[name=login]', agentLogin);
      await agent.fill('input[name=password]', agentPassword);
      await Promise.all([agent.waitForURL(`${portal.url}/agent`), agent.click('#login-submit')]);
      await shot(agent, '20-agent-clients');
      const newLogin = `${70_000_000 + crypto.randomInt(20_000_000)}01`;
      await agent.fill('#new-login', newLogin);
      await agent.click('#create-client');
      assert.match(await agent.textContent('.flash.ok') ?? '', new RegExp(`Client ${newLogin} created`));
      assert.equal(await agent.locator(`#clients-table tr[data-login="${newLogin}"]`).count(), 1);
      await shot(agent, '21-agent-client-created');
      await agent.click('nav >> text=Transfer');
      await agent.fill('#transfer-login', newLogin);
      await agent.fill('#transfer-amount', '5');
      await agent.click('#transfer-submit');
      assert.match(await agent.textContent('.flash.ok') ?? '', new RegExp(`5.00 credited to ${newLogin}`));
      await shot(agent, '22-agent-transactions');
      assert.equal(await balanceOf(newLogin), 5);
      await agent.click('nav >> text=Markup');
      await agent.fill('#markup-input', '30');
      await agent.click('#markup-preview');
      assert.ok(await agent.locator('#markup-preview-table tbody tr').count() >= 1);
      await shot(agent, '23-agent-markup-preview');
      await agent.click('#markup-save');
      assert.match(await agent.textContent('#current-markup') ?? '', /^30(\.0+)?$/);
      await agent.context().close();
    });

    await ctx.test('the portal speaks German', async () => {
      await page.goto(`${portal.url}/?lang=de`);
      assert.match(await page.textContent('nav') ?? '', /Übersicht/);
      await shot(page, '30-dashboard-de');
    });

    assert.deepEqual(errors, [], 'no script errors on any page');
  } finally {
    await browser?.close().catch(() => {});
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await t?.close();
  }
});
