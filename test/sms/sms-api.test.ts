// The SMS API over HTTP (CONTRACT §5), with a client key and with a reseller key naming its
// client: the original document's examples verbatim, prices per segment at the boundaries of
// both encodings, the reseller's retail and wholesale, refusals that change nothing, and the
// built-in provider's answers and delivery reports.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

interface Reseller { id: number; login: string; key: string; retailPlanId: number }

describe('SMS API', () => {
  let t: TestServer;
  let client: TestClient;
  let reseller: Reseller;
  let other: Reseller;
  let resellerClient: string;
  let otherClient: string;

  const sms = (key: string, endpoint: string, body?: Record<string, unknown>, query?: Record<string, string | number>, headers?: Record<string, string>) =>
    t.call('sms', endpoint, { key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}), ...(headers ? { headers } : {}) });
  const postings = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p')
    .innerJoin('accounts as a', 'a.id', 'p.account_id').select(['p.kind', 'p.amount_micros']).where('a.login', '=', login)
    .where('p.kind', '=', 'sms').orderBy('p.id').execute()).map((r) => Number(r.amount_micros));
  const balanceOf = async (login: string) => Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);
  const messageCount = async () => Number((await t.server.ctx.db.selectFrom('sms_messages')
    .select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  async function newReseller(wholesalePlanId: number, balance: string): Promise<Reseller> {
    const body = await t.admin('create-reseller', { plan_id: wholesalePlanId, balance });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id };
  }
  async function newResellerClient(r: Reseller, amount: string): Promise<string> {
    const created = await t.call('reseller', 'create-client', { key: r.key, body: { plan_id: r.retailPlanId } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const login = created.body.client.login;
    if (amount !== '0') {
      const moved = await t.call('reseller', 'transfer', { key: r.key, body: { login, amount } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
    }
    return login;
  }
  /** Waits for the simulator's delivery report of a message. */
  async function finalStatus(key: string, id: number, extra: Record<string, string> = {}): Promise<any> {
    for (let i = 0; i < 200; i++) {
      const res = await sms(key, 'status', undefined, { id, ...extra });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (res.body.status === 'DELIVERED' || res.body.status === 'FAILED') return res.body;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`SMS ${id} never reached a final status`);
  }

  before(async () => {
    t = await startTestServer({ SMS_SIMULATOR_REPORT_MS: '30' });
    for (const [prefix, rate] of [['44', '0.05'], ['447', '0.35'], ['1', '0.01'], ['49', '0.0333']] as const) {
      await t.admin('set-sms-rate', { provider: 'cryptosms', prefix, rate });
    }
    const plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '50' });
    reseller = await newReseller(plan.id, '100');
    other = await newReseller(plan.id, '100');
    resellerClient = await newResellerClient(reseller, '20');
    otherClient = await newResellerClient(other, '20');
  });
  after(async () => { await t?.close(); });

  it('send: the original document\'s example, verbatim, then its delivery report', async () => {
    const res = await sms(client.key, 'send', {
      phone: '+447575396991',
      provider: 'cryptosms',
      sender_id: 'MyBrand',
      message: 'MyBrand: Your code is 123456',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const b = res.body;
    assert.equal(b.success, true);
    assert.equal(typeof b.sms_id, 'number');
    assert.equal(b.provider, 'cryptosms');
    assert.equal(b.provider_name, 'CryptoSMS');
    assert.equal(b.status, 'SENT_TO_PROVIDER');
    assert.equal(b.balance_after, '49.6500');
    assert.deepEqual(b.sender_id, { requested: 'MyBrand', guaranteed: false, warning: 'Sender ID / Caller ID is not guaranteed.' });
    const done = await finalStatus(client.key, b.sms_id);
    assert.equal(done.status, 'DELIVERED');
    assert.equal(done.phone, '+447575396991');
    assert.equal(done.rate, '0.350000');
    assert.equal(done.cost, '0.3500');
    assert.deepEqual(await postings(client.login), [-350_000]);
  });

  it('charges per segment at the boundaries of GSM-7 and UCS-2, extension characters counting two', async () => {
    const cases: Array<[string, string, number]> = [
      ['a'.repeat(160), 'GSM-7', 1], ['a'.repeat(161), 'GSM-7', 2], ['a'.repeat(306), 'GSM-7', 2], ['a'.repeat(307), 'GSM-7', 3],
      ['a'.repeat(158) + '€', 'GSM-7', 1], ['a'.repeat(159) + '€', 'GSM-7', 2], ['{'.repeat(80), 'GSM-7', 1], ['{'.repeat(81), 'GSM-7', 2],
      ['ж'.repeat(70), 'UCS-2', 1], ['ж'.repeat(71), 'UCS-2', 2], ['ж'.repeat(134), 'UCS-2', 2], ['ж'.repeat(135), 'UCS-2', 3],
      ['😀'.repeat(35), 'UCS-2', 1], ['a'.repeat(69) + '😀', 'UCS-2', 2],
    ];
    for (const [message, encoding, segments] of cases) {
      const before = await balanceOf(client.login);
      const res = await sms(client.key, 'send', { phone: '+4930123456', message });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.encoding, encoding, `${message.length} characters`);
      assert.equal(res.body.segments, segments, `${message.length} characters of ${encoding}`);
      // 0.0333 a segment: the charge is exact to the micro-unit.
      assert.equal(before - (await balanceOf(client.login)), 33_300 * segments);
    }
    const tooLong = await sms(client.key, 'send', { phone: '+4930123456', message: 'a'.repeat(1531) });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.code, 'VALIDATION_ERROR');
    assert.match(tooLong.body.error, /message/);
  });

  it('a reseller sends for its own client: the client pays retail, the reseller wholesale', async () => {
    const resellerBefore = await balanceOf(reseller.login);
    const res = await sms(reseller.key, 'send', {
      client_login: resellerClient,
      phone: '+1234567890',
      message: 'Your SMS text',
      provider: 'cryptosms',
      sender_id: 'MyBrand',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'SENT_TO_PROVIDER');
    // Wholesale 0.01, the reseller's default markup 20%: 0.012.
    assert.equal(res.body.cost, '0.0120');
    assert.equal(res.body.balance_after, '19.9880');
    assert.deepEqual(await postings(resellerClient), [-12_000]);
    assert.equal(resellerBefore - (await balanceOf(reseller.login)), 10_000);
    const status = await finalStatus(reseller.key, res.body.sms_id, { client_login: resellerClient });
    assert.equal(status.rate, '0.012000');
    const history = await sms(reseller.key, 'history', undefined, { client_login: resellerClient, limit: 20 });
    assert.equal(history.status, 200);
    assert.equal(history.body.total, 1);
    assert.equal(history.body.messages[0].sms_id, res.body.sms_id);
  });

  it('another reseller\'s client, or another client\'s message, answers 404 and changes nothing', async () => {
    const count = await messageCount();
    const otherBalance = await balanceOf(otherClient);
    const foreign = await sms(reseller.key, 'send', { client_login: otherClient, phone: '+447575396991', message: 'hi' });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.success, false);
    assert.equal(foreign.body.code, 'NOT_FOUND');
    const direct = await sms(reseller.key, 'send', { client_login: client.login, phone: '+447575396991', message: 'hi' });
    assert.equal(direct.status, 404);
    const missing = await sms(reseller.key, 'send', { phone: '+447575396991', message: 'hi' });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /client_login/);
    assert.equal(await messageCount(), count);
    assert.equal(await balanceOf(otherClient), otherBalance);

    const own = await sms(other.key, 'send', { client_login: otherClient, phone: '+447575396991', message: 'hi' });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    for (const [key, extra] of [[client.key, {}], [reseller.key, { client_login: resellerClient }], [reseller.key, { client_login: otherClient }]] as const) {
      const res = await sms(key, 'status', undefined, { id: own.body.sms_id, ...extra });
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    const history = await sms(client.key, 'history');
    assert.ok(!history.body.messages.some((m: any) => m.sms_id === own.body.sms_id));
  });

  it('refuses what the balance cannot pay (402), a reseller with no money too, and charges nothing', async () => {
    const poor = await createClient(t, (await createPlan(t)).id, { balance: '0.30' });
    const count = await messageCount();
    const res = await sms(poor.key, 'send', { phone: '+447575396991', message: 'hi' });
    assert.equal(res.status, 402);
    assert.equal(res.body.code, 'INSUFFICIENT_BALANCE');
    assert.equal(await balanceOf(poor.login), 300_000);

    const empty = await newReseller((await createPlan(t)).id, '0');
    const itsClient = await newResellerClient(empty, '0');
    await t.call('admin', 'refill', { body: { login: itsClient, amount: '5' } });
    const blocked = await sms(empty.key, 'send', { client_login: itsClient, phone: '+447575396991', message: 'hi' });
    assert.equal(blocked.status, 402, JSON.stringify(blocked.body));
    assert.equal(blocked.body.code, 'RESELLER_INSUFFICIENT_BALANCE');
    assert.equal(await balanceOf(itsClient), 5_000_000);
    assert.equal(await messageCount(), count);
  });

  it('refuses bad input naming the field: phone, sender_id, provider, a destination with no rate', async () => {
    const count = await messageCount();
    const cases: Array<[Record<string, unknown>, RegExp, string]> = [
      [{ phone: 'call me', message: 'hi' }, /phone/, 'VALIDATION_ERROR'],
      [{ phone: '+12', message: 'hi' }, /phone/, 'VALIDATION_ERROR'],
      [{ phone: '+447575396991', message: '' }, /message/, 'VALIDATION_ERROR'],
      [{ phone: '+447575396991', message: 'hi', sender_id: 'TooLongSender1' }, /sender_id/, 'VALIDATION_ERROR'],
      [{ phone: '+447575396991', message: 'hi', provider: 'nosuch' }, /provider/, 'VALIDATION_ERROR'],
      [{ phone: '+33612345678', message: 'hi' }, /phone/, 'NO_RATE'],
    ];
    for (const [body, field, code] of cases) {
      const res = await sms(client.key, 'send', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, code);
      assert.match(res.body.error, field);
    }
    assert.equal(await messageCount(), count);
  });

  it('a retry under the same Idempotency-Key sends and charges once, and replays the final answer', async () => {
    const before = await balanceOf(client.login);
    const body = { phone: '+447575396992', message: 'once' };
    const headers = { 'Idempotency-Key': `sms-${Date.now()}` };
    const first = await sms(client.key, 'send', body, undefined, headers);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'SENT_TO_PROVIDER');
    const again = await sms(client.key, 'send', body, undefined, headers);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.body, first.body);
    assert.equal(before - (await balanceOf(client.login)), 350_000);
    const changed = await sms(client.key, 'send', { ...body, message: 'twice' }, undefined, headers);
    assert.equal(changed.status, 409);
    assert.equal(changed.body.code, 'IDEMPOTENCY_MISMATCH');
  });

  it('a message the provider refuses or cannot deliver ends FAILED; the attempt is charged', async () => {
    const refused = await sms(client.key, 'send', { phone: '+447575399999', message: 'no' });
    assert.equal(refused.status, 200, JSON.stringify(refused.body));
    assert.equal(refused.body.status, 'FAILED');
    assert.equal(refused.body.error_code, 'REJECTED');
    const undelivered = await sms(client.key, 'send', { phone: '+447575390000', message: 'no' });
    assert.equal(undelivered.body.status, 'SENT_TO_PROVIDER');
    const done = await finalStatus(client.key, undelivered.body.sms_id);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.error_code, 'UNDELIVERED');
    assert.equal(done.cost, '0.3500');
  });

  it('providers, rates and quota read the prices the client pays', async () => {
    const providers = await sms(client.key, 'providers');
    assert.deepEqual(providers.body, { success: true, providers: [{ code: 'cryptosms', name: 'CryptoSMS', default: true }] });
    const direct = await sms(client.key, 'rates');
    assert.deepEqual(direct.body.rates.map((r: any) => [r.prefix, r.rate]), [['1', '0.010000'], ['44', '0.050000'], ['447', '0.350000'], ['49', '0.033300']]);
    const retail = await sms(reseller.key, 'rates', undefined, { client_login: resellerClient });
    assert.deepEqual(retail.body.rates.map((r: any) => [r.prefix, r.rate]), [['1', '0.012000'], ['44', '0.060000'], ['447', '0.420000'], ['49', '0.039960']]);

    const quota = await sms(client.key, 'quota', undefined, { provider: 'cryptosms' });
    assert.equal(quota.status, 200, JSON.stringify(quota.body));
    const available = Math.round(Number(quota.body.available) * 1e4);
    const byPrefix = Object.fromEntries(quota.body.quota.map((q: any) => [q.prefix, q.messages]));
    assert.equal(byPrefix['447'], Math.floor(available / 3500));
    assert.equal(byPrefix['1'], Math.floor(available / 100));
    // A reseller's client: what its own balance pays at retail, and no more than the reseller's pays at wholesale.
    const rq = await sms(reseller.key, 'quota', undefined, { provider: 'cryptosms', client_login: resellerClient });
    const clientMicros = await balanceOf(resellerClient);
    const resellerMicros = await balanceOf(reseller.login);
    const q447 = rq.body.quota.find((q: any) => q.prefix === '447').messages;
    assert.equal(q447, Math.min(Math.floor(clientMicros / 420_000), Math.floor(resellerMicros / 350_000)));
  });

  it('an inactive client sends nothing', async () => {
    const c = await createClient(t, (await createPlan(t)).id, { balance: '5' });
    await t.admin('set-account-status', { login: c.login, active: 0 });
    const res = await sms(c.key, 'send', { phone: '+447575396991', message: 'hi' });
    assert.equal(res.status, 403);
    assert.equal(await balanceOf(c.login), 5_000_000);
  });

  it('set-sms-rate refuses a bad prefix, rate or provider, naming the field', async () => {
    for (const [body, field] of [
      [{ provider: 'cryptosms', prefix: '4x', rate: '0.1' }, /prefix/],
      [{ provider: 'cryptosms', prefix: '44', rate: '-1' }, /rate/],
      [{ provider: 'cryptosms', prefix: '44', rate: '0' }, /rate/],
      [{ provider: 'other', prefix: '44', rate: '0.1' }, /provider/],
    ] as const) {
      const res = await t.call('admin', 'set-sms-rate', { body });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error, field);
    }
  });
});
