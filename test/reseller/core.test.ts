import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

interface Reseller { id: number; login: string; key: string; retailPlanId: number }

const rid = (p: string) => `${p}${crypto.randomBytes(4).toString('hex')}`;

describe('reseller api: core', () => {
  let t: TestServer;
  let wholesale: { id: number; name: string };
  let a: Reseller;
  let b: Reseller;
  let adminClient: TestClient;
  let bClient: string;

  async function newReseller(extra: Record<string, unknown> = {}): Promise<Reseller> {
    const body = await t.admin('create-reseller', { plan_id: wholesale.id, ...extra });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id };
  }
  const call = (r: Reseller, endpoint: string, body?: unknown, query?: Record<string, string | number>) =>
    t.call('reseller', endpoint, { key: r.key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) });
  async function newClient(r: Reseller, extra: Record<string, unknown> = {}) {
    const res = await call(r, 'create-client', { plan_id: r.retailPlanId, ...extra });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }
  const account = (login: string) => t.server.ctx.db.selectFrom('accounts').selectAll().where('login', '=', login).executeTakeFirstOrThrow();
  const txCount = async () => Number((await t.server.ctx.db.selectFrom('reseller_transactions')
    .select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const postingsOf = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p')
    .innerJoin('accounts as a', 'a.id', 'p.account_id').select(['p.kind', 'p.amount_micros']).where('a.login', '=', login)
    .orderBy('p.id').execute()).map((r) => ({ kind: r.kind, amount: Number(r.amount_micros) }));

  before(async () => {
    t = await startTestServer();
    wholesale = await createPlan(t);
    a = await newReseller({ balance: '5' });
    b = await newReseller({ balance: '7.5' });
    adminClient = await createClient(t, wholesale.id, { balance: '3' });
    bClient = (await newClient(b)).client.login;
  });
  after(async () => t.close());

  it('me: the documented fields, balance as a JSON number', async () => {
    const res = await call(a, 'me');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true, reseller: { id: a.id, username: a.login, group: 'Agent', balance: 5, active: true } });
    const other = await call(b, 'me');
    assert.equal(other.body.reseller.balance, 7.5);
  });

  it('plans: only its own plans with the documented fields', async () => {
    const res = await call(a, 'plans');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      ok: true,
      plans: [{ id: a.retailPlanId, name: `${a.login}-RETAIL`, signup: true, initial_credit: 0, tariff_limit: 3, agent_rates: 3 }],
    });
    assert.deepEqual((await call(b, 'plans')).body.plans.map((p: { id: number }) => p.id), [b.retailPlanId]);
  });

  it('only reseller keys may use it', async () => {
    assert.equal((await t.call('reseller', 'me', { key: adminClient.key })).status, 403);
    assert.equal((await t.call('reseller', 'me', { key: t.adminKey })).status, 403);
    assert.equal((await t.call('reseller', 'me', { key: null })).status, 401);
    assert.equal((await t.call('reseller', 'clients', { key: a.key, method: 'POST', body: {} })).status, 200, 'a read may be POSTed');
    assert.equal((await t.call('reseller', 'clients', { key: a.key, method: 'DELETE' })).status, 405);
  });

  it('create-client: on its own plan, with SIP login and password, API key and generated password shown once', async () => {
    const res = await call(a, 'create-client', { plan_id: a.retailPlanId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { client, sip, api_key, password } = res.body;
    assert.equal(res.body.ok, true);
    assert.equal(client.plan_id, a.retailPlanId);
    assert.equal(client.plan_name, `${a.login}-RETAIL`);
    assert.equal(client.balance, 0);
    assert.equal(client.active, true);
    assert.equal(sip.name, client.login);
    assert.match(sip.password, /^\S{12,}$/);
    assert.match(api_key, /\S{20,}/);
    assert.match(password, /^\S{8,}$/);
    const row = await account(client.login);
    assert.equal(Number(row.parent_id), a.id);
    // The client's own key works on the Client API, on the same account.
    const me = await t.call('client', 'me', { key: api_key });
    assert.equal(me.body.data.username, client.login);

    // The SIP password is never shown again by a reseller endpoint.
    const one = await call(a, 'client', undefined, { login: client.login });
    const list = await call(a, 'clients', undefined, { limit: 500 });
    for (const r of [one, list]) {
      assert.equal(r.status, 200);
      assert.ok(!JSON.stringify(r.body).includes(sip.password), 'SIP password leaked');
      assert.ok(!JSON.stringify(r.body).includes(password), 'account password leaked');
    }
    assert.deepEqual(one.body.client.sip_accounts, [{ name: sip.name, type: 'main', active: true }]);

    // With its own login and password: no generated password in the answer.
    const login = rid('c');
    const own = await call(a, 'create-client', { plan_id: String(a.retailPlanId), login, password: 'StrongPass123' });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.client.login, login);
    assert.equal(own.body.sip.name, login);
    assert.equal(own.body.password, undefined);
    assert.equal((await call(a, 'create-client', { plan_id: a.retailPlanId, login, password: 'StrongPass123' })).status, 409);
  });

  it('create-client: a foreign plan is refused (404) and nothing is created', async () => {
    const before = await t.server.ctx.db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    for (const planId of [wholesale.id, b.retailPlanId, 999999]) {
      const res = await call(a, 'create-client', { plan_id: planId, login: rid('x') });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    const after = await t.server.ctx.db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(after.n), Number(before.n));
  });

  it('create-client: invalid input names the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'plan_id'],
      [{ plan_id: 'abc' }, 'plan_id'],
      [{ plan_id: 0 }, 'plan_id'],
      [{ plan_id: a.retailPlanId, login: 'a b' }, 'login'],
      [{ plan_id: a.retailPlanId, login: 'x1_web1' }, 'login'],
      [{ plan_id: a.retailPlanId, password: 'short' }, 'password'],
      [{ plan_id: a.retailPlanId, password: 'onlyletterslong' }, 'password'],
    ];
    for (const [body, field] of cases) {
      const res = await call(a, 'create-client', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field);
      assert.equal(res.body.ok, false);
    }
  });

  it('client: its own client; another reseller\'s or an admin client is 404', async () => {
    const c = await newClient(a);
    const res = await call(a, 'client', undefined, { login: c.client.login });
    assert.equal(res.status, 200);
    assert.equal(res.body.client.id, c.client.id);
    assert.equal(res.body.client.login, c.client.login);
    assert.equal(res.body.client.balance, 0);
    for (const login of [bClient, adminClient.login, b.login, 'nobody-here']) {
      const r = await call(a, 'client', undefined, { login });
      assert.equal(r.status, 404, login);
      assert.deepEqual(r.body, { ok: false, error: 'Client not found', code: 'NOT_FOUND' });
    }
    const missing = await call(a, 'client');
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'login');
  });

  it('clients: its own only, paged, with total', async () => {
    const r = await newReseller();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await newClient(r)).client.login);
    const all = await call(r, 'clients');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 3);
    assert.deepEqual(all.body.clients.map((c: { login: string }) => c.login), made);
    const page = await call(r, 'clients', undefined, { limit: 1, offset: 1 });
    assert.equal(page.body.total, 3);
    assert.equal(page.body.limit, 1);
    assert.equal(page.body.offset, 1);
    assert.deepEqual(page.body.clients.map((c: { login: string }) => c.login), [made[1]]);
    const ofA = (await call(a, 'clients', undefined, { limit: 500 })).body.clients.map((c: { login: string }) => c.login);
    assert.ok(!ofA.includes(bClient));
    assert.ok(!ofA.includes(adminClient.login));
    assert.ok(!ofA.some((l: string) => made.includes(l)));
    assert.equal((await call(r, 'clients', undefined, { limit: 1000 })).body.limit, 500, 'a limit above 500 is clamped');
    const badQueries: Array<Record<string, string | number>> = [{ limit: 0 }, { limit: 'x' }, { offset: -1 }];
    for (const query of badQueries) {
      const bad = await call(r, 'clients', undefined, query);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, Object.keys(query)[0]);
    }
  });

  it('transfer: credits the client\'s retail balance, does not charge the reseller, records a transaction', async () => {
    const c = await newClient(a);
    const login = c.client.login;
    const res = await call(a, 'transfer', { login, amount: 1, external_id: rid('ORDER-') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.transaction.type, 'transfer');
    assert.equal(res.body.transaction.status, 'success');
    assert.equal(res.body.transaction.amount, 1);
    assert.equal(res.body.transaction.login, login);
    assert.deepEqual(res.body.client, { login, balance: 1 });
    const str = await call(a, 'transfer', { login, amount: '2.50' });
    assert.equal(str.status, 200, JSON.stringify(str.body));
    assert.equal(str.body.client.balance, 3.5);
    assert.equal(str.body.transaction.external_id, null);
    assert.equal((await t.call('client', 'balance', { key: c.api_key })).body.data.balance, '3.5000');
    assert.equal((await call(a, 'me')).body.reseller.balance, 5);
    assert.deepEqual(await postingsOf(login), [{ kind: 'transfer', amount: 1_000_000 }, { kind: 'transfer', amount: 2_500_000 }]);
    const rows = await t.server.ctx.db.selectFrom('reseller_transactions').selectAll().where('client_id', '=', c.client.id).orderBy('id').execute();
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((r) => [r.kind, r.status, Number(r.amount_micros), Number(r.reseller_id)]),
      [['transfer', 'success', 1_000_000, a.id], ['transfer', 'success', 2_500_000, a.id]]);
    assert.ok(rows.every((r) => r.posting_id !== null));
    // The client sees it in its refill history.
    const refills = await t.call('client', 'refills', { key: c.api_key });
    assert.equal(refills.body.data.total, 2);
    assert.equal(refills.body.data.refills[0].kind, 'transfer');
  });

  it('transfer: invalid input names the field and changes nothing', async () => {
    const c = await newClient(a);
    const before = await txCount();
    const cases: [Record<string, unknown>, string][] = [
      [{ login: c.client.login }, 'amount'],
      [{ login: c.client.login, amount: 0 }, 'amount'],
      [{ login: c.client.login, amount: '-1' }, 'amount'],
      [{ login: c.client.login, amount: 'ten' }, 'amount'],
      [{ login: c.client.login, amount: '1.0000001' }, 'amount'],
      [{ amount: 1 }, 'login'],
      [{ login: c.client.login, amount: 1, external_id: 'x'.repeat(201) }, 'external_id'],
    ];
    for (const [body, field] of cases) {
      const res = await call(a, 'transfer', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field);
    }
    assert.equal(await txCount(), before);
    assert.equal(Number((await account(c.client.login)).balance_micros), 0);
  });

  it('transfer: another reseller\'s client or an admin client is 404 and nothing changes', async () => {
    const before = await txCount();
    const balances = [Number((await account(bClient)).balance_micros), Number((await account(adminClient.login)).balance_micros)];
    for (const login of [bClient, adminClient.login, b.login]) {
      const res = await call(a, 'transfer', { login, amount: 5, external_id: rid('X-') });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assert.equal(await txCount(), before);
    assert.deepEqual([Number((await account(bClient)).balance_micros), Number((await account(adminClient.login)).balance_micros)], balances);
  });

  it('transfer: 50 concurrent duplicates of one external_id credit once; another amount is 409', async () => {
    const c = await newClient(a);
    const externalId = rid('ORDER-DEMO-');
    const body = { login: c.client.login, amount: 1, external_id: externalId };
    const results = await Promise.all(Array.from({ length: 50 }, () => call(a, 'transfer', body)));
    assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
    const ids = new Set(results.map((r) => r.body.transaction.id));
    assert.equal(ids.size, 1);
    assert.deepEqual(results[0].body, results[49].body);
    assert.equal(results.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 49);
    assert.equal(Number((await account(c.client.login)).balance_micros), 1_000_000);
    assert.deepEqual(await postingsOf(c.client.login), [{ kind: 'transfer', amount: 1_000_000 }]);
    const rows = await t.server.ctx.db.selectFrom('reseller_transactions').selectAll().where('external_id', '=', externalId).execute();
    assert.equal(rows.length, 1);

    const mismatch = await call(a, 'transfer', { ...body, amount: 2 });
    assert.equal(mismatch.status, 409);
    assert.equal(mismatch.body.code, 'IDEMPOTENCY_MISMATCH');
    assert.equal(Number((await account(c.client.login)).balance_micros), 1_000_000);
    // The key belongs to this reseller: another one may use the same external_id.
    const theirs = await call(b, 'transfer', { login: bClient, amount: 1, external_id: externalId });
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
  });

  it('transactions: its own transfers and payments, newest first, with total and status filter', async () => {
    const r = await newReseller();
    const c = (await newClient(r)).client.login;
    await call(r, 'transfer', { login: c, amount: '1.25', external_id: 'T-1' });
    await call(r, 'register-agent-payment', { login: c, amount: '20.00', currency: 'EUR', provider: 'plisio', external_id: 'P-1', provider_txid: 'tx1', status: 'pending' });
    await call(r, 'transfer', { login: c, amount: 3 });
    const all = await call(r, 'transactions');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 3);
    assert.deepEqual(all.body.transactions.map((x: { type: string; status: string; amount: number }) => [x.type, x.status, x.amount]),
      [['transfer', 'success', 3], ['payment', 'pending', 20], ['transfer', 'success', 1.25]]);
    const payment = all.body.transactions[1];
    assert.equal(payment.login, c);
    assert.equal(payment.currency, 'EUR');
    assert.equal(payment.provider, 'plisio');
    assert.equal(payment.external_id, 'P-1');
    assert.equal(payment.provider_txid, 'tx1');
    assert.equal(payment.credited, false);
    const ok = await call(r, 'transactions', undefined, { status: 'success', limit: 10, offset: 0 });
    assert.equal(ok.body.total, 2);
    assert.ok(ok.body.transactions.every((x: { status: string }) => x.status === 'success'));
    assert.equal((await call(r, 'transactions', undefined, { status: 'paid' })).body.total, 2);
    assert.equal((await call(r, 'transactions', undefined, { status: 'pending' })).body.total, 1);
    const paged = await call(r, 'transactions', undefined, { limit: 1, offset: 2 });
    assert.equal(paged.body.total, 3);
    assert.equal(paged.body.transactions[0].amount, 1.25);
    // Others see none of them.
    const theirs = await call(b, 'transactions', undefined, { limit: 500 });
    assert.ok(!theirs.body.transactions.some((x: { login: string }) => x.login === c));
    const bad = await call(r, 'transactions', undefined, { status: 'no such; status' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'status');
  });

  it('set-client-status: deactivates and activates its own client only', async () => {
    const c = await newClient(a);
    const login = c.client.login;
    const off = await call(a, 'set-client-status', { login, active: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.active, false);
    assert.equal((await account(login)).active, 0);
    assert.equal((await t.call('client', 'me', { key: c.api_key })).body.data.active, 0);
    assert.equal((await t.call('client', 'create-sip', { key: c.api_key, body: {} })).status, 403);
    assert.equal((await call(a, 'client', undefined, { login })).body.client.active, false);
    const on = await call(a, 'set-client-status', { login, active: true });
    assert.equal(on.body.active, true);
    assert.equal((await account(login)).active, 1);

    for (const other of [bClient, adminClient.login]) {
      const res = await call(a, 'set-client-status', { login: other, active: false });
      assert.equal(res.status, 404);
      assert.equal((await account(other)).active, 1);
    }
    for (const [body, field] of [[{ login }, 'active'], [{ login, active: 'maybe' }, 'active'], [{ active: false }, 'login']] as const) {
      const res = await call(a, 'set-client-status', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.field, field);
    }
    assert.equal((await account(login)).active, 1);
  });

  it('change-plan: only to its own plans, only for its own clients', async () => {
    const c = await newClient(a);
    const login = c.client.login;
    // A second plan of reseller A (no API creates one yet).
    const second = await t.server.ctx.db.insertInto('plans').values({
      owner_id: a.id, name: 'A-SECOND', signup: 0, initial_credit_micros: 0n, selectable: 1, tariff_limit: 3,
      wholesale_plan_id: null, created_at: new Date().toISOString(),
    }).returning('id').executeTakeFirstOrThrow();
    const res = await call(a, 'change-plan', { login, plan_id: Number(second.id) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { ok: true, login, plan_id: Number(second.id), plan_name: 'A-SECOND', changed: true });
    assert.equal(Number((await account(login)).plan_id), Number(second.id));
    const back = await call(a, 'change-plan', { login, plan_id: String(a.retailPlanId) });
    assert.equal(back.status, 200);
    assert.equal(Number((await account(login)).plan_id), a.retailPlanId);
    assert.equal((await call(a, 'plans')).body.plans.length, 2);

    for (const planId of [wholesale.id, b.retailPlanId, 999999]) {
      const r = await call(a, 'change-plan', { login, plan_id: planId });
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.equal(Number((await account(login)).plan_id), a.retailPlanId);
    }
    for (const other of [bClient, adminClient.login]) {
      const before = Number((await account(other)).plan_id);
      const r = await call(a, 'change-plan', { login: other, plan_id: a.retailPlanId });
      assert.equal(r.status, 404);
      assert.equal(Number((await account(other)).plan_id), before);
    }
    for (const [body, field] of [[{ login }, 'plan_id'], [{ login, plan_id: -3 }, 'plan_id'], [{ plan_id: a.retailPlanId }, 'login']] as const) {
      const r = await call(a, 'change-plan', body);
      assert.equal(r.status, 400);
      assert.equal(r.body.field, field);
    }
  });

  it('an inactive reseller reads but every write answers 403 ACCOUNT_INACTIVE and changes nothing', async () => {
    const r = await newReseller({ balance: '2' });
    const c = await newClient(r);
    const login = c.client.login;
    await call(r, 'transfer', { login, amount: 1 });
    await t.admin('set-account-status', { login: r.login, active: false });

    const me = await call(r, 'me');
    assert.equal(me.status, 200);
    assert.equal(me.body.reseller.active, false);
    for (const endpoint of ['plans', 'clients', 'transactions', 'agent-markup']) {
      assert.equal((await call(r, endpoint)).status, 200, endpoint);
    }
    assert.equal((await call(r, 'client', undefined, { login })).status, 200);

    const before = { tx: await txCount(), client: await account(login), reseller: await account(r.login) };
    const writes: [string, Record<string, unknown>][] = [
      ['create-client', { plan_id: r.retailPlanId }],
      ['transfer', { login, amount: 1 }],
      ['transfer', { login, amount: 1, external_id: rid('E-') }],
      ['set-client-status', { login, active: false }],
      ['change-plan', { login, plan_id: r.retailPlanId }],
      ['register-agent-payment', { login, amount: '1', currency: 'EUR', provider: 'plisio', external_id: rid('P-'), provider_txid: 't', status: 'paid' }],
      ['set-agent-markup', { markup_percent: 50 }],
    ];
    for (const [endpoint, body] of writes) {
      const res = await call(r, endpoint, body);
      assert.equal(res.status, 403, `${endpoint}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
    }
    assert.equal(await txCount(), before.tx);
    assert.deepEqual(await account(login), before.client);
    assert.deepEqual(await account(r.login), before.reseller);
    assert.equal((await call(r, 'clients')).body.total, 1);
  });
});
