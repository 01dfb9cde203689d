import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const CLIENT_ENDPOINTS: Array<[string, 'get' | 'post']> = [
  ['me', 'get'], ['balance', 'get'], ['plans', 'get'], ['change-plan', 'post'], ['sip', 'get'], ['create-sip', 'post'],
  ['update-sip-password', 'post'], ['delete-sip', 'post'], ['ip-auth-list', 'get'], ['ip-auth-create', 'post'],
  ['ip-auth-disable', 'post'], ['ip-auth-enable', 'post'], ['ip-auth-delete', 'post'], ['callerids', 'get'],
  ['add-callerid', 'post'], ['set-callerid', 'post'], ['delete-callerid', 'post'], ['clear-callerid', 'post'],
  ['calls', 'get'], ['refills', 'get'], ['redeem-voucher', 'post'], ['change-password', 'post'],
];
const ADMIN_ENDPOINTS: Array<[string, 'get' | 'post']> = [
  ['create-plan', 'post'], ['add-rates', 'post'], ['create-reseller', 'post'], ['create-client', 'post'],
  ['create-api-key', 'post'], ['refill', 'post'], ['create-vouchers', 'post'], ['set-account-status', 'post'],
  ['create-switch-key', 'post'], ['accounts', 'get'], ['account', 'get'], ['verify-ledger', 'get'],
];

const WHOLESALE_RATES = [
  { prefix: '1', destination: 'USA', rate: '0.0120', initblock: 6, billingblock: 6 },
  { prefix: '44', destination: 'UK', rate: '0.0250', connect_charge: '0.05', initblock: 60, billingblock: 6 },
  { prefix: '447', destination: 'UK Mobile', rate: '1.2000', initblock: 60, billingblock: 6, minimal_time: 3 },
  { prefix: '999', destination: 'Tiny', rate: '0.000003' },
];

interface RateRow { prefix: string; destination: string; rate: number; connect: number; initblock: number; billingblock: number; minimal_time: number }

