// Reserved money is the callers' while their calls run: no other debit may take it, and the
// ledger check and the database itself hold reserved = sum(open reservations) >= 0.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, runCli, startTestServer, type TestServer } from '../helpers/server.js';

describe('ledger: reserved money', () => {
  let t: TestServer;
  let key: string;
  let planId: number;
  before(async () => {
    t = await startTestServer();
    const { plan } = await t.admin('create-plan', { name: `RSV-${crypto.randomBytes(3).toString('hex')}` });
    // 0.06/min per second: an hour costs 3.60.
    await t.admin('add-rates', { plan_id: plan.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.06', initblock: 1, billingblock: 1 }] });
    planId = plan.id;
    key = (await t.admin('create-switch-key', { name: 'rsv' })).api_key;
  });
  after(async () => t.close());

  const money = async (login: string) => {
    const row = await t.server.ctx.db.selectFrom('accounts').select(['balance_micros', 'reserved_micros']).where('login', '=', login).executeTakeFirstOrThrow();
    return { balance: Number(row.balance_micros), reserved: Number(row.reserved_micros) };
  };

  it('a negative adjustment leaves at least what open calls hold: 402 INSUFFICIENT_BALANCE otherwise', async () => {
    const c = await createClient(t, planId, { balance: '10' });
    const id = `call-${crypto.randomBytes(6).toString('hex')}`;
    const a = await t.call('switch', 'authorize', { key, body: { uniqueid: id, sip_login: c.sip.name, destination: '4930123456' } });
    assert.equal(a.body.max_duration, 3600);
    assert.deepEqual(await money(c.login), { balance: 10_000_000, reserved: 3_600_000 });

    const tooMuch = await t.call('admin', 'refill', { body: { login: c.login, amount: '-8' } });
    assert.equal(tooMuch.status, 402, JSON.stringify(tooMuch.body));
    assert.equal(tooMuch.body.code, 'INSUFFICIENT_BALANCE');
    assert.deepEqual(await money(c.login), { balance: 10_000_000, reserved: 3_600_000 });
    // The CLI runs the same rule.
    const cli = await runCli(t, ['refill', '--login', c.login, '--amount', '-6.400001']);
    assert.notEqual(cli.code, 0, cli.stdout);
    assert.match(cli.stderr, /INSUFFICIENT_BALANCE/);

    // Exactly what is free may go.
    const exact = await t.call('admin', 'refill', { body: { login: c.login, amount: '-6.4' } });
    assert.equal(exact.status, 200, JSON.stringify(exact.body));
    assert.equal(exact.body.balance, '3.6000');
    // The call talks its full limit and is paid for: the balance does not go below zero.
    const settled = await t.call('switch', 'cdr', { key, body: { uniqueid: id, sip_login: c.sip.name, destination: '4930123456', answered_seconds: 3600, disposition: 'ANSWERED' } });
    assert.equal(settled.body.cost, '3.6000');
    assert.deepEqual(await money(c.login), { balance: 0, reserved: 0 });
    assert.equal((await t.call('admin', 'refill', { body: { login: c.login, amount: '-0.000001' } })).status, 402);
  });

  it('verify-ledger reports an account whose reserved differs from its open reservations', async () => {
    const c = await createClient(t, planId, { balance: '5' });
    await t.call('switch', 'authorize', { key, body: { uniqueid: `call-${crypto.randomBytes(6).toString('hex')}`, sip_login: c.sip.name, destination: '4930123456' } });
    assert.equal((await t.admin('verify-ledger')).ok_ledger, true);
    // Damage done behind the ledger's back (a manual SQL edit).
    await t.server.ctx.db.updateTable('accounts').set((eb) => ({ reserved_micros: eb('reserved_micros', '+', 1) })).where('login', '=', c.login).execute();
    try {
      const report = await t.admin('verify-ledger');
      assert.equal(report.ok_ledger, false);
      assert.deepEqual(report.mismatches, [{
        login: c.login, balance: '5.000000', postings_sum: '5.000000', reserved: '3.600001', open_reservations_sum: '3.600000',
      }]);
      const cli = await runCli(t, ['verify-ledger']);
      assert.equal(cli.code, 1, cli.stdout);
      assert.match(cli.stdout, /"open_reservations_sum": "3.600000"/);
    } finally {
      await t.server.ctx.db.updateTable('accounts').set((eb) => ({ reserved_micros: eb('reserved_micros', '-', 1) })).where('login', '=', c.login).execute();
    }
    assert.equal((await t.admin('verify-ledger')).ok_ledger, true);
  });

  it('the database refuses a negative reserved total or reservation', async () => {
    const c = await createClient(t, planId, { balance: '1' });
    await assert.rejects(
      t.server.ctx.db.updateTable('accounts').set({ reserved_micros: -1 }).where('login', '=', c.login).execute(),
      /reserved|check constraint/i,
    );
    await assert.rejects(
      t.server.ctx.db.insertInto('reservations').values({
        uniqueid: 'neg', switch_ref: 'test', caller_account_id: c.id, account_id: c.id, amount_micros: -1, max_duration: 1,
        expires_at: new Date().toISOString(), created_at: new Date().toISOString(),
        rate_prefix: null, rate_destination: null, rate_micros: null, connect_charge_micros: null, initblock: null, billingblock: null, minimal_time: null,
      }).execute(),
      /check constraint|CHECK/i,
    );
    assert.deepEqual(await money(c.login), { balance: 1_000_000, reserved: 0 });
  });
});
