// Postpaid credit (CONTRACT §4): `available = balance + credit_limit (postpaid only) − open
// reservations`. The operator gives it with Admin `set-credit` (and the CLI command of the
// same name); calls, reservations and debits then spend up to the limit and no further.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, runCli, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const uid = () => `credit-${crypto.randomBytes(6).toString('hex')}`;
/** Germany at 0.60/min billed per second: one second costs 0.01, so seconds = available × 100. */
const GERMANY = '4930123456';

describe('postpaid credit: set-credit, authorization up to the limit, what the account shows', () => {
  let t: TestServer;
  let switchKey: string;
  let planId: number;

  before(async () => {
    t = await startTestServer();
    const { plan } = await t.admin('create-plan', { name: 'CREDIT-PLAN' });
    planId = plan.id;
    await t.admin('add-rates', { plan_id: planId, rates: [{ prefix: '49', destination: 'Germany', rate: '0.60', initblock: 1, billingblock: 1 }] });
    switchKey = (await t.admin('create-switch-key', { name: 'credit-test' })).api_key;
  });
  after(async () => t.close());

  const authorize = async (sipLogin: string, uniqueid = uid()) => {
    const res = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid, sip_login: sipLogin, destination: GERMANY } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { uniqueid, ...res.body };
  };
  const cdr = async (sipLogin: string, uniqueid: string, answeredSeconds: number) => {
    const res = await t.call('switch', 'cdr', {
      key: switchKey,
      body: {
        uniqueid, sip_login: sipLogin, destination: GERMANY, answered_seconds: answeredSeconds,
        disposition: answeredSeconds > 0 ? 'ANSWERED' : 'NO ANSWER',
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const setCredit = (body: Record<string, unknown>) => t.call('admin', 'set-credit', { body });
  const accountOf = async (login: string) => (await t.admin('account', { login })).account;

  it('a postpaid client calls beyond its balance up to its credit limit and no further; balance and account show it', async () => {
    const c: TestClient = await createClient(t, planId, { balance: '1.00' });
    // Prepaid: the balance alone.
    const prepaid = await authorize(c.sip.name);
    assert.equal(prepaid.allowed, true, JSON.stringify(prepaid));
    assert.equal(prepaid.max_duration, 100);
    await cdr(c.sip.name, prepaid.uniqueid, 0);

    const set = await setCredit({ login: c.login, postpaid: true, credit_limit: '2.50' });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body, { success: true, login: c.login, postpaid: 1, credit_limit: '2.5000', balance: '1.0000', available: '3.5000' });

    const call = await authorize(c.sip.name);
    assert.equal(call.allowed, true, JSON.stringify(call));
    assert.equal(call.max_duration, 350, 'balance 1.00 + credit 2.50 at 0.01/s');
    // The whole credit is reserved by that call: a second one, concurrent, cannot start.
    const second = await authorize(c.sip.name);
    assert.equal(second.allowed, false);
    assert.equal(second.reason, 'INSUFFICIENT_BALANCE');
    await cdr(c.sip.name, second.uniqueid, 0);

    const settled = await cdr(c.sip.name, call.uniqueid, 350);
    assert.equal(settled.cost, '3.5000');
    const balance = await t.call('client', 'balance', { key: c.key });
    assert.deepEqual(balance.body.data, { username: c.login, balance: '-2.5000', credit_limit: '2.5000' });
    const me = await t.call('client', 'me', { key: c.key });
    assert.equal(me.body.data.balance, '-2.5000');
    const account = await accountOf(c.login);
    assert.deepEqual([account.postpaid, account.credit_limit, account.balance], [1, '2.5000', '-2.5000']);
    // The limit is used up: no further call.
    const refused = await authorize(c.sip.name);
    assert.equal(refused.allowed, false);
    assert.equal(refused.reason, 'INSUFFICIENT_BALANCE');

    // A payment makes room again, and other debits stop at the limit too.
    await t.admin('refill', { login: c.login, amount: '1.00' });
    const again = await authorize(c.sip.name);
    assert.equal(again.max_duration, 100);
    await cdr(c.sip.name, again.uniqueid, 0);
    const correction = await t.admin('refill', { login: c.login, amount: '-1.00' });
    assert.equal(correction.balance, '-2.5000');
    const beyond = await t.call('admin', 'refill', { body: { login: c.login, amount: '-0.0001' } });
    assert.equal(beyond.status, 402, JSON.stringify(beyond.body));
    assert.equal(beyond.body.code, 'INSUFFICIENT_BALANCE');
  });

  it('withdrawing the credit takes nothing back and stops new calls; the answer shows what is owed', async () => {
    const c = await createClient(t, planId, { balance: '0.50' });
    assert.equal((await setCredit({ login: c.login, postpaid: 1, credit_limit: 2 })).status, 200);
    const call = await authorize(c.sip.name);
    assert.equal(call.max_duration, 250);
    // Lowered while the call is up: the call was reserved, and settles in full.
    const lowered = await setCredit({ login: c.login, postpaid: 'false' });
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
    assert.deepEqual(lowered.body, { success: true, login: c.login, postpaid: 0, credit_limit: '0.0000', balance: '0.5000', available: '-2.0000' });
    assert.equal((await cdr(c.sip.name, call.uniqueid, 250)).cost, '2.5000');
    const balance = await t.call('client', 'balance', { key: c.key });
    assert.deepEqual(balance.body.data, { username: c.login, balance: '-2.0000', credit_limit: '0.0000' });
    const refused = await authorize(c.sip.name);
    assert.equal(refused.reason, 'INSUFFICIENT_BALANCE');
    const account = await accountOf(c.login);
    assert.deepEqual([account.postpaid, account.credit_limit, account.balance], [0, '0.0000', '-2.0000']);
  });

  it('a postpaid reseller lets its clients call on its credit; its clients themselves stay prepaid to it', async () => {
    const created = await t.admin('create-reseller', { plan_id: planId, balance: '0.50', markup_percent: '0' });
    const resellerKey = created.api_key as string;
    const client = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: created.reseller.retail_plan_id } });
    assert.equal(client.status, 200, JSON.stringify(client.body));
    const login = client.body.client.login as string;
    const sipLogin = client.body.sip.name as string;
    const transfer = await t.call('reseller', 'transfer', { key: resellerKey, body: { login, amount: 10 } });
    assert.equal(transfer.status, 200, JSON.stringify(transfer.body));

    const onBalance = await authorize(sipLogin);
    assert.equal(onBalance.max_duration, 50, 'the reseller\'s 0.50 at wholesale 0.01/s');
    await cdr(sipLogin, onBalance.uniqueid, 0);
    const set = await setCredit({ login: created.reseller.login, postpaid: true, credit_limit: 1 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.available, '1.5000');
    const onCredit = await authorize(sipLogin);
    assert.equal(onCredit.max_duration, 150);
    await cdr(sipLogin, onCredit.uniqueid, 0);
    const reseller = await accountOf(created.reseller.login);
    assert.deepEqual([reseller.postpaid, reseller.credit_limit], [1, '1.0000']);

    const own = await setCredit({ login, postpaid: true, credit_limit: 5 });
    assert.equal(own.status, 400, JSON.stringify(own.body));
    assert.equal(own.body.field, 'login');
    assert.equal((await accountOf(login)).postpaid, 0);
  });

  it('refused input answers 400 naming the field (404 for an unknown login) and changes nothing', async () => {
    const c = await createClient(t, planId, { balance: '1' });
    const adminLogin = (await t.call('admin', 'accounts', { query: { role: 'admin' } })).body.accounts[0].login as string;
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ login: c.login, credit_limit: '5' }, 'postpaid'],
      [{ login: c.login, postpaid: 'maybe', credit_limit: '5' }, 'postpaid'],
      [{ login: c.login, postpaid: true }, 'credit_limit'],
      [{ login: c.login, postpaid: true, credit_limit: '' }, 'credit_limit'],
      [{ login: c.login, postpaid: true, credit_limit: '-1' }, 'credit_limit'],
      [{ login: c.login, postpaid: true, credit_limit: 'ten' }, 'credit_limit'],
      [{ login: c.login, postpaid: true, credit_limit: '1.0000001' }, 'credit_limit'],
      [{ login: c.login, postpaid: true, credit_limit: '1000000000' }, 'credit_limit', 'AMOUNT_OUT_OF_RANGE'],
      [{ login: c.login, postpaid: true, credit_limit: [5] }, 'credit_limit'],
      [{ login: c.login, postpaid: false, credit_limit: '5' }, 'credit_limit'],
      [{ postpaid: true, credit_limit: '5' }, 'login'],
      [{ login: adminLogin, postpaid: true, credit_limit: '5' }, 'login'],
      [{ login: 'switch-credit-test', postpaid: true, credit_limit: '5' }, 'login'],
    ];
    for (const [body, field, code] of cases) {
      const res = await setCredit(body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.field, field, JSON.stringify(body));
      assert.equal(res.body.code, code ?? 'VALIDATION_ERROR', JSON.stringify(body));
      assert.match(res.body.error, new RegExp(`^${field}: `));
    }
    const unknown = await setCredit({ login: 'nobody-here', postpaid: true, credit_limit: '5' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'NOT_FOUND');
    const byClient = await t.call('admin', 'set-credit', { key: c.key, body: { login: c.login, postpaid: true, credit_limit: '5' } });
    assert.equal(byClient.status, 403);
    const account = await accountOf(c.login);
    assert.deepEqual([account.postpaid, account.credit_limit, account.balance], [0, '0.0000', '1.0000']);
    const prepaid = await authorize(c.sip.name);
    assert.equal(prepaid.max_duration, 100, 'still only its balance');
    await cdr(c.sip.name, prepaid.uniqueid, 0);
  });

  it('the CLI command set-credit does the same, audited; a refusal exits 2 naming the field', async () => {
    const c = await createClient(t, planId, { balance: '0' });
    const r = await runCli(t, ['set-credit', '--login', c.login, '--postpaid', 'true', '--credit-limit', '0.75']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(JSON.parse(r.stdout), { success: true, login: c.login, postpaid: 1, credit_limit: '0.7500', balance: '0.0000', available: '0.7500' });
    const call = await authorize(c.sip.name);
    assert.equal(call.max_duration, 75);
    await cdr(c.sip.name, call.uniqueid, 0);
    const audited = await t.server.ctx.db.selectFrom('audit_log').select(['api', 'status_code']).where('endpoint', '=', 'set-credit')
      .where('api', '=', 'cli').execute();
    assert.deepEqual(audited, [{ api: 'cli', status_code: 200 }]);

    const refused = await runCli(t, ['set-credit', '--login', c.login, '--postpaid', 'true', '--credit-limit', '-3']);
    assert.equal(refused.code, 2, refused.stderr + refused.stdout);
    assert.match(refused.stderr, /credit_limit: must be at least 0 \(VALIDATION_ERROR\)/);
    assert.equal((await accountOf(c.login)).credit_limit, '0.7500');
  });
});
