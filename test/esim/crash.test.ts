// A server killed with SIGKILL between an eSIM purchase's debit and the upstream's answer, then
// started again: the worker completes the purchase (the upstream had placed it: found by its
// transactionId, not ordered again) or refunds it once (the upstream has none and refuses the
// new order), and the ledger holds. The server is a process of its own on the test server's
// database; the fake upstream holds its answers to make the window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kill, startChild, type Child } from '../helpers/child-server.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/esim-upstream.js';
import { until } from '../helpers/until.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('eSIM: a server killed between the debit and the upstream\'s answer (kill -9)', () => {
  let fake: FakeUpstream;
  let t: TestServer;
  let client: TestClient;
  const children: Child[] = [];
  let env: Record<string, string>;

  before(async () => {
    fake = await startFakeUpstream();
    env = { ESIM_UPSTREAM_URL: fake.url, ESIM_ACCESS_CODE: fake.accessCode, ESIM_SECRET_KEY: fake.secretKey, ESIM_PENDING_GRACE_SECONDS: '1' };
    t = await startTestServer(env);
    client = await createClient(t, (await createPlan(t)).id, { balance: '50' });
  });
  after(async () => {
    for (const c of children) await kill(c, 'SIGKILL');
    await t?.close();
    await fake?.close();
  });

  const child = async () => { const c = await startChild(t, env); children.push(c); return c; };

  const latestOrder = () => t.server.ctx.db.selectFrom('esim_orders').selectAll().where('account_id', '=', client.id).orderBy('id', 'desc').executeTakeFirst();
  /** Starts a purchase on the child and kills it while the upstream holds its answer. */
  async function buyAndKill(c: Child): Promise<number> {
    const before = fake.requests.filter((r) => r.path === 'esim/order').length;
    const buying = fetch(`${c.url}/esim-api/index.php?endpoint=buy`, {
      method: 'POST', headers: { 'X-API-Key': client.key, 'Content-Type': 'application/json' }, body: JSON.stringify({ package_code: 'EU-5GB-30D' }),
    }).catch(() => null);
    await until('the upstream order request', async () => fake.requests.filter((r) => r.path === 'esim/order').length, (n) => n > before);
    await kill(c, 'SIGKILL');
    await buying;
    const order = await latestOrder();
    assert.equal(order?.status, 'PENDING', 'killed before the answer: debited, not confirmed');
    return Number(order!.id);
  }
  const orderRow = (id: number) => t.server.ctx.db.selectFrom('esim_orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('the upstream had placed the order: the restarted server finds it by transactionId and completes it, ordering once', { timeout: 60_000 }, async () => {
    fake.holdNext('esim/order', 5000);
    const id = await buyAndKill(await child());
    await child();
    const row = await until('completed', () => orderRow(id), (o) => o.status === 'ALLOCATING' || o.status === 'READY');
    assert.equal(fake.requests.filter((r) => r.path === 'esim/order' && r.body?.transactionId === row.transaction_id).length, 1);
    const verify = await t.call('admin', 'verify-ledger');
    assert.equal(verify.body.ok_ledger, true);
  });

  it('the upstream never placed it and refuses it now: refunded exactly once', { timeout: 60_000 }, async () => {
    const before = Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros').where('id', '=', client.id).executeTakeFirstOrThrow()).balance_micros);
    fake.failNext('esim/order', [503]);
    // The 503 leaves the purchase PENDING, unordered; the server is then killed.
    const c = await child();
    const res = await fetch(`${c.url}/esim-api/index.php?endpoint=buy`, {
      method: 'POST', headers: { 'X-API-Key': client.key, 'Content-Type': 'application/json' }, body: JSON.stringify({ package_code: 'EU-5GB-30D' }),
    });
    const body = await res.json() as any;
    assert.equal(body.status, 'PENDING', JSON.stringify(body));
    fake.refused.add('EU-5GB-30D');
    await kill(c, 'SIGKILL');
    for (const other of children) await kill(other, 'SIGKILL');
    await child();
    const row = await until('refunded', () => orderRow(body.order_id), (o) => o.status === 'REFUNDED');
    assert.equal(row.error_code, 'UPSTREAM_200007');
    const refunds = await t.server.ctx.db.selectFrom('ledger_postings').select('amount_micros')
      .where('kind', '=', 'refund').where('ref_id', '=', String(body.order_id)).execute();
    assert.equal(refunds.length, 1);
    const after = Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros').where('id', '=', client.id).executeTakeFirstOrThrow()).balance_micros);
    assert.equal(after, before, 'the money is back');
    assert.equal((await t.call('admin', 'verify-ledger')).body.ok_ledger, true);
    fake.refused.delete('EU-5GB-30D');
  });
});
