// Migration 0010 on a database that already has history: the counts of every list are backfilled
// from the rows there, and from then on the database keeps them exact through inserts, status
// changes, re-filed and deleted rows, one or many to a statement, on both dialects.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { DbHandle } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { databaseBeforeMigration } from '../helpers/migrated-before.js';

describe('migration 0010: list counts and the indexes of the lists', () => {
  let handle: DbHandle;
  let dispose: () => Promise<void>;
  before(async () => {
    ({ handle, dispose } = await databaseBeforeMigration('0010'));
  });
  after(async () => { await dispose(); });

  it('backfills every count, then keeps each exact through inserts, changes and deletes', async () => {
    const db = handle.db as any;
    const now = new Date().toISOString();
    const account = async (login: string, role: string, parent: number | null) => Number((await db.insertInto('accounts').values({
      login, role, parent_id: parent, balance_micros: 0, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()).id);
    const admin = await account('admin', 'admin', null);
    const reseller = await account('r1', 'reseller', admin);
    const c1 = await account('c1', 'client', reseller);
    const c2 = await account('c2', 'client', reseller);
    const direct = await account('d1', 'client', admin);
    await account('sw', 'switch', null);
    let n = 0;
    const call = (accountId: number, disposition: string) => db.insertInto('calls').values({
      uniqueid: `u${++n}`, account_id: accountId, destination: '44123', started_at: now, answered_seconds: 1, billed_seconds: 1,
      cost_micros: 1, disposition, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const posting = (accountId: number, kind: string, amount: number) => db.insertInto('ledger_postings').values({
      account_id: accountId, amount_micros: amount, balance_after_micros: 0, kind, created_at: now,
    }).execute();
    const transaction = (clientId: number, status: string, externalId: string) => db.insertInto('reseller_transactions').values({
      reseller_id: reseller, client_id: clientId, kind: 'payment', amount_micros: 1, status, external_id: externalId, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    for (let i = 0; i < 3; i++) await call(c1, 'ANSWERED');
    await call(c1, 'BUSY');
    await call(c2, 'NO ANSWER');
    for (const [kind, amount] of [['refill', 5], ['voucher', 5], ['transfer', 5], ['payment', 5], ['call', -1], ['refill', -2], ['adjustment', 3]] as const) {
      await posting(c1, kind, amount);
    }
    await transaction(c1, 'success', 'a');
    await transaction(c1, 'pending', 'b');
    const pendingId = Number((await transaction(c2, 'pending', 'c')).id);

    await migrateToLatest(handle.db, handle.dialect);

    const counts = async () => Object.fromEntries((await db.selectFrom('list_counts').selectAll().execute())
      .filter((r: any) => Number(r.n) !== 0).map((r: any) => [`${Number(r.owner_id)} ${r.list}`, Number(r.n)]));
    assert.deepEqual(await counts(), {
      [`${c1} calls.answered`]: 3, [`${c1} calls.failed`]: 1, [`${c2} calls.failed`]: 1,
      [`${c1} refills`]: 4,
      [`${reseller} clients`]: 2, [`${admin} clients`]: 1,
      '0 accounts': 6, '0 accounts:admin': 1, '0 accounts:reseller': 1, '0 accounts:client': 3, '0 accounts:switch': 1,
      [`${reseller} transactions`]: 3, [`${reseller} transactions:success`]: 1, [`${reseller} transactions:pending`]: 2,
    });

    // From here the triggers keep them.
    const extra = Number((await call(c2, 'ANSWERED')).id);
    await call(c2, 'CONGESTION');
    await posting(c2, 'voucher', 7);
    await posting(c2, 'call', -3);
    await account('c3', 'client', reseller);
    await db.updateTable('reseller_transactions').set({ status: 'success' }).where('id', '=', pendingId).execute();
    await db.updateTable('calls').set({ disposition: 'FAILED' }).where('id', '=', extra).execute();
    await db.deleteFrom('calls').where('account_id', '=', c1).where('disposition', '=', 'BUSY').execute();
    // A write that does not file a row anew leaves the counts alone.
    await db.updateTable('accounts').set({ balance_micros: 9 }).where('id', '=', c1).execute();
    await db.updateTable('reseller_transactions').set({ posting_id: 1 }).where('id', '=', pendingId).execute();
    assert.deepEqual(await counts(), {
      [`${c1} calls.answered`]: 3, [`${c2} calls.failed`]: 3,
      [`${c1} refills`]: 4, [`${c2} refills`]: 1,
      [`${reseller} clients`]: 3, [`${admin} clients`]: 1,
      '0 accounts': 7, '0 accounts:admin': 1, '0 accounts:reseller': 1, '0 accounts:client': 4, '0 accounts:switch': 1,
      [`${reseller} transactions`]: 3, [`${reseller} transactions:success`]: 2, [`${reseller} transactions:pending`]: 1,
    });
    assert.ok(direct > 0);

    // Many rows in one statement, as a batch of the switch path writes them (counted per
    // statement on PostgreSQL: migration 0013), and many deleted by one.
    const row = (accountId: number, disposition: string) => ({
      uniqueid: `u${++n}`, account_id: accountId, destination: '44123', started_at: now, answered_seconds: 1, billed_seconds: 1,
      cost_micros: 1, disposition, created_at: now,
    });
    await db.insertInto('calls').values([row(c1, 'ANSWERED'), row(c2, 'BUSY'), row(c1, 'ANSWERED'), row(direct, 'ANSWERED'), row(c1, 'NO ANSWER')]).execute();
    await db.deleteFrom('calls').where('account_id', '=', c2).where('disposition', 'in', ['CONGESTION', 'BUSY']).execute();
    const callCounts = Object.fromEntries(Object.entries(await counts()).filter(([k]) => k.includes(' calls.')));
    assert.deepEqual(callCounts, {
      [`${c1} calls.answered`]: 5, [`${c1} calls.failed`]: 1, [`${c2} calls.failed`]: 2, [`${direct} calls.answered`]: 1,
    });

    // The lists' indexes are there.
    const indexes = handle.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(handle.db)).rows.map((r) => r.name)
      : (await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(handle.db)).rows.map((r) => r.name);
    for (const name of ['calls_answered_idx', 'calls_failed_idx', 'ledger_refills_idx', 'reseller_transactions_status_idx', 'accounts_parent_role_idx', 'accounts_role_idx']) {
      assert.ok(indexes.includes(name), `${name} in ${indexes.join(', ')}`);
    }
  });
});
