import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

interface Reseller { id: number; login: string; key: string; retailPlanId: number }

const eid = () => `plisio_order_${crypto.randomBytes(5).toString('hex')}`;

describe('reseller api: register-agent-payment', () => {
  let t: TestServer;
  let wholesale: { id: number };
  let a: Reseller;
  let b: Reseller;
  let bClient: string;
  let adminClient: TestClient;

  async function newReseller(extra: Record<string, unknown> = {}): Promise<Reseller> {
    const body = await t.admin('create-reseller', { plan_id: wholesale.id, ...extra });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id };
  }
  const call = (r: Reseller, endpoint: string, body?: unknown, query?: Record<string, string | number>) =>
    t.call('reseller', endpoint, { key: r.key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) });
  async function newClient(r: Reseller): Promise<string> {
    const res = await call(r, 'create-client', { plan_id: r.retailPlanId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.client.login;
  }
  const pay = (r: Reseller, body: Record<string, unknown>) => call(r, 'register-agent-payment', body);
  const documented = (login: string, externalId: string, extra: Record<string, unknown> = {}) => ({
    login, amount: '20.00', currency: 'EUR', provider: 'plisio', external_id: externalId, provider_txid: 'tx_or_invoice_id', status: 'paid', ...extra,
  });
  const balanceOf = async (login: string) =>
    Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros').where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);
  const paymentPostings = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p')
    .innerJoin('accounts as c', 'c.id', 'p.account_id').select(['p.amount_micros']).where('c.login', '=', login)
    .where('p.kind', '=', 'payment').execute()).map((r) => Number(r.amount_micros));
  const rowsOf = (externalId: string) => t.server.ctx.db.selectFrom('reseller_transactions').selectAll()
    .where('external_id', '=', externalId).where('kind', '=', 'payment').execute();
  const txCount = async () => Number((await t.server.ctx.db.selectFrom('reseller_transactions')
    .select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  before(async () => {
    t = await startTestServer();
    wholesale = await createPlan(t);
    a = await newReseller({ balance: '3' });
    b = await newReseller();
    bClient = await newClient(b);
    adminClient = await createClient(t, wholesale.id, { balance: '1' });
  });
  after(async () => t.close());

  it('paid: records the payment and credits the client once; a repeat replays', async () => {
    const login = await newClient(a);
    const externalId = eid();
    const res = await pay(a, documented(login, externalId));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    assert.equal(res.body.credited, true);
    assert.equal(res.body.duplicate, false);
    const tx = res.body.transaction;
    assert.equal(tx.type, 'payment');
    assert.equal(tx.login, login);
    assert.equal(tx.amount, 20);
    assert.equal(tx.currency, 'EUR');
    assert.equal(tx.provider, 'plisio');
    assert.equal(tx.external_id, externalId);
    assert.equal(tx.provider_txid, 'tx_or_invoice_id');
    assert.equal(tx.status, 'success');
    assert.equal(tx.credited, true);
    assert.equal(await balanceOf(login), 20_000_000);
    assert.deepEqual(await paymentPostings(login), [20_000_000]);
    // The reseller is not charged.
    assert.equal((await call(a, 'me')).body.reseller.balance, 3);

    const again = await pay(a, documented(login, externalId, { amount: 20 }));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.credited, true);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.transaction.id, tx.id);
    assert.equal(await balanceOf(login), 20_000_000);
    assert.deepEqual(await paymentPostings(login), [20_000_000]);
    // A later report of another status changes nothing once credited.
    const late = await pay(a, documented(login, externalId, { status: 'failed' }));
    assert.equal(late.status, 200);
    assert.equal(late.body.transaction.status, 'success');
    assert.equal(late.body.duplicate, true);
    assert.equal(await balanceOf(login), 20_000_000);
    assert.equal((await rowsOf(externalId)).length, 1);

    const listed = await call(a, 'transactions', undefined, { status: 'success' });
    assert.ok(listed.body.transactions.some((x: { external_id: string; type: string }) => x.external_id === externalId && x.type === 'payment'));
    // The client sees the credit in its own history.
    const key = (await t.admin('create-api-key', { login })).api_key;
    const refills = await t.call('client', 'refills', { key });
    assert.equal(refills.body.data.refills[0].kind, 'payment');
    assert.equal(refills.body.data.refills[0].amount, '20.0000');
  });

  it('other statuses are recorded without credit; a later paid credits once', async () => {
    const login = await newClient(a);
    const externalId = eid();
    const pending = await pay(a, documented(login, externalId, { status: 'pending', provider_txid: undefined }));
    assert.equal(pending.status, 200, JSON.stringify(pending.body));
    assert.equal(pending.body.credited, false);
    assert.equal(pending.body.transaction.status, 'pending');
    assert.equal(await balanceOf(login), 0);
    const repeat = await pay(a, documented(login, externalId, { status: 'pending', provider_txid: undefined }));
    assert.equal(repeat.body.duplicate, true);
    const expired = await pay(a, documented(login, externalId, { status: 'EXPIRED' }));
    assert.equal(expired.body.transaction.status, 'expired');
    assert.equal(expired.body.transaction.provider_txid, 'tx_or_invoice_id');
    assert.equal(expired.body.duplicate, false);
    assert.equal(await balanceOf(login), 0);
    assert.equal((await call(a, 'transactions', undefined, { status: 'expired' })).body.total, 1);

    const paid = await pay(a, documented(login, externalId));
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    assert.equal(paid.body.credited, true);
    assert.equal(paid.body.duplicate, false);
    assert.equal(paid.body.transaction.id, pending.body.transaction.id);
    assert.equal(paid.body.transaction.status, 'success');
    assert.equal(await balanceOf(login), 20_000_000);
    assert.equal((await pay(a, documented(login, externalId))).body.duplicate, true);
    assert.deepEqual(await paymentPostings(login), [20_000_000]);

    for (const status of ['failed', 'cancelled', 'expired', 'pending', 'new', 'wrong_amount_waiting', 'cancelled_duplicate']) {
      const other = eid();
      const res = await pay(a, documented(login, other, { status }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.credited, false);
      assert.equal(res.body.transaction.status, status);
    }
    assert.equal(await balanceOf(login), 20_000_000);
  });

  it('the providers\' own words for paid credit once (Plisio completed/mismatch, Heleket paid/paid_over)', async () => {
    const login = await newClient(a);
    const reports: Array<[string, string, string]> = [
      ['plisio', 'completed', '10.00'], ['plisio', 'mismatch', '2.50'], ['heleket', 'paid', '1.25'], ['heleket', 'Paid_Over', '0.25'],
    ];
    let expected = 0;
    for (const [provider, status, amount] of reports) {
      const externalId = eid();
      // First the provider's in-between words (Plisio `pending internal` with its space), then paid.
      const waiting = await pay(a, documented(login, externalId, { provider, status: provider === 'plisio' ? 'Pending Internal' : 'confirm_check', amount }));
      assert.equal(waiting.status, 200, JSON.stringify(waiting.body));
      assert.equal(waiting.body.credited, false);
      assert.equal(waiting.body.transaction.status, provider === 'plisio' ? 'pending_internal' : 'confirm_check');
      const res = await pay(a, documented(login, externalId, { provider, status, amount }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.credited, true, `${provider} ${status}`);
      assert.equal(res.body.transaction.status, 'success');
      expected += Math.round(Number(amount) * 1_000_000);
      assert.equal(await balanceOf(login), expected);
      // The provider repeating its callback credits nothing more.
      assert.equal((await pay(a, documented(login, externalId, { provider, status, amount }))).body.duplicate, true);
    }
    assert.equal(await balanceOf(login), expected);
    // `completed` finds the credited ones in the transaction list, as `paid` and `success` do.
    const listed = await call(a, 'transactions', undefined, { status: 'completed', limit: 500 });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.transactions.every((tx: { status: string }) => tx.status === 'success'));
  });

  it('an unknown or misspelt status answers 400 listing the accepted ones and records nothing', async () => {
    const login = await newClient(a);
    const before = await txCount();
    for (const status of ['payed', 'complete', 'ok', 'done']) {
      const res = await pay(a, documented(login, eid(), { status }));
      assert.equal(res.status, 400, `${status}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, 'status');
      assert.equal(res.body.code, 'UNKNOWN_PAYMENT_STATUS');
      for (const word of ['paid', 'completed', 'mismatch', 'paid_over', 'pending']) assert.match(res.body.error, new RegExp(`\\b${word}\\b`));
    }
    assert.equal(await txCount(), before);
    assert.equal(await balanceOf(login), 0);
  });

  it('a repeat with another amount, client or currency is 409 and changes nothing', async () => {
    const login = await newClient(a);
    const second = await newClient(a);
    const externalId = eid();
    assert.equal((await pay(a, documented(login, externalId, { status: 'pending' }))).status, 200);
    for (const change of [{ amount: '20.01' }, { login: second }, { currency: 'USD' }, { amount: '20.01', status: 'paid' }]) {
      const res = await pay(a, documented(login, externalId, { status: 'pending', ...change }));
      assert.equal(res.status, 409, `${JSON.stringify(change)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'IDEMPOTENCY_MISMATCH');
    }
    assert.equal(await balanceOf(login), 0);
    assert.equal(await balanceOf(second), 0);
    const [row] = await rowsOf(externalId);
    assert.equal(row.status, 'pending');
    assert.equal(Number(row.amount_micros), 20_000_000);
    // Credited, then a mismatching repeat: still 409, still credited once.
    assert.equal((await pay(a, documented(login, externalId))).body.credited, true);
    const res = await pay(a, documented(login, externalId, { amount: 25 }));
    assert.equal(res.status, 409);
    assert.equal(await balanceOf(login), 20_000_000);
  });

  it('50 concurrent paid reports of one external_id credit exactly once', async () => {
    const login = await newClient(a);
    const externalId = eid();
    const results = await Promise.all(Array.from({ length: 50 }, () => pay(a, documented(login, externalId))));
    assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
    assert.equal(results.filter((r) => r.body.duplicate === false).length, 1);
    assert.ok(results.every((r) => r.body.credited === true && r.body.transaction.status === 'success'));
    assert.equal(new Set(results.map((r) => r.body.transaction.id)).size, 1);
    assert.equal(await balanceOf(login), 20_000_000);
    assert.deepEqual(await paymentPostings(login), [20_000_000]);
    assert.equal((await rowsOf(externalId)).length, 1);
  });

  it('50 concurrent reports (paid and pending) of a pending payment credit exactly once', async () => {
    const login = await newClient(a);
    const externalId = eid();
    assert.equal((await pay(a, documented(login, externalId, { status: 'pending' }))).status, 200);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      pay(a, documented(login, externalId, { status: i % 5 === 0 ? 'pending' : 'paid' }))));
    assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
    assert.equal(results.filter((r) => r.body.credited && !r.body.duplicate).length, 1);
    assert.equal(await balanceOf(login), 20_000_000);
    assert.deepEqual(await paymentPostings(login), [20_000_000]);
    const [row] = await rowsOf(externalId);
    assert.equal(row.status, 'success');
    assert.notEqual(row.posting_id, null);
  });

  it('external_id is per reseller, and payments and transfers do not share keys', async () => {
    const login = await newClient(a);
    const externalId = eid();
    assert.equal((await pay(a, documented(login, externalId))).body.credited, true);
    const theirs = await pay(b, documented(bClient, externalId));
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    assert.equal(theirs.body.credited, true);
    assert.equal(theirs.body.duplicate, false);
    const transfer = await call(a, 'transfer', { login, amount: 1, external_id: externalId });
    assert.equal(transfer.status, 200, JSON.stringify(transfer.body));
    assert.equal(await balanceOf(login), 21_000_000);
  });

  it('another reseller\'s client or an admin client is 404 and nothing is recorded', async () => {
    const before = { count: await txCount(), b: await balanceOf(bClient), admin: await balanceOf(adminClient.login) };
    for (const login of [bClient, adminClient.login, b.login, 'ghost-client']) {
      const res = await pay(a, documented(login, eid()));
      assert.equal(res.status, 404, `${login}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { ok: false, error: 'Client not found', code: 'NOT_FOUND' });
    }
    assert.deepEqual({ count: await txCount(), b: await balanceOf(bClient), admin: await balanceOf(adminClient.login) }, before);
  });

  it('invalid input names the field and records nothing', async () => {
    const login = await newClient(a);
    const before = await txCount();
    const cases: [Record<string, unknown>, string][] = [
      [{ login: undefined }, 'login'],
      [{ amount: undefined }, 'amount'],
      [{ amount: 0 }, 'amount'],
      [{ amount: '-20.00' }, 'amount'],
      [{ amount: 'twenty' }, 'amount'],
      [{ external_id: undefined }, 'external_id'],
      [{ external_id: '' }, 'external_id'],
      [{ external_id: 'x'.repeat(201) }, 'external_id'],
      [{ status: undefined }, 'status'],
      [{ status: 'paid!' }, 'status'],
      [{ status: 'success' }, 'status'],
      [{ status: 'x'.repeat(33) }, 'status'],
      [{ status: 'payed' }, 'status'],
      [{ status: 'complete' }, 'status'],
      [{ currency: 'euro money' }, 'currency'],
      [{ currency: 'E' }, 'currency'],
      [{ provider: 'plisio; drop' }, 'provider'],
      [{ provider_txid: 'x'.repeat(201) }, 'provider_txid'],
    ];
    for (const [change, field] of cases) {
      const res = await pay(a, documented(login, eid(), change));
      assert.equal(res.status, 400, `${JSON.stringify(change)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field, JSON.stringify(change));
    }
    assert.equal(await txCount(), before);
    assert.equal(await balanceOf(login), 0);
    // Optional fields may be left out; amounts may be JSON numbers.
    const minimal = await pay(a, { login, amount: 5.5, external_id: eid(), status: 'paid' });
    assert.equal(minimal.status, 200, JSON.stringify(minimal.body));
    assert.equal(minimal.body.transaction.currency, null);
    assert.equal(await balanceOf(login), 5_500_000);
  });
});
