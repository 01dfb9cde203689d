import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { runCli, startTestServer, type TestServer } from '../helpers/server.js';


describe('ledgerline CLI', () => {
  let t: TestServer;

  const cli = (...args: string[]) => runCli(t, args);
  /** A command that must succeed and print the Admin API's JSON answer. */
  async function ok(...args: string[]): Promise<any> {
    const r = await cli(...args);
    assert.equal(r.code, 0, `ledgerline ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    const body = JSON.parse(r.stdout);
    assert.equal(body.success, true);
    return body;
  }

  let planId: number;
  let login: string;
  let apiKey: string;

  before(async () => {
    t = await startTestServer();
  });
  after(async () => t.close());

  it('create-plan and add-rates create a plan the Admin API and the database see', async () => {
    const created = await ok('create-plan', '--name', 'CLI-PLAN', '--signup', 'true');
    planId = created.plan.id;
    assert.equal(typeof planId, 'number');
    assert.equal(created.plan.name, 'CLI-PLAN');
    assert.equal(created.plan.signup, true);
    const rates = await ok('add-rates', '--plan-id', String(planId),
      '--rates', JSON.stringify([{ prefix: '1', destination: 'USA', rate: '0.0120' }, { prefix: '44', destination: 'UK', rate: '0.0250' }]));
    assert.equal(rates.upserted, 2);
    const rows = await t.server.ctx.db.selectFrom('rates').select(['prefix', 'rate_micros']).where('plan_id', '=', planId).orderBy('prefix').execute();
    assert.deepEqual(rows.map((r) => [r.prefix, Number(r.rate_micros)]), [['1', 12_000], ['44', 25_000]]);
  });

  it('create-client makes a client whose key works over HTTP', async () => {
    const created = await ok('create-client', '--plan-id', String(planId), '--password', 'CliPass12345', '--balance', '2');
    login = created.client.login;
    apiKey = created.api_key;
    assert.equal(created.sip.name, login);
    const me = await t.call('client', 'me', { key: apiKey });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.deepEqual(me.body.data, {
      id: created.client.id, username: login, balance: '2.0000', active: 1, id_plan: planId, plan_name: 'CLI-PLAN',
    });
    const plans = await t.call('client', 'plans', { key: apiKey });
    assert.ok((plans.body.data as Array<{ id: number }>).some((p) => p.id === planId));
  });

  it('fields may be written with underscores and --field=value', async () => {
    const created = await ok('create-client', `--plan_id=${planId}`, '--login=cli-bob');
    assert.equal(created.client.login, 'cli-bob');
    assert.equal(typeof created.password, 'string', 'a generated password is printed once');
  });

  it('refill credits the balance, seen over HTTP', async () => {
    const r = await ok('refill', '--login', login, '--amount', '3.25', '--description', 'Cash at the counter');
    assert.equal(r.balance, '5.2500');
    const balance = await t.call('client', 'balance', { key: apiKey });
    assert.equal(balance.body.data.balance, '5.2500');
    const refills = await t.call('client', 'refills', { key: apiKey });
    assert.equal(refills.body.data.total, 2);
    assert.deepEqual([refills.body.data.refills[0].amount, refills.body.data.refills[0].description], ['3.2500', 'Cash at the counter']);
  });

  it('a refused command exits non-zero and changes nothing', async () => {
    const [overdraw, unknown, invalid, dangling] = await Promise.all([
      cli('refill', '--login', login, '--amount', '-100'),
      cli('refill', '--login', 'nobody-here', '--amount', '1'),
      cli('create-client', '--password', 'CliPass12345'),
      cli('refill', '--login'),
    ]);
    assert.equal(overdraw.code, 1, overdraw.stderr);
    assert.match(overdraw.stderr, /INSUFFICIENT_BALANCE/);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /NOT_FOUND/);
    assert.equal(invalid.code, 2, 'invalid input is a usage error');
    assert.match(invalid.stderr, /plan_id/);
    assert.equal(dangling.code, 2);
    const balance = await t.call('client', 'balance', { key: apiKey });
    assert.equal(balance.body.data.balance, '5.2500');
  });

  it('set-account-status and the read commands act on the same database', async () => {
    await ok('set-account-status', '--login', login, '--active', 'false');
    assert.equal((await t.call('client', 'me', { key: apiKey })).body.data.active, 0);
    await ok('set-account-status', '--login', login, '--active', 'true');
    assert.equal((await t.call('client', 'me', { key: apiKey })).body.data.active, 1);
    const [accounts, account] = await Promise.all([ok('accounts', '--role', 'client'), ok('account', '--login', login)]);
    assert.equal(accounts.total, 2);
    assert.deepEqual(accounts.accounts.map((a: { login: string }) => a.login).sort(), [login, 'cli-bob'].sort());
    assert.equal(account.account.balance, '5.2500');
  });

  it('state-changing commands are written to the audit log', async () => {
    const rows = await t.server.ctx.db.selectFrom('audit_log').select(['api', 'endpoint', 'actor_login'])
      .where('api', '=', 'cli').orderBy('id').execute();
    const endpoints = rows.map((r) => r.endpoint);
    for (const e of ['create-plan', 'add-rates', 'create-client', 'refill', 'set-account-status']) {
      assert.ok(endpoints.includes(e), `audit log has ${e}: ${endpoints.join(',')}`);
    }
    assert.ok(rows.every((r) => r.actor_login === 'admin'));
    assert.ok(!endpoints.includes('accounts'), 'reads are not state-changing');
  });

  it('verify-ledger exits 0 and prints ok on a sound ledger', async () => {
    const r = await cli('verify-ledger');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok/);
    const body = JSON.parse(r.stdout);
    assert.equal(body.ok_ledger, true);
    assert.deepEqual(body.mismatches, []);
    assert.ok(body.accounts_checked >= 3);
  });

  it('verify-ledger exits 1 and names the account when a balance drifts from its postings', async () => {
    const db = t.server.ctx.db;
    await db.updateTable('accounts').set({ balance_micros: sql`balance_micros + 1` }).where('login', '=', login).execute();
    try {
      const r = await cli('verify-ledger');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.ok_ledger, false);
      assert.deepEqual(body.mismatches.map((m: { login: string }) => m.login), [login]);
    } finally {
      await db.updateTable('accounts').set({ balance_micros: sql`balance_micros - 1` }).where('login', '=', login).execute();
    }
    assert.equal((await cli('verify-ledger')).code, 0);
  });

  it('an unknown command exits 2', async () => {
    const [r, none, help] = await Promise.all([cli('make-me-rich', '--amount', '1000000'), cli(), cli('help')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
    assert.equal(none.code, 2);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /verify-ledger/);
  });
});
