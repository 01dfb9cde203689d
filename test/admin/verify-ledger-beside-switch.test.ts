// An admin checking the ledger must not stop calls: verify-ledger sums every posting, which
// over a long history takes a while; the switch's authorize requests sent meanwhile keep being
// answered (the sum runs off the event loop, db/heavy-reads.ts).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createClient, createPlan, isPostgres, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

/** Postings of zero, so that balances still equal their sums: only the work of summing grows. */
const POSTINGS = 2_000_000;

// PostgreSQL runs every query off the event loop already; that its heavy reads keep to
// connections of their own is tested in test/db/heavy-reads.test.ts.
describe('verify-ledger beside the switch path', { skip: isPostgres() && 'SQLite only: PostgreSQL queries never hold the event loop' }, () => {
  let t: TestServer;
  let client: TestClient;
  let switchKey: string;

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '100000' });
    switchKey = (await t.admin('create-switch-key', { name: 'beside-verify' })).api_key;
    const db = t.server.ctx.db;
    await sql`insert into ledger_postings (account_id, amount_micros, balance_after_micros, kind, created_at)
      with recursive n(x) as (select 1 union all select x + 1 from n where x < ${POSTINGS})
      select ${client.id}, 0, 0, 'adjustment', '2026-01-01T00:00:00.000Z' from n`.execute(db);
  });
  after(async () => t.close());

  const authorize = () => t.call('switch', 'authorize', {
    key: switchKey,
    body: { uniqueid: `bv-${crypto.randomBytes(8).toString('hex')}`, sip_login: client.sip.name, destination: '15551234567' },
  });

  it('authorize keeps answering while verify-ledger sums a long history', async () => {
    assert.equal((await authorize()).status, 200);
    // Once first: what is measured is the check, not the start of a reader or a cold cache.
    assert.equal((await t.admin('verify-ledger')).ok_ledger, true);
    const started = performance.now();
    let verifyMs = 0;
    const verify = t.call('admin', 'verify-ledger').then((res) => { verifyMs = performance.now() - started; return res; });
    const latenciesMs: number[] = [];
    while (verifyMs === 0) {
      const sent = performance.now();
      const res = await authorize();
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (verifyMs === 0) latenciesMs.push(performance.now() - sent);
    }
    const report = (await verify).body;
    assert.equal(report.ok_ledger, true);
    assert.ok(verifyMs > 150, `the check must take long enough to tell (${Math.round(verifyMs)} ms)`);
    latenciesMs.sort((a, b) => a - b);
    const median = latenciesMs[Math.floor(latenciesMs.length / 2)] ?? Infinity;
    // Run in place, the check would hold every authorize for its whole duration: one or two
    // would get through, each waiting about as long as the check.
    assert.ok(latenciesMs.length >= 5, `${latenciesMs.length} authorizes answered during a ${Math.round(verifyMs)} ms check`);
    assert.ok(median < verifyMs / 5, `median authorize ${Math.round(median)} ms during a ${Math.round(verifyMs)} ms check`);
  });
});
