// Every state-changing request's audit row is written in the request's own transaction: one
// row per request, and a change whose row cannot be written is not made. Refusals are audited
// after their rollback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createReseller, createResellerClient, wholesalePlan, type PortalClient, type TestReseller } from '../reseller/portal-fixtures.js';

describe('tenancy: audit rows in the request\'s transaction', () => {
  let t: TestServer;
  let agent: TestReseller;
  let seq = 0;

  before(async () => {
    // Silent: the refused audit inserts below are logged as errors, on purpose.
    t = await startTestServer({}, { log: pino({ level: 'silent' }) });
    agent = await createReseller(t, await wholesalePlan(t));
  });
  after(async () => {
    await refuseAuditOf([]);
    await t?.close();
  });

  const client = (r: TestReseller): Promise<PortalClient> => createResellerClient(t, r, `audit-${r.id}-${++seq}`, 'AuditPass1234');
  const post = (r: TestReseller, endpoint: string, body: Record<string, unknown>) => t.call('reseller', endpoint, { key: r.key, body });

  async function auditRows(actorId: number, endpoint: string) {
    return t.server.ctx.db.selectFrom('audit_log').select(['status_code', 'error_code', 'method'])
      .where('actor_id', '=', actorId).where('endpoint', '=', endpoint).orderBy('id').execute();
  }

  /** Makes every audit insert for these logins fail, as a full disk or a broken log table would. */
  async function refuseAuditOf(logins: string[]) {
    const db = t.server.ctx.db;
    const list = logins.map((l) => `'${l.replace(/'/g, "''")}'`).join(', ');
    if (t.dialect === 'sqlite') {
      await sql.raw('drop trigger if exists audit_refused').execute(db);
      if (logins.length > 0) {
        await sql.raw(`create trigger audit_refused before insert on audit_log when new.actor_login in (${list})
          begin select raise(abort, 'audit log refused'); end`).execute(db);
      }
    } else {
      await sql.raw('drop trigger if exists audit_refused on audit_log').execute(db);
      if (logins.length > 0) {
        await sql.raw(`create or replace function audit_refused() returns trigger language plpgsql as $$
          begin if new.actor_login in (${list}) then raise exception 'audit log refused'; end if; return new; end $$`).execute(db);
        await sql.raw('create trigger audit_refused before insert on audit_log for each row execute function audit_refused()').execute(db);
      }
    }
  }

  const balanceOf = async (id: number) => Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('id', '=', id).executeTakeFirstOrThrow()).balance_micros);

  it('an idempotent write leaves one row per request; a mismatch is audited after its rollback', async () => {
    const c = await client(agent);
    const before = (await auditRows(agent.id, 'transfer')).length;
    const body = { login: c.login, amount: '2.50', external_id: `audit-${seq}` };
    assert.equal((await post(agent, 'transfer', body)).status, 200);
    const replay = await post(agent, 'transfer', body);
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const mismatch = await post(agent, 'transfer', { ...body, amount: '3' });
    assert.equal(mismatch.status, 409);
    const rows = (await auditRows(agent.id, 'transfer')).slice(before);
    assert.deepEqual(rows.map((r) => [r.status_code, r.error_code]), [[200, null], [200, null], [409, 'IDEMPOTENCY_MISMATCH']]);
    assert.equal(await balanceOf(c.id), 2_500_000);
  });

  it('a non-transactional write leaves exactly one row; a refusal one with its code, another tenant\'s or an unknown login too', async () => {
    const c = await client(agent);
    const before = (await auditRows(agent.id, 'client-profile-update')).length;
    assert.equal((await post(agent, 'client-profile-update', { login: c.login, name: 'Audited Name' })).status, 200);
    assert.equal((await post(agent, 'client-profile-update', { login: c.login, email: 'not-an-address' })).status, 400);
    assert.equal((await post(agent, 'client-profile-update', { login: 'nobody-here', name: 'X' })).status, 404);
    const rows = (await auditRows(agent.id, 'client-profile-update')).slice(before);
    assert.deepEqual(rows.map((r) => [r.status_code, r.error_code]), [[200, null], [400, 'VALIDATION_ERROR'], [404, 'NOT_FOUND']]);

    const ownBefore = (await auditRows(c.id, 'change-password')).length;
    const changed = await t.call('client', 'change-password', { key: c.key, body: { current_password: c.password, new_password: 'Audit2Pass1234' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual((await auditRows(c.id, 'change-password')).slice(ownBefore).map((r) => r.status_code), [200]);
  });

  it('an idempotent write whose audit row cannot be written is not applied, and its retry runs afresh', async () => {
    const broken = await createReseller(t, await wholesalePlan(t));
    const c = await client(broken);
    await refuseAuditOf([broken.login]);
    try {
      const transfer = await post(broken, 'transfer', { login: c.login, amount: '4', external_id: 'lost-audit' });
      assert.equal(transfer.status, 500, JSON.stringify(transfer.body));
      assert.equal(transfer.body.code, 'INTERNAL_ERROR');
      assert.equal(await balanceOf(c.id), 0, 'no credit without its audit row');
    } finally {
      await refuseAuditOf([]);
    }
    // Nothing of the failed transfer was kept, not even its idempotency key: the retry runs, once.
    const retry = await post(broken, 'transfer', { login: c.login, amount: '4', external_id: 'lost-audit' });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.headers.get('idempotent-replayed'), null);
    assert.equal(await balanceOf(c.id), 4_000_000);
    const rows = await auditRows(broken.id, 'transfer');
    assert.deepEqual(rows.map((r) => r.status_code), [200], 'the failed attempt could leave no row; the retry one');
  });

  it('a non-transactional write whose audit row cannot be written is not applied (reseller\'s and client\'s own)', async () => {
    const broken = await createReseller(t, await wholesalePlan(t));
    const c = await client(broken);
    const account = () => t.server.ctx.db.selectFrom('accounts').select(['name', 'password_hash']).where('id', '=', c.id).executeTakeFirstOrThrow();
    const before = await account();
    await refuseAuditOf([broken.login, c.login]);
    try {
      const profile = await post(broken, 'client-profile-update', { login: c.login, name: 'Unaudited' });
      assert.equal(profile.status, 500, JSON.stringify(profile.body));
      const own = await t.call('client', 'change-password', { key: c.key, body: { current_password: c.password, new_password: 'Unaudited1234' } });
      assert.equal(own.status, 500, JSON.stringify(own.body));
      assert.deepEqual(await account(), before, 'neither the profile nor the password changed');
    } finally {
      await refuseAuditOf([]);
    }
    assert.equal((await post(broken, 'client-profile-update', { login: c.login, name: 'Audited' })).status, 200);
    assert.equal((await account()).name, 'Audited');
  });
});
