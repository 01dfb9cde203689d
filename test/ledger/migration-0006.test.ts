// Migration 0006 on a database that already has calls and open reservations: every row keeps
// its data, learns its caller, and is marked as from before switches were told apart; the new
// keys and the reserved >= 0 rule hold afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { DbHandle } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { databaseBeforeMigration } from '../helpers/migrated-before.js';

describe('migration 0006: calls and reservations per switch', () => {
  let handle: DbHandle;
  let dispose: () => Promise<void>;
  before(async () => {
    ({ handle, dispose } = await databaseBeforeMigration('0006'));
  });
  after(async () => { await dispose(); });

  it('keeps every row, backfills the caller, and enforces the new keys and rules', async () => {
    const db = handle.db as any;
    const now = new Date().toISOString();
    const account = async (login: string, role: string, parent: number | null, reserved: number) => Number((await db.insertInto('accounts').values({
      login, role, parent_id: parent, balance_micros: 0, reserved_micros: reserved, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()).id);
    const reseller = await account('r1', 'reseller', null, 700);
    const client = await account('c1', 'client', reseller, 900);
    const reservation = (accountId: number, amount: number) => ({
      uniqueid: '1700000000.7', account_id: accountId, amount_micros: amount, max_duration: 60, expires_at: now, created_at: now,
      rate_prefix: '44', rate_destination: 'UK', rate_micros: 1, connect_charge_micros: 0, initblock: 1, billingblock: 1, minimal_time: 0,
    });
    await db.insertInto('reservations').values([reservation(client, 900), reservation(reseller, 700)]).execute();
    const call = { uniqueid: '1700000000.1', account_id: client, destination: '44123', started_at: now, answered_seconds: 10, billed_seconds: 10,
      cost_micros: 5, reseller_cost_micros: 4, disposition: 'ANSWERED', created_at: now, sip_login: 'c1' };
    await db.insertInto('calls').values(call).execute();

    await migrateToLatest(handle.db, handle.dialect);

    const reservations = await db.selectFrom('reservations').select(['uniqueid', 'switch_ref', 'caller_account_id', 'account_id', 'amount_micros', 'rate_prefix'])
      .orderBy('account_id').execute();
    assert.deepEqual(reservations.map((r: any) => ({ ...r, caller_account_id: Number(r.caller_account_id), account_id: Number(r.account_id), amount_micros: Number(r.amount_micros) })), [
      { uniqueid: '1700000000.7', switch_ref: '', caller_account_id: client, account_id: reseller, amount_micros: 700, rate_prefix: '44' },
      { uniqueid: '1700000000.7', switch_ref: '', caller_account_id: client, account_id: client, amount_micros: 900, rate_prefix: '44' },
    ].sort((a, b) => a.account_id - b.account_id));
    const calls = await db.selectFrom('calls').selectAll().execute();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].switch_ref, '');
    assert.equal(calls[0].sip_login, 'c1');
    assert.equal(Number(calls[0].cost_micros), 5);

    // The same uniqueid from another switch is another call; from the same switch, a duplicate.
    await db.insertInto('calls').values({ ...call, switch_ref: 'key:9' }).execute();
    await assert.rejects(db.insertInto('calls').values({ ...call, switch_ref: 'key:9' }).execute(), /unique/i);
    await assert.rejects(db.insertInto('calls').values({ ...call }).execute(), /unique/i);
    // reserved >= 0, reservation >= 0.
    await assert.rejects(db.updateTable('accounts').set({ reserved_micros: -1 }).where('id', '=', client).execute(), /reserved|check/i);
    await assert.rejects(db.insertInto('reservations').values({ ...reservation(client, -1), switch_ref: 'key:9' }).execute(), /check/i);
    // The indexes the hot paths use are still there.
    const indexes = handle.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(handle.db)).rows.map((r) => r.name)
      : (await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(handle.db)).rows.map((r) => r.name);
    // (0010 replaced calls_account_idx by one partial index per kind of call.)
    for (const name of ['calls_answered_idx', 'calls_failed_idx', 'reservations_expiry_idx']) assert.ok(indexes.includes(name), `${name} in ${indexes.join(', ')}`);
  });
});