describe('admin api', () => {
  let t: TestServer;
  let plan: { id: number; name: string };
  let client: TestClient;

  const ratesOf = async (planId: number): Promise<Map<string, RateRow>> => {
    const rows = await t.server.ctx.db.selectFrom('rates')
      .select(['prefix', 'destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
      .where('plan_id', '=', planId).execute();
    return new Map(rows.map((r) => [r.prefix, {
      prefix: r.prefix, destination: r.destination, rate: Number(r.rate_micros), connect: Number(r.connect_charge_micros),
      initblock: Number(r.initblock), billingblock: Number(r.billingblock), minimal_time: Number(r.minimal_time),
    }]));
  };
  /** The retail rows a client of the reseller is shown (client-rates), prices in micros. */
  const retailOf = async (reseller: { api_key: string; reseller: { retail_plan_id: number } }): Promise<Map<string, RateRow>> => {
    const c = await t.call('reseller', 'create-client', { key: reseller.api_key, body: { plan_id: reseller.reseller.retail_plan_id } });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const res = await t.call('reseller', 'client-rates', { key: reseller.api_key, query: { login: c.body.client.login, limit: 500 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const micros = (n: number) => Math.round(n * 1e6);
    return new Map(res.body.rates.map((r: any) => [r.prefix, {
      prefix: r.prefix, destination: r.destination, rate: micros(r.rate), connect: micros(r.connect_charge),
      initblock: r.initblock, billingblock: r.billingblock, minimal_time: r.minimal_time,
    }]));
  };
  const clientBalance = async (key: string) => (await t.call('client', 'balance', { key })).body.data.balance as string;

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t, 'BASE-PLAN');
    client = await createClient(t, plan.id, { balance: '1' });
  });
  after(async () => t.close());

  it('GET /healthz answers {"ok":true}', async () => {
    const res = await fetch(`${t.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  it('GET /docs is an OpenAPI 3.1 document listing every Client and Admin API endpoint', async () => {
    const res = await fetch(`${t.url}/docs`);
    assert.equal(res.status, 200);
    const doc = await res.json() as { openapi: string; info: { title: string }; paths: Record<string, Record<string, unknown>> };
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    for (const [base, list] of [['/client-api', CLIENT_ENDPOINTS], ['/admin-api', ADMIN_ENDPOINTS]] as const) {
      for (const [name, method] of list) {
        const path = `${base}/index.php/${name}`;
        assert.ok(doc.paths[path], `docs lists ${path}`);
        assert.ok(doc.paths[path][method], `docs lists ${method.toUpperCase()} ${path}`);
        assert.equal((doc.paths[path][method] as { 'x-query-form'?: string })['x-query-form'], `${base}/index.php?endpoint=${name}`);
      }
    }
    // Everything the document lists is served: a key of the wrong role hears 403, not 404.
    for (const [path, ops] of Object.entries(doc.paths)) {
      const m = /^\/(client|admin)-api\/index\.php\/(.+)$/.exec(path);
      if (!m) continue;
      const key = m[1] === 'client' ? t.adminKey : client.key;
      for (const method of Object.keys(ops)) {
        const r = await t.call(m[1] as 'client' | 'admin', m[2], { key, method: method.toUpperCase(), ...(method === 'post' ? { body: {} } : {}) });
        assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      }
    }
  });

  it('GET /metrics serves Prometheus metrics with request counts', async () => {
    await t.call('admin', 'accounts');
    const res = await fetch(`${t.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE ledgerline_http_requests_total counter$/m);
    assert.match(text, /^ledgerline_http_requests_total\{[^}]*api="admin"[^}]*endpoint="accounts"[^}]*\} \d+$/m);
  });

  it('create-plan returns the plan; bad fields answer 400', async () => {
    const res = await t.call('admin', 'create-plan', { body: { name: 'PROMO', signup: true, initial_credit: '1.5', selectable: false } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(typeof res.body.plan.id, 'number');
    assert.equal(res.body.plan.name, 'PROMO');
    assert.equal(res.body.plan.signup, true);
    assert.equal(res.body.plan.selectable, false);
    assert.equal(Number(res.body.plan.initial_credit), 1.5);
    const defaults = await t.admin('create-plan', { name: 'PLAIN' });
    assert.equal(defaults.plan.selectable, true);
    assert.equal(Number(defaults.plan.initial_credit), 0);
    for (const [body, field] of [[{}, 'name'], [{ name: '' }, 'name'], [{ name: 'X', selectable: 'maybe' }, 'selectable'],
      [{ name: 'X', initial_credit: 'lots' }, 'initial_credit'], [{ name: 'X', initial_credit: '-1' }, 'initial_credit']] as const) {
      const bad = await t.call('admin', 'create-plan', { body });
      assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.success, false);
      assert.equal(bad.body.field, field);
    }
  });

  it('add-rates upserts by prefix', async () => {
    const { plan: p } = await t.admin('create-plan', { name: 'UPSERT-PLAN' });
    const first = await t.admin('add-rates', { plan_id: p.id, rates: WHOLESALE_RATES });
    assert.equal(first.upserted, 4);
    let rates = await ratesOf(p.id);
    assert.equal(rates.size, 4);
    assert.deepEqual(rates.get('44'), { prefix: '44', destination: 'UK', rate: 25_000, connect: 50_000, initblock: 60, billingblock: 6, minimal_time: 0 });
    assert.deepEqual(rates.get('999'), { prefix: '999', destination: 'Tiny', rate: 3, connect: 0, initblock: 1, billingblock: 1, minimal_time: 0 });
    assert.equal(rates.get('447')?.minimal_time, 3);

    // Re-adding a prefix updates that row; new prefixes are added; numbers are accepted as amounts.
    await t.admin('add-rates', { plan_id: p.id, rates: [
      { prefix: '44', destination: 'United Kingdom', rate: 0.031, initblock: 30, billingblock: 30 },
      { prefix: '49', destination: 'Germany', rate: '0.0150' },
    ] });
    rates = await ratesOf(p.id);
    assert.equal(rates.size, 5);
    assert.deepEqual(rates.get('44'), { prefix: '44', destination: 'United Kingdom', rate: 31_000, connect: 0, initblock: 30, billingblock: 30, minimal_time: 0 });
    assert.equal(rates.get('49')?.rate, 15_000);
    assert.equal(rates.get('1')?.rate, 12_000, 'other prefixes are untouched');
  });

  it('add-rates rejects bad rows naming the row and field, and writes none of the request', async () => {
    const { plan: p } = await t.admin('create-plan', { name: 'STRICT-PLAN' });
    const good = { prefix: '33', destination: 'France', rate: '0.02' };
    const cases: Array<[unknown, string]> = [
      [[good, { prefix: 'abc', destination: 'X', rate: '0.01' }], 'rates[1].prefix'],
      [[good, { destination: 'X', rate: '0.01' }], 'rates[1].prefix'],
      [[good, { prefix: '+44', destination: 'X', rate: '0.01' }], 'rates[1].prefix'],
      [[{ prefix: '34', destination: 'Spain', rate: 'cheap' }], 'rates[0].rate'],
      [[{ prefix: '34', destination: 'Spain', rate: '-0.01' }], 'rates[0].rate'],
      [[{ prefix: '34', destination: 'Spain', rate: '0.0000001' }], 'rates[0].rate'],
      [[good, good, { prefix: '34', rate: '0.01' }], 'rates[2].destination'],
      [[{ prefix: '34', destination: 'Spain', rate: '0.01', initblock: 0 }], 'rates[0].initblock'],
      [[{ prefix: '34', destination: 'Spain', rate: '0.01', billingblock: 'x' }], 'rates[0].billingblock'],
      [[{ prefix: '34', destination: 'Spain', rate: '0.01', minimal_time: -1 }], 'rates[0].minimal_time'],
      [[{ prefix: '34', destination: 'Spain', rate: '0.01', connect_charge: 'free' }], 'rates[0].connect_charge'],
      [['not a row'], 'rates[0]'],
      [[], 'rates'],
      ['44,UK,0.02', 'rates'],
    ];
    for (const [rates, field] of cases) {
      const res = await t.call('admin', 'add-rates', { body: { plan_id: p.id, rates } });
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.field, field);
      assert.ok(res.body.error.includes(field), `the error names ${field}: ${res.body.error}`);
    }
    assert.equal((await ratesOf(p.id)).size, 0, 'a rejected request writes no row');
    const unknownPlan = await t.call('admin', 'add-rates', { body: { plan_id: 987654, rates: [good] } });
    assert.equal(unknownPlan.status, 404);
    const badPlan = await t.call('admin', 'add-rates', { body: { plan_id: 'x', rates: [good] } });
    assert.equal(badPlan.status, 400);
    assert.equal(badPlan.body.field, 'plan_id');
  });

  it('create-reseller derives a retail plan at wholesale +20% exactly, or +markup_percent', async () => {
    const { plan: wholesale } = await t.admin('create-plan', { name: 'WHOLESALE' });
    await t.admin('add-rates', { plan_id: wholesale.id, rates: WHOLESALE_RATES });

    const res = await t.call('admin', 'create-reseller', { body: { plan_id: wholesale.id, balance: '10' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const r = res.body;
    assert.equal(r.reseller.role, 'reseller');
    assert.equal(typeof r.reseller.login, 'string');
    assert.equal(r.reseller.plan_id, wholesale.id);
    assert.equal(r.reseller.balance, '10.0000');
    assert.match(r.api_key, /^\S{20,}$/);
    assert.equal(typeof r.password, 'string', 'a generated password is shown once');
    const retailId = r.retail_plan.id as number;
    assert.equal(r.reseller.retail_plan_id, retailId);
    assert.notEqual(retailId, wholesale.id);
    assert.equal(r.retail_plan.rates, 0, 'no rate row is written: retail prices are computed from wholesale');
    assert.equal((await ratesOf(retailId)).size, 0);

    const retail = await retailOf(r);
    assert.equal(retail.size, 4);
    assert.equal(retail.get('1')?.rate, 14_400);
    assert.equal(retail.get('44')?.rate, 30_000);
    assert.equal(retail.get('44')?.connect, 60_000);
    assert.equal(retail.get('447')?.rate, 1_440_000);
    assert.equal(retail.get('999')?.rate, 4, '3.6 micros rounds half-up to 4');
    assert.deepEqual(
      [retail.get('447')?.destination, retail.get('447')?.initblock, retail.get('447')?.billingblock, retail.get('447')?.minimal_time],
      ['UK Mobile', 60, 6, 3],
    );

    const custom = await t.admin('create-reseller', { plan_id: wholesale.id, markup_percent: '33.5', password: 'Reseller1234' });
    assert.equal(custom.password, undefined, 'a given password is not echoed');
    const c = await retailOf(custom);
    assert.equal(c.get('1')?.rate, 16_020);
    assert.equal(c.get('44')?.rate, 33_375);
    assert.equal(c.get('44')?.connect, 66_750);
    assert.equal(c.get('447')?.rate, 1_602_000);
    assert.equal(c.get('999')?.rate, 4);

    const half = await t.admin('create-reseller', { plan_id: wholesale.id, markup_percent: 50 });
    const h = await retailOf(half);
    assert.equal(h.get('1')?.rate, 18_000);
    assert.equal(h.get('999')?.rate, 5, '4.5 micros rounds half-up to 5');

    // Rates added to the wholesale plan later reach every derived retail plan with its markup.
    const added = await t.admin('add-rates', { plan_id: wholesale.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.0100' }] });
    assert.equal(added.retail_plans_updated, 0, 'no retail plan is written');
    assert.equal((await retailOf(r)).get('49')?.rate, 12_000);
    assert.equal((await retailOf(custom)).get('49')?.rate, 13_350);
    assert.equal((await ratesOf(wholesale.id)).get('49')?.rate, 10_000);
  });

  it('create-reseller refuses an unknown or non-wholesale plan and a bad markup', async () => {
    const { plan: wholesale } = await t.admin('create-plan', { name: 'WHOLESALE-2' });
    const reseller = await t.admin('create-reseller', { plan_id: wholesale.id });
    const onRetail = await t.call('admin', 'create-reseller', { body: { plan_id: reseller.retail_plan.id } });
    assert.equal(onRetail.status, 404);
    assert.equal((await t.call('admin', 'create-reseller', { body: { plan_id: 987654 } })).status, 404);
    for (const markup_percent of ['-5', 'much', '1001']) {
      const res = await t.call('admin', 'create-reseller', { body: { plan_id: wholesale.id, markup_percent } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, 'markup_percent');
    }
  });

  it('create-client returns the client, an API key that works, and its SIP account', async () => {
    const res = await t.call('admin', 'create-client', { body: { plan_id: plan.id, login: 'alice-01', password: 'AlicePass123', balance: '3.5' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body;
    assert.equal(body.success, true);
    assert.equal(body.client.login, 'alice-01');
    assert.equal(body.client.role, 'client');
    assert.equal(body.client.plan_id, plan.id);
    assert.equal(body.client.balance, '3.5000');
    assert.equal(body.password, undefined);
    assert.equal(body.sip.name, 'alice-01');
    assert.equal(typeof body.sip.password, 'string');
    assert.ok(body.sip.password.length >= 8);

    const me = await t.call('client', 'me', { key: body.api_key });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.data, {
      id: body.client.id, username: 'alice-01', balance: '3.5000', active: 1, id_plan: plan.id, plan_name: 'BASE-PLAN',
    });
    const sip = await t.call('client', 'sip', { key: body.api_key });
    assert.deepEqual(sip.body.data.map((s: { name: string; password: string }) => [s.name, s.password]), [['alice-01', body.sip.password]]);

    const generated = await t.admin('create-client', { plan_id: plan.id });
    assert.equal(typeof generated.password, 'string', 'a generated password is shown once');
    assert.notEqual(generated.client.login, 'alice-01');
    assert.equal(generated.sip.name, generated.client.login);
  });

  it('create-client stores the API key only as SHA-256 and the password only as scrypt', async () => {
    const password = 'ClearText-Secret-42';
    const body = await t.admin('create-client', { plan_id: plan.id, password });
    const db = t.server.ctx.db;
    const keys = await db.selectFrom('api_keys').selectAll().where('account_id', '=', body.client.id).execute();
    assert.equal(keys.length, 1);
    assert.equal(keys[0].key_hash, crypto.createHash('sha256').update(body.api_key).digest('hex'));

    const account = await db.selectFrom('accounts').selectAll().where('id', '=', body.client.id).executeTakeFirstOrThrow();
    const parts = (account.password_hash ?? '').split('$');
    assert.equal(parts[0], 'scrypt');
    const [N, r, p] = parts.slice(1, 4).map(Number);
    const salt = Buffer.from(parts[4], 'base64');
    const expected = Buffer.from(parts[5], 'base64');
    const derive = (pw: string) => crypto.scryptSync(pw, salt, expected.length, { N, r, p, maxmem: 256 * 1024 * 1024 });
    assert.ok(derive(password).equals(expected), 'the stored hash is scrypt of the password');
    assert.ok(!derive('wrong-password-1').equals(expected));

    // Neither the key, nor the password, nor the SIP password is stored in clear anywhere we can see.
    const everything = JSON.stringify({
      accounts: await db.selectFrom('accounts').selectAll().execute(),
      api_keys: await db.selectFrom('api_keys').selectAll().execute(),
      sip_accounts: await db.selectFrom('sip_accounts').selectAll().execute(),
      ps_auths: await db.selectFrom('ps_auths').selectAll().execute(),
      subscriber: await db.selectFrom('subscriber').selectAll().execute(),
      audit_log: await db.selectFrom('audit_log').selectAll().execute(),
      idempotency_keys: await db.selectFrom('idempotency_keys').selectAll().execute(),
      settings: await db.selectFrom('settings').selectAll().execute(),
    }, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    assert.ok(!everything.includes(body.api_key), 'api key in clear');
    assert.ok(!everything.includes(body.api_key.slice(12)), 'api key body in clear');
    assert.ok(!everything.includes(password), 'password in clear');
    assert.ok(!everything.includes(body.sip.password), 'SIP password in clear');
    assert.ok(!everything.includes(t.adminKey), 'admin key in clear');
  });

  it('create-client refuses bad input', async () => {
    const cases: Array<[Record<string, unknown>, number, string | undefined]> = [
      [{}, 400, 'plan_id'],
      [{ plan_id: 'abc' }, 400, 'plan_id'],
      [{ plan_id: 987654 }, 404, undefined],
      [{ plan_id: plan.id, password: 'weak' }, 400, 'password'],
      [{ plan_id: plan.id, login: 'a b' }, 400, 'login'],
      [{ plan_id: plan.id, login: 'bob_web1' }, 400, 'login'],
      [{ plan_id: plan.id, balance: 'plenty' }, 400, 'balance'],
      [{ plan_id: plan.id, login: 'alice-01' }, 409, undefined],
      [{ plan_id: plan.id, login: client.login }, 409, undefined],
    ];
    for (const [body, status, field] of cases) {
      const res = await t.call('admin', 'create-client', { body });
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      if (field) assert.equal(res.body.field, field);
    }
    const taken = await t.call('admin', 'create-client', { body: { plan_id: plan.id, login: 'alice-01' } });
    assert.equal(taken.body.code, 'LOGIN_TAKEN');
  });

  it('create-api-key issues another working key; account lists key prefixes only', async () => {
    const c = await createClient(t, plan.id);
    const res = await t.call('admin', 'create-api-key', { body: { login: c.login } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body.api_key, 'string');
    assert.notEqual(res.body.api_key, c.key);
    for (const key of [c.key, res.body.api_key]) {
      const me = await t.call('client', 'me', { key });
      assert.equal(me.status, 200);
      assert.equal(me.body.data.username, c.login);
    }
    const account = await t.call('admin', 'account', { query: { login: c.login } });
    assert.equal(account.status, 200);
    assert.equal(account.body.account.login, c.login);
    assert.equal(account.body.api_keys.length, 2);
    for (const k of account.body.api_keys) {
      assert.ok(c.key.startsWith(k.prefix) || res.body.api_key.startsWith(k.prefix));
      assert.ok(k.prefix.length < 16);
    }
    assert.ok(!JSON.stringify(account.body).includes(res.body.api_key));
    const unknown = await t.call('admin', 'create-api-key', { body: { login: 'nobody-here' } });
    assert.equal(unknown.status, 404);
    const missing = await t.call('admin', 'create-api-key', { body: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'login');
  });

  it('refill credits by a ledger posting; a negative correction cannot go below zero', async () => {
    const c = await createClient(t, plan.id, { balance: '1' });
    const credit = await t.call('admin', 'refill', { body: { login: c.login, amount: '2.5', description: 'Wire' } });
    assert.equal(credit.status, 200, JSON.stringify(credit.body));
    assert.equal(credit.body.amount, '2.5000');
    assert.equal(credit.body.balance, '3.5000');
    assert.equal(typeof credit.body.posting_id, 'number');
    assert.equal(await clientBalance(c.key), '3.5000');

    const correction = await t.call('admin', 'refill', { body: { login: c.login, amount: -1.25 } });
    assert.equal(correction.status, 200, JSON.stringify(correction.body));
    assert.equal(correction.body.balance, '2.2500');

    const tooMuch = await t.call('admin', 'refill', { body: { login: c.login, amount: '-2.250001' } });
    assert.equal(tooMuch.status, 402, JSON.stringify(tooMuch.body));
    assert.equal(tooMuch.body.success, false);
    assert.equal(tooMuch.body.code, 'INSUFFICIENT_BALANCE');
    assert.equal(await clientBalance(c.key), '2.2500');

    const toZero = await t.call('admin', 'refill', { body: { login: c.login, amount: '-2.25' } });
    assert.equal(toZero.status, 200);
    assert.equal(await clientBalance(c.key), '0.0000');

    const postings = await t.server.ctx.db.selectFrom('ledger_postings').select(['amount_micros', 'balance_after_micros'])
      .where('account_id', '=', c.id).orderBy('id').execute();
    assert.deepEqual(postings.map((p) => [Number(p.amount_micros), Number(p.balance_after_micros)]),
      [[1_000_000, 1_000_000], [2_500_000, 3_500_000], [-1_250_000, 2_250_000], [-2_250_000, 0]]);
  });

  it('refill refuses bad input', async () => {
    const cases: Array<[Record<string, unknown>, number, string | undefined]> = [
      [{ login: client.login }, 400, 'amount'],
      [{ login: client.login, amount: 0 }, 400, 'amount'],
      [{ login: client.login, amount: 'ten' }, 400, 'amount'],
      [{ login: client.login, amount: '1.0000001' }, 400, 'amount'],
      [{ login: client.login, amount: 1e21 }, 400, 'amount'],
      [{ amount: 1 }, 400, 'login'],
      [{ login: 'nobody-here', amount: 1 }, 404, undefined],
      [{ login: 'admin', amount: 1 }, 400, 'login'],
    ];
    for (const [body, status, field] of cases) {
      const res = await t.call('admin', 'refill', { body });
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      if (field) assert.equal(res.body.field, field);
    }
    assert.equal(await clientBalance(client.key), '1.0000');
  });

  it('refill with an Idempotency-Key credits once', async () => {
    const c = await createClient(t, plan.id);
    const headers = { 'Idempotency-Key': 'bank-tx-777' };
    const first = await t.call('admin', 'refill', { body: { login: c.login, amount: '4' }, headers });
    const second = await t.call('admin', 'refill', { body: { login: c.login, amount: '4' }, headers });
    assert.equal(first.status, 200);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(await clientBalance(c.key), '4.0000');
    const other = await t.call('admin', 'refill', { body: { login: c.login, amount: '5' }, headers });
    assert.equal(other.status, 409);
    assert.equal(other.body.code, 'IDEMPOTENCY_MISMATCH');
    assert.equal(await clientBalance(c.key), '4.0000');
  });

  it('create-vouchers issues distinct codes that a direct client can redeem', async () => {
    const res = await t.call('admin', 'create-vouchers', { body: { value: '5', count: 3 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.vouchers.length, 3);
    assert.equal(new Set(res.body.vouchers).size, 3);
    for (const code of res.body.vouchers) assert.match(code, /^\d{6,32}$/);
    const c = await createClient(t, plan.id);
    const redeem = await t.call('client', 'redeem-voucher', { key: c.key, body: { voucher: res.body.vouchers[1] } });
    assert.equal(redeem.status, 200);
    assert.equal(redeem.body.data.balance, '5.0000');
    const single = await t.admin('create-vouchers', { value: 0.5 });
    assert.equal(single.vouchers.length, 1);
    for (const [body, field] of [[{ value: 0, count: 1 }, 'value'], [{ value: '-1' }, 'value'], [{ count: 2 }, 'value'],
      [{ value: 'x' }, 'value'], [{ value: 1, count: 0 }, 'count'], [{ value: 1, count: 10_001 }, 'count'], [{ value: 1, count: 'many' }, 'count']] as const) {
      const bad = await t.call('admin', 'create-vouchers', { body });
      assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.field, field);
    }
  });

  it('set-account-status deactivates and reactivates an account', async () => {
    const c = await createClient(t, plan.id);
    const off = await t.call('admin', 'set-account-status', { body: { login: c.login, active: false } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.active, 0);
    assert.equal((await t.call('client', 'me', { key: c.key })).body.data.active, 0);
    const refused = await t.call('client', 'create-sip', { key: c.key, body: {} });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'ACCOUNT_INACTIVE');
    const on = await t.admin('set-account-status', { login: c.login, active: true });
    assert.equal(on.active, 1);
    assert.equal((await t.call('client', 'me', { key: c.key })).body.data.active, 1);
    for (const [body, status, field] of [
      [{ login: c.login, active: 'maybe' }, 400, 'active'], [{ login: c.login }, 400, 'active'],
      [{ login: 'nobody-here', active: false }, 404, undefined], [{ login: 'admin', active: false }, 400, 'login'],
    ] as const) {
      const res = await t.call('admin', 'set-account-status', { body });
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      if (field) assert.equal(res.body.field, field);
    }
    assert.equal((await t.call('admin', 'accounts')).status, 200, 'the admin stays active');
  });

  it('create-switch-key issues a key of role switch, which no other API accepts', async () => {
    const res = await t.call('admin', 'create-switch-key', { body: { name: 'edge1' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body.api_key, 'string');
    const account = await t.call('admin', 'account', { query: { login: res.body.login } });
    assert.equal(account.body.account.role, 'switch');
    const again = await t.admin('create-switch-key', { name: 'edge1' });
    assert.equal(again.login, res.body.login);
    assert.notEqual(again.api_key, res.body.api_key);
    assert.equal((await t.call('admin', 'accounts', { key: res.body.api_key })).status, 403);
    assert.equal((await t.call('client', 'me', { key: res.body.api_key })).status, 403);
    const bad = await t.call('admin', 'create-switch-key', { body: {} });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'name');
  });

  it('accounts lists with a role filter, total and paging', async () => {
    const all = await t.call('admin', 'accounts', { query: { limit: 500 } });
    assert.equal(all.status, 200);
    assert.equal(all.body.total, all.body.accounts.length);
    assert.ok(all.body.accounts.some((a: { role: string }) => a.role === 'admin'));

    const clients = await t.call('admin', 'accounts', { query: { role: 'client', limit: 500 } });
    assert.ok(clients.body.total >= 8);
    assert.equal(clients.body.total, clients.body.accounts.length);
    assert.ok(clients.body.accounts.every((a: { role: string }) => a.role === 'client'));
    assert.equal(clients.body.total, all.body.accounts.filter((a: { role: string }) => a.role === 'client').length);
    assert.ok(clients.body.accounts.some((a: { login: string }) => a.login === client.login));

    const ids = clients.body.accounts.map((a: { id: number }) => a.id);
    const page1 = await t.call('admin', 'accounts', { query: { role: 'client', limit: 3, offset: 0 } });
    const page2 = await t.call('admin', 'accounts', { query: { role: 'client', limit: 3, offset: 3 } });
    assert.deepEqual([page1.body.total, page1.body.limit, page1.body.offset], [clients.body.total, 3, 0]);
    assert.deepEqual([page2.body.total, page2.body.offset], [clients.body.total, 3]);
    assert.deepEqual([...page1.body.accounts, ...page2.body.accounts].map((a: { id: number }) => a.id), ids.slice(0, 6));

    const resellers = await t.call('admin', 'accounts', { query: { role: 'reseller' } });
    assert.ok(resellers.body.total >= 3);
    assert.ok(resellers.body.accounts.every((a: { role: string }) => a.role === 'reseller'));
    const admins = await t.call('admin', 'accounts', { query: { role: 'admin' } });
    assert.equal(admins.body.total, 1);

    for (const [query, field] of [[{ role: 'superuser' }, 'role'], [{ limit: 0 }, 'limit'], [{ offset: -1 }, 'offset']] as const) {
      const bad = await t.call('admin', 'accounts', { query });
      assert.equal(bad.status, 400, `${JSON.stringify(query)}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.field, field);
    }
    // Above the maximum, the limit is clamped (CONTRACT §2).
    const clamped = await t.call('admin', 'accounts', { query: { limit: 1000 } });
    assert.equal(clamped.status, 200, JSON.stringify(clamped.body));
    assert.equal(clamped.body.limit, 500);
  });

  it('account shows one account; unknown answers 404', async () => {
    const res = await t.call('admin', 'account', { query: { login: client.login } });
    assert.equal(res.status, 200);
    assert.equal(res.body.account.id, client.id);
    assert.equal(res.body.account.role, 'client');
    assert.equal(res.body.account.balance, '1.0000');
    assert.equal(res.body.account.plan_id, plan.id);
    assert.ok(!JSON.stringify(res.body).includes('scrypt'), 'no password hash in the view');
    assert.equal((await t.call('admin', 'account', { query: { login: 'nobody-here' } })).status, 404);
    const missing = await t.call('admin', 'account');
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'login');
  });

  it('verify-ledger reports a sound ledger', async () => {
    const res = await t.call('admin', 'verify-ledger');
    assert.equal(res.status, 200);
    assert.equal(res.body.success, true);
    assert.equal(res.body.ok_ledger, true);
    assert.deepEqual(res.body.mismatches, []);
    assert.ok(res.body.accounts_checked >= 10);
  });

  it('reseller, client and switch keys are refused by the admin API; no key is 401', async () => {
    const { plan: wholesale } = await t.admin('create-plan', { name: 'WHOLESALE-3' });
    const reseller = await t.admin('create-reseller', { plan_id: wholesale.id });
    const sw = await t.admin('create-switch-key', { name: 'edge2' });
    for (const key of [reseller.api_key, client.key, sw.api_key]) {
      for (const [endpoint, body] of [['accounts', undefined], ['verify-ledger', undefined],
        ['refill', { login: client.login, amount: 100 }], ['create-client', { plan_id: plan.id }],
        ['create-plan', { name: 'SNEAKY' }], ['set-account-status', { login: client.login, active: false }]] as const) {
        const res = await t.call('admin', endpoint, { key, ...(body ? { body } : {}) });
        assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.success, false);
        assert.equal(res.body.code, 'FORBIDDEN');
      }
    }
    assert.equal(await clientBalance(client.key), '1.0000');
    assert.equal((await t.call('client', 'me', { key: client.key })).body.data.active, 1);
    const none = await t.call('admin', 'accounts', { key: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHORIZED');
    const wrong = await t.call('admin', 'accounts', { key: 'll_forged-key-000000000000000000000' });
    assert.equal(wrong.status, 401);
  });

  it('the audit log has a row for every state-changing request: who, what, from where', async () => {
    const db = t.server.ctx.db;
    const last = await db.selectFrom('audit_log').select((eb) => eb.fn.max('id').as('id')).executeTakeFirstOrThrow();
    const since = Number(last.id ?? 0);

    const { plan: p } = await t.admin('create-plan', { name: 'AUDITED' });
    await t.admin('add-rates', { plan_id: p.id, rates: [{ prefix: '1', destination: 'USA', rate: '0.01' }] });
    const c = await t.admin('create-client', { plan_id: p.id, password: 'Audited12345' });
    await t.admin('refill', { login: c.client.login, amount: 2 });
    const refused = await t.call('admin', 'refill', { body: { login: c.client.login, amount: -5 } });
    assert.equal(refused.status, 402);
    await t.admin('set-account-status', { login: c.client.login, active: true });
    await t.call('admin', 'accounts'); // a read
    const forbidden = await t.call('admin', 'create-plan', { key: c.api_key, body: { name: 'NOPE' } });
    assert.equal(forbidden.status, 403);
    const clientWrite = await t.call('client', 'add-callerid', { key: c.api_key, body: { cid: '+14155550100' } });
    assert.equal(clientWrite.status, 200);

    const rows = await db.selectFrom('audit_log').selectAll().where('id', '>', since).orderBy('id').execute();
    assert.deepEqual(
      rows.map((r) => [r.api, r.endpoint, r.method, r.actor_login, r.status_code, r.error_code]),
      [
        ['admin', 'create-plan', 'POST', 'admin', 200, null],
        ['admin', 'add-rates', 'POST', 'admin', 200, null],
        ['admin', 'create-client', 'POST', 'admin', 200, null],
        ['admin', 'refill', 'POST', 'admin', 200, null],
        ['admin', 'refill', 'POST', 'admin', 402, 'INSUFFICIENT_BALANCE'],
        ['admin', 'set-account-status', 'POST', 'admin', 200, null],
        ['admin', 'create-plan', 'POST', c.client.login, 403, 'FORBIDDEN'],
        ['client', 'add-callerid', 'POST', c.client.login, 200, null],
      ],
    );
    for (const r of rows) {
      assert.equal(r.ip, '127.0.0.1');
      assert.match(r.created_at, /^\d{4}-\d{2}-\d{2}/);
      assert.ok(r.actor_id !== null);
      assert.ok(r.actor_role === 'admin' || r.actor_role === 'client');
    }
  });
});
