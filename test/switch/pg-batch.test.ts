// PostgreSQL's switch batches (src/calls/switch-batch.ts): authorizations and CDRs that arrive
// together share one transaction, decided one after another against the same accounts. These
// tests send them together over HTTP and check what each request was answered, the money, the
// audit rows, and what happens when the shared transaction fails.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createClient, createPlan, isPostgres, startTestServer, testDatabaseUrl, type TestClient, type TestServer } from '../helpers/server.js';

const uid = () => `batch-${crypto.randomBytes(6).toString('hex')}`;
const UK_MOBILE = '447575396991';

describe('switch batches (PostgreSQL)', { skip: isPostgres() ? false : 'PostgreSQL only: SQLite shares commits with its own batcher (test/switch/switch-api.test.ts)' }, () => {
  let t: TestServer;
  let key: string;
  let plan: { id: number };
  let admin: pg.Client;

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t);
    key = (await t.admin('create-switch-key', { name: 'batched' })).api_key;
    admin = new pg.Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await t.close();
  });

  const authorize = (body: Record<string, unknown>) => t.call('switch', 'authorize', { key, body });
  const cdr = (body: Record<string, unknown>) => t.call('switch', 'cdr', { key, body });
  const metric = async (name: string) => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  const batches = async () => ({ count: await metric('ledgerline_switch_batch_calls_count'), calls: await metric('ledgerline_switch_batch_calls_sum') });
  const money = async (c: TestClient) => {
    const r = await admin.query(`select balance_micros, reserved_micros from ${t.schema}.accounts where login = $1`, [c.login]);
    return { balance: Number(r.rows[0].balance_micros), reserved: Number(r.rows[0].reserved_micros) };
  };
  const switchAudits = async () => Number((await admin.query(`select count(*) as n from ${t.schema}.audit_log where api = 'switch'`)).rows[0].n);

  it('decides the calls of a batch one after another: one account funds exactly one of 40 concurrent calls', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const before = await batches();
    const answers = await Promise.all(Array.from({ length: 40 }, () => authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: UK_MOBILE })));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    const allowed = answers.filter((a) => a.body.allowed);
    assert.equal(allowed.length, 1, 'the balance covers one call at 498 s and not the minimum block of a second');
    assert.equal(allowed[0].body.max_duration, 498);
    assert.ok(answers.filter((a) => !a.body.allowed).every((a) => a.body.reason === 'INSUFFICIENT_BALANCE'));
    assert.deepEqual(await money(c), { balance: 10_000_000, reserved: 9_960_000 });
    const after = await batches();
    assert.equal(after.calls - before.calls, 40, 'every call went through a batch');
    assert.ok(after.count - before.count < 40, `40 calls shared transactions (${after.count - before.count} batches)`);
  });

  it('gives each request of a batch its own answer and its own audit row', async () => {
    const payer = await createClient(t, plan.id, { balance: '10' });
    const settledId = uid();
    assert.equal((await authorize({ uniqueid: settledId, sip_login: payer.sip.name, destination: UK_MOBILE })).body.allowed, true);
    const first = await cdr({ uniqueid: settledId, sip_login: payer.sip.name, destination: UK_MOBILE, answered_seconds: 61, disposition: 'ANSWERED' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.cost, '1.3200');

    const other = await createClient(t, plan.id, { balance: '5' });
    const open = uid();
    assert.equal((await authorize({ uniqueid: open, sip_login: other.sip.name, destination: UK_MOBILE })).body.allowed, true);
    const auditsBefore = await switchAudits();
    const fresh = uid();
    const [newCall, settle, repeat, mismatch, unknown, settledAgain, noRate] = await Promise.all([
      authorize({ uniqueid: fresh, sip_login: other.sip.name, destination: '15551234567' }),
      cdr({ uniqueid: open, sip_login: other.sip.name, destination: UK_MOBILE, answered_seconds: 30, disposition: 'ANSWERED' }),
      cdr({ uniqueid: open, sip_login: other.sip.name, destination: UK_MOBILE, answered_seconds: 30, disposition: 'ANSWERED' }),
      cdr({ uniqueid: settledId, sip_login: payer.sip.name, destination: UK_MOBILE, answered_seconds: 62, disposition: 'ANSWERED' }),
      authorize({ uniqueid: uid(), sip_login: 'nobody-here', destination: UK_MOBILE }),
      authorize({ uniqueid: settledId, sip_login: payer.sip.name, destination: UK_MOBILE }),
      authorize({ uniqueid: uid(), sip_login: payer.sip.name, destination: '999123' }),
    ]);
    assert.equal(newCall.body.allowed, true, JSON.stringify(newCall.body));
    assert.equal(settle.status, 200, JSON.stringify(settle.body));
    assert.equal(repeat.status, 200, JSON.stringify(repeat.body));
    // The same CDR twice at once: one settles, the other is its repeat, with the same call.
    assert.deepEqual([settle.body.duplicate, repeat.body.duplicate].sort(), [false, true]);
    assert.equal(settle.body.call_id, repeat.body.call_id);
    assert.equal(settle.body.cost, '1.2000');
    assert.equal(mismatch.status, 409);
    assert.equal(mismatch.body.code, 'IDEMPOTENCY_MISMATCH');
    assert.deepEqual([unknown.body.allowed, unknown.body.reason], [false, 'UNKNOWN_CALLER']);
    assert.deepEqual([settledAgain.body.allowed, settledAgain.body.reason], [false, 'ALREADY_SETTLED']);
    assert.deepEqual([noRate.body.allowed, noRate.body.reason], [false, 'NO_RATE']);

    // Money: the settled call charged once; the new call holds its reservation.
    assert.equal((await money(payer)).balance, 8_680_000);
    const o = await money(other);
    assert.equal(o.balance, 3_800_000);
    assert.ok(o.reserved > 0);
    // One row per request, the refusal's with its code.
    assert.equal(await switchAudits(), auditsBefore + 7);
    const refused = await admin.query(`select status_code, error_code from ${t.schema}.audit_log where api = 'switch' and status_code <> 200 order by id desc limit 1`);
    assert.deepEqual(refused.rows[0], { status_code: 409, error_code: 'IDEMPOTENCY_MISMATCH' });
  });

  it('never makes a batch wait for a row another transaction holds: that account\'s call waits alone, the others are answered', async () => {
    const held = await createClient(t, plan.id, { balance: '10' });
    const free = await createClient(t, plan.id, { balance: '10' });
    const deferralsBefore = await metric('ledgerline_switch_batch_deferrals_total');
    const holder = new pg.Client({ connectionString: testDatabaseUrl() });
    await holder.connect();
    try {
      // Another transaction (an admin's change, a refill, another instance) holds the account's row.
      await holder.query('begin');
      await holder.query(`select id from ${t.schema}.accounts where login = $1 for update`, [held.login]);
      let heldAnswered = false;
      const heldCall = authorize({ uniqueid: uid(), sip_login: held.sip.name, destination: UK_MOBILE }).then((r) => { heldAnswered = true; return r; });
      const freeCalls = await Promise.all(Array.from({ length: 5 }, () => authorize({ uniqueid: uid(), sip_login: free.sip.name, destination: '15551234567' })));
      for (const r of freeCalls) assert.equal(r.body.allowed, true, JSON.stringify(r.body));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(heldAnswered, false, 'the held account\'s call waits for its row');
      assert.ok(await metric('ledgerline_switch_batch_deferrals_total') > deferralsBefore, 'it was left out of batches');
      // Batches go on meanwhile.
      const later = await authorize({ uniqueid: uid(), sip_login: free.sip.name, destination: '15551234567' });
      assert.equal(later.body.allowed, true);
      await holder.query('commit');
      const answer = await heldCall;
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual([answer.body.allowed, answer.body.max_duration], [true, 498]);
      assert.deepEqual(await money(held), { balance: 10_000_000, reserved: 9_960_000 });
    } finally {
      await holder.query('rollback').catch(() => {});
      await holder.end();
    }
  });

  it('runs every call of a batch whose transaction fails again on its own: each settled once, audited once', async () => {
    // Fails any insert of more than one calls row: a batch's, never a lone call's.
    await admin.query(`create function ${t.schema}.fail_batches() returns trigger language plpgsql as $$
      begin
        if (select count(*) from new_rows) > 1 then raise exception 'simulated failure of a batch'; end if;
        return null;
      end $$`);
    await admin.query(`create trigger fail_batches after insert on ${t.schema}.calls referencing new table as new_rows
      for each statement execute function ${t.schema}.fail_batches()`);
    try {
      const clients = await Promise.all(Array.from({ length: 4 }, () => createClient(t, plan.id, { balance: '10' })));
      const fallbacksBefore = await metric('ledgerline_switch_batch_fallbacks_total');
      const ids: Array<{ id: string; c: TestClient }> = [];
      // Until two CDRs met in one batch (they arrive together, but the server reads them as they come).
      for (let round = 0; round < 10 && await metric('ledgerline_switch_batch_fallbacks_total') === fallbacksBefore; round++) {
        const calls = clients.flatMap((c) => [{ id: uid(), c }, { id: uid(), c }]);
        for (const call of calls) assert.equal((await authorize({ uniqueid: call.id, sip_login: call.c.sip.name, destination: '15551234567' })).body.allowed, true);
        const auditsBefore = await switchAudits();
        const settled = await Promise.all(calls.map((call) => cdr({ uniqueid: call.id, sip_login: call.c.sip.name, destination: '15551234567', answered_seconds: 60, disposition: 'ANSWERED' })));
        for (const s of settled) {
          assert.equal(s.status, 200, JSON.stringify(s.body));
          assert.equal(s.body.duplicate, false);
          assert.equal(s.body.cost, '0.0120');
        }
        assert.equal(await switchAudits(), auditsBefore + calls.length, 'one audit row per CDR: the failed batch wrote none');
        ids.push(...calls);
      }
      assert.ok(await metric('ledgerline_switch_batch_fallbacks_total') > fallbacksBefore, 'a batch failed and its calls ran alone');
      for (const c of clients) {
        const n = ids.filter((x) => x.c === c).length;
        assert.deepEqual(await money(c), { balance: 10_000_000 - n * 12_000, reserved: 0 }, 'each call charged once');
      }
    } finally {
      await admin.query(`drop trigger fail_batches on ${t.schema}.calls`);
    }
  });
});
