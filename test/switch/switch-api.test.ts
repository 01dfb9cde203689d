import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, isPostgres, startTestServer, twoInstances, type TestClient, type TestServer } from '../helpers/server.js';

const uid = () => `call-${crypto.randomBytes(6).toString('hex')}`;

describe('switch api: authorize and cdr', () => {
  let t: TestServer;
  let switchKey: string;
  let plan: { id: number };

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t);
    switchKey = (await t.admin('create-switch-key', { name: 'asterisk1' })).api_key;
  });
  after(async () => t.close());

  const authorize = (body: Record<string, unknown>) => t.call('switch', 'authorize', { key: switchKey, body });
  const cdr = (body: Record<string, unknown>) => t.call('switch', 'cdr', { key: switchKey, body });
  const balanceOf = async (c: TestClient) => (await t.call('client', 'balance', { key: c.key })).body.data.balance;
  /** One unlabelled series of /metrics (0 before its first observation). */
  const metric = async (name: string) => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  /** SQLite group commit as /metrics reports it: COMMITs and the transactions they carried. */
  const sqliteBatches = async () => ({
    commits: await metric('ledgerline_sqlite_transactions_per_commit_count'),
    transactions: await metric('ledgerline_sqlite_transactions_per_commit_sum'),
  });
  const reservedOf = async (login: string) => Number((await t.server.ctx.db.selectFrom('accounts').select('reserved_micros').where('login', '=', login).executeTakeFirstOrThrow()).reserved_micros);

  it('authorizes with max_duration from the balance, reserves it, and settles the CDR exactly', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    await t.call('client', 'add-callerid', { key: c.key, body: { cid: '+15551234567', set_active: true } });
    const id = uid();
    const a = await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '+447575396991' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(a.body, {
      success: true, allowed: true, max_duration: 498, caller_id: '+15551234567',
      rate: { prefix: '447', destination: 'UK Mobile' }, sip_login: c.sip.name,
    });
    assert.equal(await reservedOf(c.login), 9_960_000);
    // A repeated authorize of the same call reserves nothing more.
    const again = await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991' });
    assert.equal(again.body.max_duration, 498);
    assert.equal(await reservedOf(c.login), 9_960_000);

    const settled = await cdr({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991', start_time: '2026-11-27 10:00:00', answered_seconds: 61, disposition: 'ANSWERED' });
    assert.equal(settled.status, 200, JSON.stringify(settled.body));
    assert.equal(settled.body.cost, '1.3200');
    assert.equal(settled.body.billed_seconds, 66);
    assert.equal(await balanceOf(c), '8.6800');
    assert.equal(await reservedOf(c.login), 0);
    const calls = await t.call('client', 'calls', { key: c.key });
    assert.equal(calls.body.data.total, 1);
    assert.equal(calls.body.data.calls[0].cost, '1.3200');
    assert.equal(calls.body.data.calls[0].sessiontime, 61);

    // Replaying the CDR changes nothing; a replay with other values is a conflict.
    const replay = await cdr({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED' });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
    assert.equal(await balanceOf(c), '8.6800');
    // A late re-authorization of the settled call reserves nothing.
    const late = await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991' });
    assert.equal(late.body.allowed, false);
    assert.equal(late.body.reason, 'ALREADY_SETTLED');
    assert.equal(await reservedOf(c.login), 0);
    const mismatch = await cdr({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991', answered_seconds: 600, disposition: 'ANSWERED' });
    assert.equal(mismatch.status, 409);
    assert.equal(await balanceOf(c), '8.6800');
  });

  it('refuses with a reason: unknown caller, no rate, inactive, not enough for the minimum block', async () => {
    const c = await createClient(t, plan.id, { balance: '1' });
    assert.equal((await authorize({ uniqueid: uid(), sip_login: 'nobody', destination: '441234567' })).body.reason, 'UNKNOWN_CALLER');
    assert.equal((await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '81312345678' })).body.reason, 'NO_RATE');
    // 1.20/min with a 60 s first block costs 1.20: 1.00 cannot start the call.
    const poor = await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '447575396991' });
    assert.equal(poor.body.allowed, false);
    assert.equal(poor.body.reason, 'INSUFFICIENT_BALANCE');
    assert.equal(poor.body.max_duration, 0);
    // The cheaper UK fixed rate is affordable.
    assert.equal((await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '442071234567' })).body.allowed, true);
    await t.admin('set-account-status', { login: c.login, active: false });
    assert.equal((await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '442071234567' })).body.reason, 'ACCOUNT_INACTIVE');
  });

  it('rejects bad input with the field named, and non-switch keys', async () => {
    const c = await createClient(t, plan.id, { balance: '1' });
    const noDest = await authorize({ uniqueid: uid(), sip_login: c.sip.name });
    assert.equal(noDest.status, 400);
    assert.equal(noDest.body.field, 'destination');
    const badDisposition = await cdr({ uniqueid: uid(), sip_login: c.sip.name, destination: '441', answered_seconds: 1, disposition: 'MAYBE' });
    assert.equal(badDisposition.status, 400);
    assert.equal(badDisposition.body.field, 'disposition');
    const clientKey = await t.call('switch', 'authorize', { key: c.key, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '441' } });
    assert.equal(clientKey.status, 403);
  });

  it('an unanswered call is free and goes to the failed calls', async () => {
    const c = await createClient(t, plan.id, { balance: '5' });
    const id = uid();
    await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '442071234567' });
    const res = await cdr({ uniqueid: id, sip_login: c.sip.name, destination: '442071234567', answered_seconds: 0, disposition: 'BUSY' });
    assert.equal(res.body.cost, '0.0000');
    assert.equal(await balanceOf(c), '5.0000');
    assert.equal(await reservedOf(c.login), 0);
    assert.equal((await t.call('client', 'calls', { key: c.key })).body.data.total, 0);
  });

  it('a reseller client pays retail, the reseller wholesale; an empty reseller blocks its clients', async () => {
    const { reseller, api_key: resellerKey } = await t.admin('create-reseller', { plan_id: plan.id, balance: '10' });
    const retailPlanId = reseller.retail_plan_id;
    // The reseller's client (created directly on the retail plan through the database-level service).
    const { createClient: createClientService } = await import('../../src/onboarding/onboarding.js');
    const created = await createClientService(t.server.ctx, reseller.id, { plan_id: retailPlanId });
    await t.admin('refill', { login: created.client.login, amount: '10' });
    const id = uid();
    const a = await authorize({ uniqueid: id, sip_login: created.sip.name, destination: '447575396991' });
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    // Retail 1.44/min: 10.00 buys 414 s; wholesale 1.20/min: 498 s. The smaller wins.
    assert.equal(a.body.max_duration, 414);
    const res = await cdr({ uniqueid: id, sip_login: created.sip.name, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED' });
    assert.equal(res.body.cost, '1.5840');
    const accounts = await t.server.ctx.db.selectFrom('accounts').select(['login', 'balance_micros', 'reserved_micros'])
      .where('login', 'in', [reseller.login, created.client.login]).execute();
    const byLogin = Object.fromEntries(accounts.map((r) => [r.login, r]));
    assert.equal(Number(byLogin[created.client.login].balance_micros), 10_000_000 - 1_584_000);
    assert.equal(Number(byLogin[reseller.login].balance_micros), 10_000_000 - 1_320_000);
    assert.equal(Number(byLogin[reseller.login].reserved_micros), 0);

    // Drain the reseller: its client still has retail credit but cannot call.
    await t.admin('refill', { login: reseller.login, amount: '-8.68' });
    const blocked = await authorize({ uniqueid: uid(), sip_login: created.sip.name, destination: '447575396991' });
    assert.equal(blocked.body.allowed, false);
    assert.equal(blocked.body.reason, 'RESELLER_INSUFFICIENT_BALANCE');
    void resellerKey;
  });

  it('1,000 concurrent authorizations never reserve more than the balance', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const ids = Array.from({ length: 1000 }, uid);
    const results = await Promise.all(ids.map((id) => authorize({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991' })));
    const allowed = results.filter((r) => r.body.allowed === true);
    assert.ok(results.every((r) => r.status === 200));
    // Each allowed call reserves cost(max_duration); their sum stays within the 10.00 available.
    const reserved = await reservedOf(c.login);
    assert.ok(reserved <= 10_000_000, `reserved ${reserved}`);
    assert.ok(allowed.length >= 1 && allowed.length <= 8, `allowed ${allowed.length}`);
    // Every allowed call talks its full limit: the prepaid balance still does not go negative.
    for (const r of results) {
      const i = results.indexOf(r);
      await cdr({ uniqueid: ids[i], sip_login: c.sip.name, destination: '447575396991', answered_seconds: r.body.allowed ? r.body.max_duration : 0, disposition: r.body.allowed ? 'ANSWERED' : 'NO ANSWER' });
    }
    const balance = Number((await balanceOf(c)));
    assert.ok(balance >= 0, `balance ${balance}`);
    assert.equal(await reservedOf(c.login), 0);
  });

  it('a CDR longer than its authorized limit is charged in full and counted for the operator', async () => {
    const overLimit = () => metric('ledgerline_cdrs_over_limit_total');
    const before = await overLimit();
    const c = await createClient(t, plan.id, { balance: '10' });
    const id = uid();
    assert.equal((await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991' })).body.max_duration, 498);
    const settled = await cdr({ uniqueid: id, sip_login: c.sip.name, destination: '447575396991', answered_seconds: 600, disposition: 'ANSWERED' });
    assert.equal(settled.body.cost, '12.0000', 'the call happened: 600 s at 1.20/min');
    assert.equal(await balanceOf(c), '-2.0000');
    assert.equal(await overLimit(), before + 1);
    // Within the limit: not counted.
    const c2 = await createClient(t, plan.id, { balance: '10' });
    const id2 = uid();
    await authorize({ uniqueid: id2, sip_login: c2.sip.name, destination: '447575396991' });
    await cdr({ uniqueid: id2, sip_login: c2.sip.name, destination: '447575396991', answered_seconds: 498, disposition: 'ANSWERED' });
    assert.equal(await balanceOf(c2), '0.0400');
    assert.equal(await overLimit(), before + 1);
  });

  it('a burst of CDRs, replays and conflicting replays settles every call exactly once', async () => {
    // Concurrent requests share commits on SQLite: each must still get its own answer, and a
    // refused one must not disturb those committed with it.
    const clients = [await createClient(t, plan.id, { balance: '100' }), await createClient(t, plan.id, { balance: '100' })];
    const calls = Array.from({ length: 40 }, (_, i) => ({
      uniqueid: uid(), sip_login: clients[i % 2].sip.name, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED',
    }));
    const batchesBefore = await sqliteBatches();
    const first = await Promise.all(calls.map((c) => cdr(c)));
    for (const r of first) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.duplicate, false);
      assert.equal(r.body.cost, '1.3200');
    }
    const replays = await Promise.all(calls.flatMap((c) => [cdr(c), cdr({ ...c, answered_seconds: 600 })]));
    replays.forEach((r, k) => {
      if (k % 2 === 0) {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.duplicate, true);
        assert.equal(r.body.call_id, first[k / 2].body.call_id);
      } else {
        assert.equal(r.status, 409, JSON.stringify(r.body));
        assert.equal(r.body.code, 'IDEMPOTENCY_MISMATCH');
      }
    });
    if (!isPostgres()) {
      const batches = await sqliteBatches();
      assert.ok(batches.transactions - batchesBefore.transactions > batches.commits - batchesBefore.commits,
        `the burst shared commits: ${JSON.stringify({ batchesBefore, batches })}`);
    }
    // 20 calls of 1.32 each, charged once.
    for (const c of clients) assert.equal(await balanceOf(c), '73.6000');
    for (const c of clients) {
      const history = await t.call('client', 'calls', { key: c.key });
      assert.equal(history.body.data.total, 20);
    }
  });
});

describe('switch api: two server instances on one database', () => {
  const servers = twoInstances();

  it('concurrent authorizations through both instances never reserve more than the balance', async () => {
    const { a, b } = servers;
    const plan = await createPlan(a);
    const c = await createClient(a, plan.id, { balance: '10' });
    const key = (await a.admin('create-switch-key', { name: 'shared-switch' })).api_key;
    const ids = Array.from({ length: 1000 }, uid);
    const results = await Promise.all(ids.map((id, i) => (i % 2 ? a : b).call('switch', 'authorize', {
      key, body: { uniqueid: id, sip_login: c.sip.name, destination: '447575396991' },
    })));
    assert.ok(results.every((r) => r.status === 200), JSON.stringify(results.find((r) => r.status !== 200)?.body));
    const row = await a.server.ctx.db.selectFrom('accounts').select(['reserved_micros', 'balance_micros']).where('login', '=', c.login).executeTakeFirstOrThrow();
    assert.ok(Number(row.reserved_micros) <= Number(row.balance_micros));
    const allowed = results.filter((r) => r.body.allowed);
    const reservedSum = allowed.reduce((sum, r) => sum + Math.round(r.body.max_duration / 60 * 1_200_000), 0);
    assert.ok(reservedSum <= 10_000_000, `sum of reservations ${reservedSum}`);
    for (let i = 0; i < ids.length; i++) {
      const r = results[i];
      await (i % 2 ? b : a).call('switch', 'cdr', {
        key, body: { uniqueid: ids[i], sip_login: c.sip.name, destination: '447575396991', answered_seconds: r.body.allowed ? r.body.max_duration : 0, disposition: r.body.allowed ? 'ANSWERED' : 'FAILED' },
      });
    }
    const after = await a.server.ctx.db.selectFrom('accounts').select(['reserved_micros', 'balance_micros']).where('login', '=', c.login).executeTakeFirstOrThrow();
    assert.ok(Number(after.balance_micros) >= 0, `balance ${after.balance_micros}`);
    assert.equal(Number(after.reserved_micros), 0);
  });
});
