// Money transactions under concurrency: calls of a reseller's clients starting while others end,
// on two server instances sharing one database, never deadlock and never lose a CDR; a CDR that
// hits a deadlock or serialization failure anyway is retried, and when it keeps failing the
// switch is told to send it again (HTTP 503 RETRY_LATER, AGI LL_CDR_RETRY) with nothing applied.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPlan, isPostgres, startTestServer, testDatabaseUrl, twoInstances, type TestServer } from '../helpers/server.js';
import { agiEnv, asterisk, freePort, runAgi } from '../switch/fake-asterisk.js';

const uid = () => `call-${crypto.randomBytes(6).toString('hex')}`;
const USA = '15551234567';

/** Sum of every series of a counter on one instance's /metrics. */
async function counter(t: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

interface Client { login: string; sip: string; key: string }

/** A reseller (funded) with `count` clients, each credited `amount` by transfer. */
async function resellerWithClients(t: TestServer, count: number, amount: string) {
  const plan = await createPlan(t);
  const body = await t.admin('create-reseller', { plan_id: plan.id, balance: '1000' });
  const resellerKey = body.api_key as string;
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const res = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: body.reseller.retail_plan_id } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const login = res.body.client.login as string;
    const tr = await t.call('reseller', 'transfer', { key: resellerKey, body: { login, amount } });
    assert.equal(tr.status, 200, JSON.stringify(tr.body));
    clients.push({ login, sip: res.body.sip.name, key: res.body.api_key });
  }
  return { reseller: body.reseller.login as string, clients };
}

const balanceMicros = async (t: TestServer, login: string) => {
  const row = await t.server.ctx.db.selectFrom('accounts').select(['balance_micros', 'reserved_micros']).where('login', '=', login).executeTakeFirstOrThrow();
  return { balance: Number(row.balance_micros), reserved: Number(row.reserved_micros) };
};

