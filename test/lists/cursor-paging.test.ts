// Lists walked by cursor (`after` / `next`) and their totals, over HTTP on the real server: every
// row exactly once and in order, also while rows arrive; totals exact after each kind of write
// that adds to a list; malformed cursors refused naming `after`. The totals are read from the
// maintained counts: each is checked against a count of the rows themselves.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { REFILL_KINDS } from '../../src/ledger/ledger.js';
import { createClient, createPlan, startTestServer, type Family, type TestClient, type TestServer } from '../helpers/server.js';

interface Reseller { id: number; login: string; key: string; retailPlanId: number }
interface Page { total: number; limit: number; offset: number; next: string | null; [list: string]: unknown }

describe('lists: cursor paging and maintained totals', () => {
  let t: TestServer;
  let plan: { id: number };
  let switchKey: string;
  let alice: TestClient;
  let reseller: Reseller;
  let other: Reseller;
  let seq = 0;

  const newReseller = async (): Promise<Reseller> => {
    const body = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id };
  };
  const resellerClient = async (r: Reseller) => {
    const res = await t.call('reseller', 'create-client', { key: r.key, body: { plan_id: r.retailPlanId } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.client.login as string;
  };
  const cdr = async (sipLogin: string, disposition: string) => {
    const res = await t.call('switch', 'cdr', { key: switchKey, body: {
      uniqueid: `list-${process.pid}-${++seq}`, sip_login: sipLogin, destination: '15551234567',
      start_time: '2026-11-27 10:00:00', answered_seconds: disposition === 'ANSWERED' ? 30 : 0, disposition,
    } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** One page of a list endpoint, whatever its family's envelope. */
  const page = async (family: Family, key: string, endpoint: string, query: Record<string, string | number>): Promise<Page> => {
    const res = await t.call(family, endpoint, { key, query });
    assert.equal(res.status, 200, `${endpoint} ${JSON.stringify(query)}: ${JSON.stringify(res.body)}`);
    return family === 'client' ? res.body.data : res.body;
  };
  /** Ids of every row of a list, walked by cursor `limit` at a time; `during` runs after the first page. */
  const walk = async (family: Family, key: string, endpoint: string, list: string, query: Record<string, string | number>, limit: number, during?: () => Promise<void>) => {
    const ids: number[] = [];
    let first = await page(family, key, endpoint, { ...query, limit });
    const total = first.total;
    for (let p = first, n = 0; ; n++) {
      assert.ok(n < 1000, 'the walk ends');
      const rows = p[list] as Array<{ id: number }>;
      assert.ok(rows.length <= limit);
      ids.push(...rows.map((r) => r.id));
      if (n === 0 && during) await during();
      if (p.next === null) break;
      assert.equal(rows.length, limit, 'only the last page is short');
      assert.equal(typeof p.next, 'string');
      p = await page(family, key, endpoint, { ...query, limit, after: p.next });
      assert.equal(p.offset, 0);
      first = p;
    }
    return { ids, total };
  };
  /** Rows of the list read by offset, in one page. */
  const byOffset = async (family: Family, key: string, endpoint: string, list: string, query: Record<string, string | number>) =>
    ((await page(family, key, endpoint, { ...query, limit: 500 }))[list] as Array<{ id: number }>).map((r) => r.id);
  const descending = (ids: number[]) => assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  const ascending = (ids: number[]) => assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  const portal = (endpoint: string, login: string, query: Record<string, string | number> = {}) =>
    page('reseller', reseller.key, endpoint, { login, ...query });

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t);
    switchKey = (await t.admin('create-switch-key', { name: 'lists' })).api_key;
    alice = await createClient(t, plan.id, { balance: '50' });
    reseller = await newReseller();
    other = await newReseller();
  });
  after(async () => t.close());

  it('calls: the cursor walks every answered call once, newest first, also while calls arrive; totals follow CDRs and failed calls', async () => {
    for (let i = 0; i < 7; i++) await cdr(alice.sip.name, 'ANSWERED');
    for (const d of ['BUSY', 'NO ANSWER', 'FAILED']) await cdr(alice.sip.name, d);
    const expected = await byOffset('client', alice.key, 'calls', 'calls', {});
    assert.equal(expected.length, 7);
    const { ids, total } = await walk('client', alice.key, 'calls', 'calls', {}, 3, async () => {
      await cdr(alice.sip.name, 'ANSWERED');
      await cdr(alice.sip.name, 'CONGESTION');
    });
    assert.equal(total, 7);
    assert.deepEqual(ids, expected, 'every call present at the start, once, in order; the new one is above the cursor');
    descending(ids);
    const now = await page('client', alice.key, 'calls', {});
    assert.equal(now.total, 8);
    assert.equal(now.next, null, 'one page holds them all');
    assert.equal((now.calls as unknown[]).length, 8);
  });

  it('portal calls and failed calls page by cursor; the dashboard counts them', async () => {
    const login = await resellerClient(reseller);
    await t.call('reseller', 'transfer', { key: reseller.key, body: { login, amount: '20' } });
    const sip = (await t.server.ctx.db.selectFrom('sip_accounts as s').innerJoin('accounts as a', 'a.id', 's.account_id')
      .select('s.name').where('a.login', '=', login).where('s.kind', '=', 'main').executeTakeFirstOrThrow()).name;
    for (let i = 0; i < 5; i++) await cdr(sip, 'ANSWERED');
    for (let i = 0; i < 4; i++) await cdr(sip, i % 2 ? 'BUSY' : 'NO ANSWER');
    const answered = await walk('reseller', reseller.key, 'client-calls', 'calls', { login }, 2);
    const failed = await walk('reseller', reseller.key, 'client-failed-calls', 'calls', { login }, 3);
    assert.deepEqual([answered.total, answered.ids.length, failed.total, failed.ids.length], [5, 5, 4, 4]);
    assert.deepEqual(answered.ids, await byOffset('reseller', reseller.key, 'client-calls', 'calls', { login }));
    assert.deepEqual(failed.ids, await byOffset('reseller', reseller.key, 'client-failed-calls', 'calls', { login }));
    descending(failed.ids);
    const dashboard = await t.call('reseller', 'client-dashboard', { key: reseller.key, query: { login } });
    assert.equal(dashboard.status, 200, JSON.stringify(dashboard.body));
    assert.deepEqual(dashboard.body.counts, { sip_accounts: 1, callerids: 0, calls: 5, failed_calls: 4, refills: 1 });
  });

  it('refills: totals follow refills, vouchers, transfers and payments, not debits; the cursor walks them', async () => {
    assert.deepEqual(REFILL_KINDS, ['refill', 'voucher', 'transfer', 'payment'],
      'migration 0010 counts and indexes exactly these kinds: another needs a migration of its own');
    // A reseller's client is credited by transfers and payments…
    const login = await resellerClient(reseller);
    await t.call('reseller', 'transfer', { key: reseller.key, body: { login, amount: '3' } });
    const paid = await t.call('reseller', 'register-agent-payment', { key: reseller.key, body: {
      login, amount: '5', currency: 'EUR', provider: 'plisio', external_id: `p-${crypto.randomUUID()}`, provider_txid: 'x', status: 'paid',
    } });
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    await t.call('reseller', 'transfer', { key: reseller.key, body: { login, amount: '1' } });
    const portalWalk = await walk('reseller', reseller.key, 'client-refills', 'refills', { login }, 2);
    assert.equal(portalWalk.total, 3);
    assert.deepEqual(portalWalk.ids, await byOffset('reseller', reseller.key, 'client-refills', 'refills', { login }));
    descending(portalWalk.ids);
    // …an admin's client by refills and vouchers; a correction is a debit, and calls are not refills.
    const bob = await createClient(t, plan.id, { balance: '1' });
    await t.admin('refill', { login: bob.login, amount: '2' });
    await t.admin('refill', { login: bob.login, amount: '-1', description: 'correction' });
    const { vouchers } = await t.admin('create-vouchers', { value: '4', count: 1 });
    const redeemed = await t.call('client', 'redeem-voucher', { key: bob.key, body: { voucher: vouchers[0] } });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    await cdr(bob.sip.name, 'ANSWERED');
    await t.admin('refill', { login: bob.login, amount: '0.5' });
    const walked = await walk('client', bob.key, 'refills', 'refills', {}, 2);
    assert.equal(walked.total, 4, 'opening balance, refill, voucher, refill');
    assert.deepEqual(walked.ids, await byOffset('client', bob.key, 'refills', 'refills', {}));
    descending(walked.ids);
  });

  it('reseller clients: the cursor walks them oldest first; a client created meanwhile comes once, at the end', async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await resellerClient(other));
    const before0 = await page('reseller', other.key, 'clients', {});
    assert.equal(before0.total, 5);
    let added = '';
    const { ids } = await walk('reseller', other.key, 'clients', 'clients', {}, 2, async () => { added = await resellerClient(other); });
    const all = await page('reseller', other.key, 'clients', { limit: 500 });
    assert.equal(all.total, 6);
    assert.deepEqual(ids, (all.clients as Array<{ id: number }>).map((c) => c.id));
    ascending(ids);
    assert.deepEqual((all.clients as Array<{ login: string }>).map((c) => c.login), [...mine, added]);
  });

  it('transactions: totals per status stay exact as payments change status; the cursor walks a filtered list', async () => {
    const r = await newReseller();
    const login = await resellerClient(r);
    const pay = async (externalId: string, status: string) => {
      const res = await t.call('reseller', 'register-agent-payment', { key: r.key, body: {
        login, amount: '1', currency: 'EUR', provider: 'plisio', external_id: externalId, provider_txid: 'x', status,
      } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    for (let i = 0; i < 3; i++) await t.call('reseller', 'transfer', { key: r.key, body: { login, amount: '1' } });
    for (let i = 0; i < 4; i++) await pay(`e-${i}`, 'pending');
    await pay('e-0', 'paid');
    await pay('e-1', 'failed');
    const totals = async () => Object.fromEntries(await Promise.all(['', 'success', 'paid', 'pending', 'failed', 'expired'].map(async (status) =>
      [status || 'all', (await page('reseller', r.key, 'transactions', status ? { status } : {})).total])));
    assert.deepEqual(await totals(), { all: 7, success: 4, paid: 4, pending: 2, failed: 1, expired: 0 });
    const pending = await walk('reseller', r.key, 'transactions', 'transactions', { status: 'pending' }, 1);
    assert.equal(pending.ids.length, 2);
    const success = await walk('reseller', r.key, 'transactions', 'transactions', { status: 'success' }, 3);
    assert.deepEqual(success.ids, await byOffset('reseller', r.key, 'transactions', 'transactions', { status: 'success' }));
    const every = await walk('reseller', r.key, 'transactions', 'transactions', {}, 2);
    assert.equal(every.ids.length, 7);
    descending(every.ids);
  });

  it('admin accounts: totals by role, the cursor walks them', async () => {
    for (const role of ['client', 'reseller', 'switch', 'admin', '']) {
      const walked = await walk('admin', t.adminKey, 'accounts', 'accounts', role ? { role } : {}, 4);
      let counted = t.server.ctx.db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n'));
      if (role) counted = counted.where('role', '=', role as 'client');
      const n = Number((await counted.executeTakeFirstOrThrow()).n);
      assert.deepEqual([walked.total, walked.ids.length], [n, n], role || 'all');
      ascending(walked.ids);
    }
  });

  it('a malformed after answers 400 naming after; after with an offset answers 400 naming offset', async () => {
    const next = (await page('client', alice.key, 'calls', { limit: 1 })).next!;
    const forged = Buffer.from('id:12x').toString('base64url');
    const cases: Array<[Family, string, string, Record<string, string | number>]> = [
      ['client', alice.key, 'calls', {}], ['client', alice.key, 'refills', {}],
      ['reseller', reseller.key, 'clients', {}], ['reseller', reseller.key, 'transactions', {}],
      ['reseller', reseller.key, 'client-calls', { login: 'x' }], ['reseller', reseller.key, 'client-failed-calls', { login: 'x' }],
      ['reseller', reseller.key, 'client-refills', { login: 'x' }], ['admin', t.adminKey, 'accounts', {}],
    ];
    for (const [family, key, endpoint, query] of cases) {
      for (const bad of ['nope!', forged, 'aWQ6MA', `${next}=`, 'x'.repeat(100)]) {
        const res = await t.call(family, endpoint, { key, query: { ...query, after: bad } });
        assert.equal(res.status, 400, `${endpoint} after=${bad}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error, /^after\b/, `${endpoint}: ${res.body.error}`);
      }
      const both = await t.call(family, endpoint, { key, query: { ...query, after: next, offset: 5 } });
      assert.equal(both.status, 400, JSON.stringify(both.body));
      assert.match(both.body.error, /^offset\b/);
    }
    // An empty after is no cursor, as an empty limit is no limit.
    assert.equal((await page('client', alice.key, 'calls', { after: '' })).total, 8);
  });

  it('every maintained total equals the count of its rows', async () => {
    const db = t.server.ctx.db;
    const expected = await sql<{ owner_id: number; list: string; n: number }>`
      select account_id as owner_id, case when disposition = 'ANSWERED' then 'calls.answered' else 'calls.failed' end as list, count(*) as n
        from calls group by account_id, case when disposition = 'ANSWERED' then 'calls.answered' else 'calls.failed' end
      union all select account_id, 'refills', count(*) from ledger_postings
        where kind in ('refill', 'voucher', 'transfer', 'payment') and amount_micros > 0 group by account_id
      union all select parent_id, 'clients', count(*) from accounts where role = 'client' and parent_id is not null group by parent_id
      union all select 0, 'accounts', count(*) from accounts
      union all select 0, 'accounts:' || role, count(*) from accounts group by role
      union all select reseller_id, 'transactions', count(*) from reseller_transactions group by reseller_id
      union all select reseller_id, 'transactions:' || status, count(*) from reseller_transactions group by reseller_id, status`.execute(db);
    const norm = (rows: Array<{ owner_id: unknown; list: string; n: unknown }>) => rows
      .filter((r) => Number(r.n) !== 0).map((r) => `${Number(r.owner_id)} ${r.list} ${Number(r.n)}`).sort();
    const kept = await db.selectFrom('list_counts').selectAll().execute();
    assert.deepEqual(norm(kept), norm(expected.rows));
  });
});
