import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

/** Generated codes have 12 digits, so a 16-digit code never exists. */
const unknownCode = (n: number) => `9${String(n).padStart(15, '0')}`;

describe('client api: redeem-voucher', () => {
  let t: TestServer;
  let planId: number;

  const balanceOf = async (key: string) => {
    const res = await t.call('client', 'balance', { key });
    assert.equal(res.status, 200);
    return res.body.data.balance as string;
  };
  const refillCount = async (key: string) => {
    const res = await t.call('client', 'refills', { key });
    assert.equal(res.status, 200);
    return res.body.data.total as number;
  };
  const newVoucher = async (value: string | number): Promise<string> => {
    const body = await t.admin('create-vouchers', { value, count: 1 });
    assert.equal(body.vouchers.length, 1);
    return body.vouchers[0];
  };
  const voucherRow = (code: string) => t.server.ctx.db.selectFrom('vouchers').selectAll()
    .where('code', '=', code).executeTakeFirstOrThrow();
  const redeem = (key: string, voucher: unknown, headers: Record<string, string> = {}) =>
    t.call('client', 'redeem-voucher', { key, body: { voucher }, headers });

  before(async () => {
    t = await startTestServer();
    planId = (await createPlan(t, 'STANDARD-PLAN')).id;
  });
  after(async () => t.close());

  it('redeems a voucher: balance rises by its value and refills lists it', async () => {
    const alice = await createClient(t, planId, { balance: '1' });
    const code = await newVoucher('2.5');
    const res = await redeem(alice.key, code);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(typeof res.body.message, 'string');
    assert.equal(res.body.data.amount, '2.5000');
    assert.equal(res.body.data.balance, '3.5000');
    assert.equal(await balanceOf(alice.key), '3.5000');
    const me = await t.call('client', 'me', { key: alice.key });
    assert.equal(me.body.data.balance, '3.5000');
    const refills = await t.call('client', 'refills', { key: alice.key });
    assert.equal(refills.body.data.total, 2);
    assert.deepEqual(
      [refills.body.data.refills[0].kind, refills.body.data.refills[0].amount, refills.body.data.refills[0].balance_after],
      ['voucher', '2.5000', '3.5000'],
    );
    const row = await voucherRow(code);
    assert.equal(Number(row.used_by), alice.id);
    assert.notEqual(row.used_at, null);
  });

  it('a voucher code given as a JSON number is accepted', async () => {
    const c = await createClient(t, planId);
    let code = await newVoucher('0.75');
    while (code.startsWith('0')) code = await newVoucher('0.75');
    const res = await redeem(c.key, Number(code));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.balance, '0.7500');
  });

  it('an unknown code answers 404 and moves nothing', async () => {
    const c = await createClient(t, planId, { balance: '1' });
    const res = await redeem(c.key, unknownCode(1));
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'NOT_FOUND');
    assert.equal(await balanceOf(c.key), '1.0000');
    assert.equal(await refillCount(c.key), 1);
  });

  it('a used code answers 409 VOUCHER_USED, to its redeemer and to anyone else', async () => {
    const first = await createClient(t, planId);
    const second = await createClient(t, planId);
    const code = await newVoucher('5');
    assert.equal((await redeem(first.key, code)).status, 200);
    for (const c of [first, second]) {
      const res = await redeem(c.key, code);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.equal(res.body.code, 'VOUCHER_USED');
    }
    assert.equal(await balanceOf(first.key), '5.0000');
    assert.equal(await balanceOf(second.key), '0.0000');
  });

  it('a malformed code answers 400 naming voucher', async () => {
    const c = await createClient(t, planId);
    const bodies: unknown[] = [{}, { voucher: '' }, { voucher: 'abc' }, { voucher: '12' }, { voucher: '12 34 56' },
      { voucher: true }, { voucher: null }, { voucher: ['123456'] }, { voucher: { code: '123456' } }, { voucher: '1'.repeat(40) }];
    for (const body of bodies) {
      const res = await t.call('client', 'redeem-voucher', { key: c.key, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.success, false);
      assert.equal(res.body.field, 'voucher');
    }
    assert.equal(await balanceOf(c.key), '0.0000');
  });

  it('50 concurrent redemptions of one voucher by one client: exactly one succeeds', async () => {
    const c = await createClient(t, planId, { balance: '1' });
    const code = await newVoucher('3.3333');
    const results = await Promise.all(Array.from({ length: 50 }, () => redeem(c.key, code)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 409).length, 49, `statuses: ${statuses.join(',')}`);
    for (const r of results.filter((x) => x.status === 409)) assert.equal(r.body.code, 'VOUCHER_USED');
    const winner = results.find((r) => r.status === 200)!;
    assert.equal(winner.body.data.balance, '4.3333');
    assert.equal(await balanceOf(c.key), '4.3333');
    assert.equal(await refillCount(c.key), 2, 'one voucher posting besides the opening balance');
  });

  it('50 concurrent redemptions of one voucher by 50 clients: exactly one succeeds', async () => {
    const clients: TestClient[] = [];
    for (let i = 0; i < 50; i += 10) {
      clients.push(...await Promise.all(Array.from({ length: 10 }, () => createClient(t, planId))));
    }
    const code = await newVoucher('7');
    const results = await Promise.all(clients.map((c) => redeem(c.key, code)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 409).length, 49, `statuses: ${statuses.join(',')}`);
    const winnerIndex = statuses.indexOf(200);
    const balances = await Promise.all(clients.map((c) => balanceOf(c.key)));
    assert.deepEqual(balances.filter((b) => b !== '0.0000'), ['7.0000']);
    assert.equal(balances[winnerIndex], '7.0000');
    assert.equal(Number((await voucherRow(code)).used_by), clients[winnerIndex].id);
  });

  it('after repeated wrong codes the client is rate-limited (429), even for a valid code', async () => {
    const guesser = await createClient(t, planId);
    const bystander = await createClient(t, planId);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await redeem(guesser.key, unknownCode(100 + i))).status);
    assert.equal(statuses[0], 404);
    assert.ok(statuses.every((s) => s === 404 || s === 429), `statuses: ${statuses.join(',')}`);
    const firstLimited = statuses.indexOf(429);
    assert.ok(firstLimited > 0, `wrong codes must end in 429 within 10 attempts: ${statuses.join(',')}`);
    assert.ok(statuses.slice(firstLimited).every((s) => s === 429), 'once limited, stays limited');

    const code = await newVoucher('1');
    const limited = await redeem(guesser.key, code);
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.equal(limited.body.success, false);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    assert.equal(await balanceOf(guesser.key), '0.0000');
    assert.equal((await voucherRow(code)).used_at, null, 'the voucher stays unused');

    // The limit is the guesser's own: another client redeems normally.
    const other = await redeem(bystander.key, unknownCode(999));
    assert.equal(other.status, 404);
    const ok = await redeem(bystander.key, code);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('a burst of concurrent wrong codes tries at most 5 of them', async () => {
    const guesser = await createClient(t, planId);
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => redeem(guesser.key, unknownCode(500 + i))));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 404 || s === 429), statuses.join(','));
    assert.equal(statuses.filter((s) => s === 404).length, 5, `exactly 5 codes may be tried: ${statuses.join(',')}`);
    // A valid code redeemed by the same client (not a guess) is refused too, and stays unused.
    const code = await newVoucher('1');
    assert.equal((await redeem(guesser.key, code)).status, 429);
    assert.equal((await voucherRow(code)).used_at, null);
  });

  it('Idempotency-Key: a retry with the same body replays the first result and moves money once', async () => {
    const c = await createClient(t, planId);
    const code = await newVoucher('3');
    const headers = { 'Idempotency-Key': 'redeem-attempt-1' };
    const first = await redeem(c.key, code, headers);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.equal(first.body.data.balance, '3.0000');
    for (let i = 0; i < 2; i++) {
      const again = await redeem(c.key, code, headers);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
    }
    assert.equal(await balanceOf(c.key), '3.0000');
    assert.equal(await refillCount(c.key), 1);

    // Without the key (or with another key) the same voucher is simply used.
    const otherKey = await redeem(c.key, code, { 'Idempotency-Key': 'redeem-attempt-2' });
    assert.equal(otherKey.status, 409);
    assert.equal(otherKey.body.code, 'VOUCHER_USED');
  });

  it('Idempotency-Key: the same key with a different body answers 409 IDEMPOTENCY_MISMATCH', async () => {
    const c = await createClient(t, planId);
    const first = await newVoucher('2');
    const second = await newVoucher('4');
    const headers = { 'Idempotency-Key': 'order-42' };
    assert.equal((await redeem(c.key, first, headers)).status, 200);
    const mismatch = await redeem(c.key, second, headers);
    assert.equal(mismatch.status, 409, JSON.stringify(mismatch.body));
    assert.equal(mismatch.body.success, false);
    assert.equal(mismatch.body.code, 'IDEMPOTENCY_MISMATCH');
    assert.equal(await balanceOf(c.key), '2.0000');
    assert.equal((await voucherRow(second)).used_at, null, 'the second voucher was not touched');
    const ok = await redeem(c.key, second);
    assert.equal(ok.status, 200);
    assert.equal(await balanceOf(c.key), '6.0000');
  });

  it('Idempotency-Key: keys belong to one account', async () => {
    const a = await createClient(t, planId);
    const b = await createClient(t, planId);
    const codeA = await newVoucher('1');
    const codeB = await newVoucher('1.5');
    const headers = { 'Idempotency-Key': 'shared-key' };
    assert.equal((await redeem(a.key, codeA, headers)).status, 200);
    const resB = await redeem(b.key, codeB, headers);
    assert.equal(resB.status, 200, JSON.stringify(resB.body));
    assert.equal(resB.headers.get('idempotent-replayed'), null);
    assert.equal(resB.body.data.balance, '1.5000');
    assert.equal(await balanceOf(a.key), '1.0000');
  });

  it('Idempotency-Key: a failed first attempt stores nothing, so a retry runs afresh', async () => {
    const c = await createClient(t, planId);
    const headers = { 'Idempotency-Key': 'retry-after-error' };
    const unknown = await redeem(c.key, unknownCode(5000), headers);
    assert.equal(unknown.status, 404);
    const again = await redeem(c.key, unknownCode(5000), headers);
    assert.equal(again.status, 404);
    assert.equal(again.headers.get('idempotent-replayed'), null);
  });

  it('Idempotency-Key: 20 concurrent retries move money once, every one answers the same', async () => {
    const c = await createClient(t, planId);
    const code = await newVoucher('9.99');
    const headers = { 'Idempotency-Key': 'burst-1' };
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(c.key, code, headers)));
    for (const r of results) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, results[0].body);
    }
    assert.equal(results.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 19);
    assert.equal(await balanceOf(c.key), '9.9900');
    assert.equal(await refillCount(c.key), 1);
  });
});