describe('ledger: calls of a reseller client starting while others end, two instances', () => {
  const servers = twoInstances();

  it('every CDR is settled, no transaction had to be retried, and the balances are exact', async () => {
    const { a, b } = servers;
    const { reseller, clients } = await resellerWithClients(a, 4, '100');
    const key = (await a.admin('create-switch-key', { name: 'overlap' })).api_key;
    const instance = (i: number) => (i % 2 ? b : a);
    const retriesBefore = (await counter(a, 'ledgerline_transaction_retries_total')) + (await counter(b, 'ledgerline_transaction_retries_total'));
    const ROUNDS = 6;
    const PER_ROUND = 40;
    type Call = { uniqueid: string; client: Client; via: TestServer };
    const authorize = async (c: Call) => {
      const r = await c.via.call('switch', 'authorize', { key, body: { uniqueid: c.uniqueid, sip_login: c.client.sip, destination: USA } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.allowed, true, JSON.stringify(r.body));
    };
    // The CDR goes to the other instance than the authorize, as behind a load balancer.
    const settle = (c: Call) => (c.via === a ? b : a).call('switch', 'cdr', {
      key, body: { uniqueid: c.uniqueid, sip_login: c.client.sip, destination: USA, answered_seconds: 30, disposition: 'ANSWERED' },
    });
    let previous: Call[] = [];
    const failures: unknown[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const starting: Call[] = round === ROUNDS ? [] : Array.from({ length: PER_ROUND }, (_, i) => ({
        uniqueid: uid(), client: clients[i % clients.length], via: instance(i),
      }));
      const [, settled] = await Promise.all([Promise.all(starting.map(authorize)), Promise.all(previous.map(settle))]);
      for (const r of settled) if (r.status !== 200 || r.body.duplicate !== false) failures.push({ status: r.status, body: r.body });
      previous = starting;
    }
    assert.deepEqual(failures, [], 'every CDR answered 200 on its first send');
    // 30 s of USA: retail 0.0144/min -> 0.0072 per call; wholesale 0.0120/min -> 0.0060.
    const callsPerClient = (ROUNDS * PER_ROUND) / clients.length;
    for (const c of clients) {
      assert.deepEqual(await balanceMicros(a, c.login), { balance: 100_000_000 - callsPerClient * 7_200, reserved: 0 }, c.login);
    }
    assert.deepEqual(await balanceMicros(a, reseller), { balance: 1_000_000_000 - ROUNDS * PER_ROUND * 6_000, reserved: 0 });
    const retriesAfter = (await counter(a, 'ledgerline_transaction_retries_total')) + (await counter(b, 'ledgerline_transaction_retries_total'));
    assert.equal(retriesAfter - retriesBefore, 0, 'the lock order alone kept the transactions apart');
  });
});

describe('ledger: a CDR that meets a deadlock or serialization failure', { skip: isPostgres() ? false : 'PostgreSQL only: SQLite has one writer and no deadlocks' }, () => {
  let t: TestServer;
  let admin: pg.Client;
  let key: string;
  let plan: { id: number };
  let agiPort: number;
  before(async () => {
    t = await startTestServer({ AGI_PORT: String(await freePort()) });
    agiPort = t.server.agiPort!;
    plan = await createPlan(t);
    key = (await t.admin('create-switch-key', { name: 'victim' })).api_key;
    admin = new pg.Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    await admin.query(`create sequence ${t.schema}.cdr_failures`);
    // Fails the calls insert of a CDR as PostgreSQL fails a deadlock victim, `limit` times.
    await admin.query(`create function ${t.schema}.fail_cdrs() returns trigger language plpgsql as $$
      begin
        if nextval('${t.schema}.cdr_failures') <= (select coalesce(max(n), 0) from ${t.schema}.cdr_failure_limit) then
          raise exception 'deadlock detected (simulated)' using errcode = 'deadlock_detected';
        end if;
        return new;
      end $$`);
    await admin.query(`create table ${t.schema}.cdr_failure_limit (n integer)`);
    await admin.query(`create trigger fail_cdrs before insert on ${t.schema}.calls for each row execute function ${t.schema}.fail_cdrs()`);
  });
  after(async () => {
    await admin.query(`drop trigger if exists fail_cdrs on ${t.schema}.calls`);
    await admin.end();
    await t.close();
  });
  /** The next `n` CDR inserts fail as deadlock victims. */
  const failNext = async (n: number) => {
    await admin.query(`select setval('${t.schema}.cdr_failures', 1, false)`);
    await admin.query(`delete from ${t.schema}.cdr_failure_limit`);
    await admin.query(`insert into ${t.schema}.cdr_failure_limit (n) values ($1)`, [n]);
  };
  const newClient = async () => {
    const body = await t.admin('create-client', { plan_id: plan.id, balance: '10' });
    return { login: body.client.login as string, sip: body.sip.name as string };
  };

  it('is retried in the service and settled once', async () => {
    const c = await newClient();
    const id = uid();
    assert.equal((await t.call('switch', 'authorize', { key, body: { uniqueid: id, sip_login: c.sip, destination: '447575396991' } })).body.allowed, true);
    const retries = await counter(t, 'ledgerline_transaction_retries_total');
    await failNext(2);
    const res = await t.call('switch', 'cdr', { key, body: { uniqueid: id, sip_login: c.sip, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.cost, '1.3200');
    assert.equal(await counter(t, 'ledgerline_transaction_retries_total'), retries + 2);
    assert.deepEqual(await balanceMicros(t, c.login), { balance: 8_680_000, reserved: 0 });
  });

  it('that keeps failing answers 503 RETRY_LATER over HTTP, sets LL_CDR_RETRY over AGI, applies nothing; a resend settles it', async () => {
    const c = await newClient();
    const id = uid();
    assert.equal((await t.call('switch', 'authorize', { key, body: { uniqueid: id, sip_login: c.sip, destination: '447575396991' } })).body.allowed, true);
    const held = await balanceMicros(t, c.login);
    assert.equal(held.reserved, 9_960_000);
    await failNext(1000);
    const cdr = { uniqueid: id, sip_login: c.sip, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED' };
    const refused = await t.call('switch', 'cdr', { key, body: cdr });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'RETRY_LATER');
    assert.match(refused.body.error, /send it again/);
    assert.deepEqual(await balanceMicros(t, c.login), held, 'nothing applied: balance and reservation unchanged');

    // The same over FastAGI (its own call: AGI calls belong to the Asterisk address, not to the key).
    const agiId = `${Math.floor(Date.now() / 1000)}.${crypto.randomInt(1_000_000)}`;
    await failNext(0);
    const c2 = await newClient();
    const authorized = await runAgi(agiPort, agiEnv(agiPort, 'authorize', { uniqueid: agiId, login: c2.sip, extension: '447575396991' }), asterisk({ 'CHANNEL(endpoint)': c2.sip }));
    assert.equal(authorized.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
    await failNext(1000);
    const vars = { LL_DESTINATION: '447575396991', LL_SIP: c2.sip, ANSWEREDTIME: '61', DIALSTATUS: 'ANSWER', HANGUPCAUSE: '16' };
    const agiCdr = await runAgi(agiPort, agiEnv(agiPort, 'cdr', { uniqueid: agiId, login: c2.sip, extension: 'h' }), asterisk(vars));
    assert.deepEqual(agiCdr.commands.slice(-2), ['SET VARIABLE LL_CDR_ERROR "RETRY_LATER"', 'SET VARIABLE LL_CDR_RETRY "1"']);
    assert.equal((await balanceMicros(t, c2.login)).balance, 10_000_000);

    // Once the database lets it through, the resent CDRs settle, once.
    await failNext(0);
    const resent = await t.call('switch', 'cdr', { key, body: cdr });
    assert.equal(resent.status, 200, JSON.stringify(resent.body));
    assert.equal(resent.body.duplicate, false);
    const again = await runAgi(agiPort, agiEnv(agiPort, 'cdr', { uniqueid: agiId, login: c2.sip, extension: 'h' }), asterisk(vars));
    assert.equal(again.commands.length, 5, JSON.stringify(again.commands));
    for (const login of [c.login, c2.login]) assert.deepEqual(await balanceMicros(t, login), { balance: 8_680_000, reserved: 0 });
  });
});
