// A call belongs to (switch, uniqueid): two Asterisk hosts without a systemname hand out the same
// uniqueids, and one host's call must never take another caller's reservation.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { agiEnv, asterisk, freePort, runAgi } from './fake-asterisk.js';

const UK_MOBILE = '447575396991';
/** Asterisk's uniqueid without a systemname: EPOCH.SEQ, the same on every host started alike. */
const asteriskId = () => `${Math.floor(Date.now() / 1000)}.${crypto.randomInt(1_000_000)}`;

describe('switch: a uniqueid reused by another switch or caller', () => {
  let t: TestServer;
  let plan: { id: number };
  let switch1: string;
  let switch2: string;
  let agiPort: number;
  before(async () => {
    t = await startTestServer({ AGI_PORT: String(await freePort()) });
    agiPort = t.server.agiPort!;
    plan = await createPlan(t);
    switch1 = (await t.admin('create-switch-key', { name: 'asterisk-a' })).api_key;
    switch2 = (await t.admin('create-switch-key', { name: 'asterisk-b' })).api_key;
  });
  after(async () => t.close());

  const authorize = (key: string, c: TestClient, uniqueid: string) =>
    t.call('switch', 'authorize', { key, body: { uniqueid, sip_login: c.sip.name, destination: UK_MOBILE } });
  const cdr = (key: string, c: TestClient, uniqueid: string, answered: number) =>
    t.call('switch', 'cdr', { key, body: { uniqueid, sip_login: c.sip.name, destination: UK_MOBILE, answered_seconds: answered, disposition: 'ANSWERED' } });
  const money = async (c: TestClient) => {
    const row = await t.server.ctx.db.selectFrom('accounts').select(['balance_micros', 'reserved_micros']).where('login', '=', c.login).executeTakeFirstOrThrow();
    return { balance: Number(row.balance_micros), reserved: Number(row.reserved_micros) };
  };
  const callsOf = async (c: TestClient) => (await t.call('client', 'calls', { key: c.key })).body.data;

  it('two switches with the same uniqueid: each caller gets its own reservation and both calls are billed', async () => {
    const y = await createClient(t, plan.id, { balance: '100' });
    const x = await createClient(t, plan.id, { balance: '10' });
    const id = asteriskId();
    const ofY = await authorize(switch1, y, id);
    assert.equal(ofY.body.allowed, true);
    assert.equal(ofY.body.max_duration, 3600);
    // Switch 2 uses the same id for X: X's own limit and reservation, not Y's.
    const ofX = await authorize(switch2, x, id);
    assert.equal(ofX.status, 200, JSON.stringify(ofX.body));
    assert.equal(ofX.body.allowed, true);
    assert.equal(ofX.body.max_duration, 498, '10.00 at 1.20/min');
    assert.deepEqual(await money(x), { balance: 10_000_000, reserved: 9_960_000 });
    assert.deepEqual(await money(y), { balance: 100_000_000, reserved: 72_000_000 });

    const settledX = await cdr(switch2, x, id, 498);
    assert.equal(settledX.status, 200, JSON.stringify(settledX.body));
    assert.equal(settledX.body.cost, '9.9600');
    const settledY = await cdr(switch1, y, id, 61);
    assert.equal(settledY.status, 200, JSON.stringify(settledY.body));
    assert.equal(settledY.body.cost, '1.3200');
    assert.deepEqual(await money(x), { balance: 40_000, reserved: 0 });
    assert.deepEqual(await money(y), { balance: 98_680_000, reserved: 0 });

    // Replays stay idempotent, each on its own switch.
    const replayX = await cdr(switch2, x, id, 498);
    assert.equal(replayX.body.duplicate, true);
    assert.equal(replayX.body.call_id, settledX.body.call_id);
    const replayY = await cdr(switch1, y, id, 61);
    assert.equal(replayY.body.duplicate, true);
    assert.equal(replayY.body.call_id, settledY.body.call_id);
    assert.equal((await cdr(switch1, y, id, 600)).body.code, 'IDEMPOTENCY_MISMATCH');
    assert.equal((await authorize(switch2, x, id)).body.reason, 'ALREADY_SETTLED');
    for (const c of [x, y]) {
      const history = await callsOf(c);
      assert.equal(history.total, 1);
      assert.equal(history.calls[0].uniqueid, id);
    }
    assert.deepEqual(await money(x), { balance: 40_000, reserved: 0 });
    assert.deepEqual(await money(y), { balance: 98_680_000, reserved: 0 });
  });

  it('the same switch reusing a uniqueid for another caller is refused, never handed the other reservation', async () => {
    const y = await createClient(t, plan.id, { balance: '100' });
    const z = await createClient(t, plan.id, { balance: '10' });
    const id = asteriskId();
    assert.equal((await authorize(switch1, y, id)).body.allowed, true);
    const refused = await authorize(switch1, z, id);
    assert.equal(refused.status, 200);
    assert.equal(refused.body.allowed, false);
    assert.equal(refused.body.reason, 'UNIQUEID_IN_USE');
    assert.equal(refused.body.max_duration, 0);
    assert.deepEqual(await money(z), { balance: 10_000_000, reserved: 0 });
    // Z's CDR for it is refused with a code, and Y's call is still Y's.
    const zCdr = await cdr(switch1, z, id, 30);
    assert.equal(zCdr.status, 409, JSON.stringify(zCdr.body));
    assert.equal(zCdr.body.code, 'UNIQUEID_IN_USE');
    assert.match(zCdr.body.error, /systemname/);
    assert.deepEqual(await money(z), { balance: 10_000_000, reserved: 0 });
    assert.equal((await cdr(switch1, y, id, 61)).body.cost, '1.3200');
    assert.deepEqual(await money(y), { balance: 98_680_000, reserved: 0 });
    // Once settled, the id stays Y's on this switch.
    assert.equal((await authorize(switch1, z, id)).body.reason, 'UNIQUEID_IN_USE');
    assert.equal((await cdr(switch1, z, id, 30)).body.code, 'UNIQUEID_IN_USE');
  });

  it('two Asterisk hosts over FastAGI with the same uniqueid bill both callers', async () => {
    const y = await createClient(t, plan.id, { balance: '100' });
    const x = await createClient(t, plan.id, { balance: '10' });
    const id = asteriskId();
    const hosts = [{ c: y, address: '127.0.0.1' }, { c: x, address: '127.0.0.2' }];
    for (const { c, address } of hosts) {
      const run = await runAgi(agiPort, agiEnv(agiPort, 'authorize', { uniqueid: id, login: c.sip.name, extension: UK_MOBILE }),
        asterisk({ 'CHANNEL(endpoint)': c.sip.name }), { localAddress: address });
      assert.equal(run.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"', JSON.stringify(run.commands));
    }
    assert.equal((await money(x)).reserved, 9_960_000);
    for (const { c, address } of hosts) {
      const run = await runAgi(agiPort, agiEnv(agiPort, 'cdr', { uniqueid: id, login: c.sip.name, extension: 'h' }),
        asterisk({ LL_DESTINATION: UK_MOBILE, LL_SIP: c.sip.name, ANSWEREDTIME: '61', DIALSTATUS: 'ANSWER' }), { localAddress: address });
      assert.equal(run.commands.length, 5, JSON.stringify(run.commands));
    }
    assert.deepEqual(await money(y), { balance: 98_680_000, reserved: 0 });
    assert.deepEqual(await money(x), { balance: 8_680_000, reserved: 0 });
  });

  it('rows from before calls were told apart by switch still match their own caller on any switch', async () => {
    const y = await createClient(t, plan.id, { balance: '10' });
    const id = asteriskId();
    assert.equal((await authorize(switch1, y, id)).body.max_duration, 498);
    // As migration 0006 leaves an in-flight call: no switch recorded.
    await t.server.ctx.db.updateTable('reservations').set({ switch_ref: '' }).where('uniqueid', '=', id).execute();
    const other = await createClient(t, plan.id, { balance: '10' });
    // Another caller's call with the same id is its own call, and leaves Y's reservation alone.
    assert.equal((await authorize(switch2, other, id)).body.max_duration, 498);
    assert.equal((await cdr(switch2, other, id, 61)).body.cost, '1.3200');
    assert.deepEqual(await money(y), { balance: 10_000_000, reserved: 9_960_000 });
    // Y's CDR finds the legacy reservation.
    const settled = await cdr(switch1, y, id, 61);
    assert.equal(settled.status, 200, JSON.stringify(settled.body));
    assert.equal(settled.body.duplicate, false);
    assert.deepEqual(await money(y), { balance: 8_680_000, reserved: 0 });
    // A settled call from before the migration is still recognised when a switch replays it.
    await t.server.ctx.db.updateTable('calls').set({ switch_ref: '' }).where('uniqueid', '=', id).where('account_id', '=', y.id).execute();
    const replay = await cdr(switch2, y, id, 61);
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.body.duplicate, true);
    assert.equal(replay.body.call_id, settled.body.call_id);
    assert.equal((await authorize(switch1, y, id)).body.reason, 'ALREADY_SETTLED');
    assert.equal((await authorize(switch2, y, id)).body.reason, 'ALREADY_SETTLED');
    assert.deepEqual(await money(y), { balance: 8_680_000, reserved: 0 });
  });
});
