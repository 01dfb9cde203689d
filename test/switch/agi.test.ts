// The Switch API over FastAGI: the test plays Asterisk on a TCP connection, sends the agi_*
// environment, answers each command the server sends and checks the exact commands.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startFastAgiServer } from '../../src/agi/fastagi-server.js';
import { formatLocal } from '../../src/util/time.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { agiEnv, asterisk, freePort, runAgi, type Answerer } from './fake-asterisk.js';

let seq = 0;
/** Asterisk's uniqueid: channel creation epoch and a sequence number. */
const newUniqueId = () => `${Math.floor(Date.now() / 1000)}.${process.pid}${++seq}${crypto.randomInt(1000)}`;

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('switch: FastAGI', () => {
  let t: TestServer;
  let port: number;
  let plan: { id: number };
  const DEST = '447575396991';

  before(async () => {
    t = await startTestServer({ AGI_PORT: String(await freePort()) });
    port = t.server.agiPort!;
    assert.ok(port > 0);
    plan = await createPlan(t);
  });
  after(async () => t.close());

  const balanceOf = async (c: TestClient) => (await t.call('client', 'balance', { key: c.key })).body.data.balance;
  const reservedOf = async (c: TestClient) => Number((await t.server.ctx.db.selectFrom('accounts').select('reserved_micros')
    .where('login', '=', c.login).executeTakeFirstOrThrow()).reserved_micros);
  const authorize = (c: { sip: { name: string } }, uniqueid: string, vars: Record<string, string> = { 'CHANNEL(endpoint)': c.sip.name }, answer?: Answerer) =>
    runAgi(port, agiEnv(port, 'authorize', { uniqueid, login: c.sip.name, extension: DEST }), answer ?? asterisk(vars));
  const cdr = (c: { sip: { name: string } }, uniqueid: string, vars: Record<string, string>) =>
    runAgi(port, agiEnv(port, 'cdr', { uniqueid, login: c.sip.name, extension: 's' }), asterisk({ LL_DESTINATION: DEST, LL_SIP: c.sip.name, ...vars }));

  it('authorize sets the limit and caller ID; cdr charges exactly once', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    await t.call('client', 'add-callerid', { key: c.key, body: { cid: '+15551234567', set_active: true } });
    const id = newUniqueId();
    const auditBefore = Number((await t.server.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.max('id').as('id')).executeTakeFirstOrThrow()).id ?? 0);

    const a = await authorize(c, id);
    assert.equal(a.closedByServer, true);
    assert.deepEqual(a.commands, [
      'GET VARIABLE CHANNEL(endpoint)',
      'SET VARIABLE LL_MAX_DURATION "498"',
      `SET VARIABLE LL_DESTINATION "${DEST}"`,
      `SET VARIABLE LL_SIP "${c.sip.name}"`,
      'SET VARIABLE CALLERID(num) "+15551234567"',
      'SET VARIABLE LL_ALLOWED "1"',
    ]);
    assert.equal(await reservedOf(c), 9_960_000);

    const cdrVars = { ANSWEREDTIME: '61', DIALSTATUS: 'ANSWER', HANGUPCAUSE: '16' };
    const settled = await cdr(c, id, cdrVars);
    assert.deepEqual(settled.commands, [
      'GET VARIABLE LL_DESTINATION',
      'GET VARIABLE LL_SIP',
      'GET VARIABLE ANSWEREDTIME',
      'GET VARIABLE DIALSTATUS',
      'GET VARIABLE HANGUPCAUSE',
    ]);
    assert.equal(await balanceOf(c), '8.6800'); // 10.0000 - 1.3200 (61 s billed as 66 s at 1.20/min)
    assert.equal(await reservedOf(c), 0);
    const calls = (await t.call('client', 'calls', { key: c.key })).body.data;
    assert.equal(calls.total, 1);
    assert.equal(calls.calls[0].uniqueid, id);
    assert.equal(calls.calls[0].cost, '1.3200');
    assert.equal(calls.calls[0].sessiontime, 61);
    assert.equal(calls.calls[0].billed_seconds, 66);
    assert.equal(calls.calls[0].destination, DEST);
    assert.equal(calls.calls[0].sip_login, c.sip.name);
    assert.equal(calls.calls[0].hangup_cause, '16');
    assert.equal(calls.calls[0].starttime, formatLocal(new Date(Number(id.split('.')[0]) * 1000).toISOString()));

    // Asterisk retrying the hangup handler changes nothing.
    const replay = await cdr(c, id, cdrVars);
    assert.equal(replay.commands.length, 5);
    assert.equal(await balanceOf(c), '8.6800');
    assert.equal((await t.call('client', 'calls', { key: c.key })).body.data.total, 1);

    // Both scripts are in the audit log, from Asterisk's address, as HTTP requests would be.
    const audited = await t.server.ctx.db.selectFrom('audit_log').select(['endpoint', 'method', 'ip', 'status_code', 'actor_id'])
      .where('api', '=', 'agi').where('id', '>', auditBefore).orderBy('id').execute();
    assert.deepEqual(audited.map((r) => [r.endpoint, r.method, r.ip, r.status_code, r.actor_id]), [
      ['authorize', 'AGI', '127.0.0.1', 200, null], ['cdr', 'AGI', '127.0.0.1', 200, null], ['cdr', 'AGI', '127.0.0.1', 200, null],
    ]);
  });

  it('finds the caller from the channel name when CHANNEL(endpoint) is unset; an unanswered call is free', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const id = newUniqueId();
    const a = await authorize(c, id, {});
    assert.equal(a.commands[0], 'GET VARIABLE CHANNEL(endpoint)');
    assert.ok(a.commands.includes(`SET VARIABLE LL_SIP "${c.sip.name}"`), JSON.stringify(a.commands));
    assert.equal(a.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
    assert.ok(!a.commands.some((cmd) => cmd.startsWith('SET VARIABLE CALLERID')), 'no caller ID set when the account has none');
    assert.ok(await reservedOf(c) > 0);

    await cdr(c, id, { DIALSTATUS: 'NOANSWER', HANGUPCAUSE: '19' });
    assert.equal(await balanceOf(c), '10.0000');
    assert.equal(await reservedOf(c), 0);
    assert.equal((await t.call('client', 'calls', { key: c.key })).body.data.total, 0);
    const failed = await t.server.ctx.db.selectFrom('calls').select(['disposition', 'cost_micros']).where('uniqueid', '=', id).executeTakeFirstOrThrow();
    assert.equal(failed.disposition, 'NO ANSWER');
    assert.equal(Number(failed.cost_micros), 0);

    // The number may come as the script's argument (AGI(agi://…/authorize,+447…)) instead of ${EXTEN}.
    const withArg = await runAgi(port, { ...agiEnv(port, 'authorize', { uniqueid: newUniqueId(), login: c.sip.name, extension: 's' }), agi_arg_1: `+${DEST}` }, asterisk({ 'CHANNEL(endpoint)': c.sip.name }));
    assert.ok(withArg.commands.includes(`SET VARIABLE LL_DESTINATION "${DEST}"`), JSON.stringify(withArg.commands));
    assert.equal(withArg.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
  });

  it('refuses an unknown endpoint and an empty balance with LL_ALLOWED 0 and LL_REASON', async () => {
    const unknown = await authorize({ sip: { name: 'nobody-here' } }, newUniqueId());
    assert.deepEqual(unknown.commands, [
      'GET VARIABLE CHANNEL(endpoint)',
      'SET VARIABLE LL_MAX_DURATION "0"',
      `SET VARIABLE LL_DESTINATION "${DEST}"`,
      'SET VARIABLE LL_REASON "UNKNOWN_CALLER"',
      'SET VARIABLE LL_ALLOWED "0"',
    ]);

    const poor = await createClient(t, plan.id, { balance: '0' });
    const refused = await authorize(poor, newUniqueId());
    assert.deepEqual(refused.commands, [
      'GET VARIABLE CHANNEL(endpoint)',
      'SET VARIABLE LL_MAX_DURATION "0"',
      `SET VARIABLE LL_DESTINATION "${DEST}"`,
      `SET VARIABLE LL_SIP "${poor.sip.name}"`,
      'SET VARIABLE LL_REASON "INSUFFICIENT_BALANCE"',
      'SET VARIABLE LL_ALLOWED "0"',
    ]);
    assert.equal(await reservedOf(poor), 0);

    // A dialled "number" that is not one.
    const c = await createClient(t, plan.id, { balance: '10' });
    const bad = await runAgi(port, agiEnv(port, 'authorize', { uniqueid: newUniqueId(), login: c.sip.name, extension: 'abc' }), asterisk({ 'CHANNEL(endpoint)': c.sip.name }));
    assert.deepEqual(bad.commands.slice(1), ['SET VARIABLE LL_MAX_DURATION "0"', 'SET VARIABLE LL_REASON "INVALID_DESTINATION"', 'SET VARIABLE LL_ALLOWED "0"']);
    assert.equal(await reservedOf(c), 0);
    // Refusals are audited too; a request that could not be read, with its 400 and reason.
    const last = await t.server.ctx.db.selectFrom('audit_log').select(['endpoint', 'status_code', 'error_code'])
      .where('api', '=', 'agi').orderBy('id', 'desc').limit(3).execute();
    assert.deepEqual(last.map((r) => [r.endpoint, r.status_code, r.error_code]), [
      ['authorize', 400, 'INVALID_DESTINATION'], ['authorize', 200, null], ['authorize', 200, null],
    ]);
  });

  it('a HANGUP notice mid-script is not an answer: the script carries on', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const id = newUniqueId();
    const normal = asterisk({ 'CHANNEL(endpoint)': c.sip.name });
    const a = await authorize(c, id, {}, (cmd) => (cmd.startsWith('GET VARIABLE') ? ['HANGUP', normal(cmd) as string] : normal(cmd)));
    assert.equal(a.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
    assert.ok(a.commands.includes('SET VARIABLE LL_MAX_DURATION "498"'));
    // The caller gave up while ringing.
    const settled = await runAgi(port, agiEnv(port, 'cdr', { uniqueid: id, login: c.sip.name, extension: 'h' }), (cmd) => {
      const r = asterisk({ LL_DESTINATION: DEST, LL_SIP: c.sip.name, DIALSTATUS: 'CANCEL', ANSWEREDTIME: '' })(cmd);
      return cmd === 'GET VARIABLE LL_DESTINATION' ? ['HANGUP', r as string] : r;
    });
    assert.equal(settled.commands.length, 5);
    assert.equal(await reservedOf(c), 0);
    assert.equal(await balanceOf(c), '10.0000');
  });

  it('a caller hanging up before the call is allowed frees its reservation; the server keeps serving', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    // The socket closes after the first SET.
    const closed = await authorize(c, newUniqueId(), {}, (cmd) => (cmd.startsWith('SET VARIABLE LL_DESTINATION') ? null : asterisk({ 'CHANNEL(endpoint)': c.sip.name })(cmd)));
    assert.equal(closed.closedByServer, false);
    await waitFor(async () => (await reservedOf(c)) === 0, 'the reservation to be freed after the socket closed');

    // Asterisk refuses the SET on a dead channel (511).
    const dead = await authorize(c, newUniqueId(), {}, (cmd) => (cmd.startsWith('SET VARIABLE LL_SIP')
      ? '511 Command Not Permitted on a dead channel or intercepted by an agi' : asterisk({ 'CHANNEL(endpoint)': c.sip.name })(cmd)));
    assert.equal(dead.commands.at(-1), `SET VARIABLE LL_SIP "${c.sip.name}"`);
    await waitFor(async () => (await reservedOf(c)) === 0, 'the reservation to be freed after a 511');

    // A usage error (520, multi-line) ends that session only.
    const usage = await authorize(c, newUniqueId(), {}, (cmd) => (cmd.startsWith('GET VARIABLE')
      ? ['520-Invalid command syntax.  Proper usage follows:', 'Usage: GET VARIABLE <variablename>', '520 End of proper usage.'] : '200 result=1'));
    assert.deepEqual(usage.commands, ['GET VARIABLE CHANNEL(endpoint)']);

    // The socket closes before the first answer.
    const early = await authorize(c, newUniqueId(), {}, () => null);
    assert.deepEqual(early.commands, ['GET VARIABLE CHANNEL(endpoint)']);

    // Still serving, and nothing is left reserved by the abandoned calls.
    const ok = await authorize(c, newUniqueId());
    assert.equal(ok.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
    assert.equal(await reservedOf(c), 9_960_000);
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
  });

  it('a cdr without the authorize variables is ignored; garbage, floods and unknown scripts close only that connection', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const orphan = await runAgi(port, agiEnv(port, 'cdr', { uniqueid: newUniqueId(), login: c.sip.name, extension: 'h' }), asterisk({ DIALSTATUS: 'ANSWER', ANSWEREDTIME: '30' }));
    assert.equal(orphan.commands.length, 5);
    assert.equal(await balanceOf(c), '10.0000');

    const unknown = await runAgi(port, { ...agiEnv(port, 'nope', { uniqueid: newUniqueId(), login: c.sip.name, extension: DEST }) }, asterisk({}));
    assert.deepEqual(unknown.commands, []);

    const longLine = await runAgi(port, {}, asterisk({}), { raw: `agi_network_script: authorize\nagi_x: ${'9'.repeat(20_000)}\n\n` });
    assert.deepEqual(longLine.commands, []);
    assert.equal(longLine.closedByServer, true);

    const flood = await runAgi(port, {}, asterisk({}), { raw: Array.from({ length: 1000 }, (_, i) => `agi_h${i}: x\n`).join('') });
    assert.deepEqual(flood.commands, []);

    const notAnswer = await authorize(c, newUniqueId(), {}, () => 'this is not AGI');
    assert.deepEqual(notAnswer.commands, ['GET VARIABLE CHANNEL(endpoint)']);
    assert.equal(await reservedOf(c), 0);

    const ok = await authorize(c, newUniqueId());
    assert.equal(ok.commands.at(-1), 'SET VARIABLE LL_ALLOWED "1"');
  });

  it('many concurrent AGI calls never reserve more than the balance', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const runs = await Promise.all(Array.from({ length: 40 }, () => authorize(c, newUniqueId())));
    const allowed = runs.filter((r) => r.commands.at(-1) === 'SET VARIABLE LL_ALLOWED "1"');
    assert.ok(allowed.length >= 1 && allowed.length <= 8, `allowed ${allowed.length}`);
    assert.ok(await reservedOf(c) <= 10_000_000);
    for (const r of runs.filter((x) => !allowed.includes(x))) {
      assert.ok(r.commands.includes('SET VARIABLE LL_REASON "INSUFFICIENT_BALANCE"'), JSON.stringify(r.commands));
    }
  });

  it('idle connections time out and connections beyond the limit are refused', async () => {
    const agi = await startFastAgiServer(t.server.ctx, { host: '127.0.0.1', port: 0, idleTimeoutMs: 150, maxConnections: 2 });
    try {
      const started = Date.now();
      const idle = await runAgi(agi.port, {}, asterisk({}), { raw: 'agi_network_script: authorize\n' });
      assert.equal(idle.closedByServer, true);
      assert.ok(Date.now() - started >= 100, 'closed by the idle timeout');

      const held = [net.connect(agi.port, '127.0.0.1'), net.connect(agi.port, '127.0.0.1')];
      await Promise.all(held.map((s) => new Promise((r) => s.once('connect', r))));
      await new Promise((r) => setTimeout(r, 20));
      const third = await runAgi(agi.port, {}, asterisk({}), { raw: '' });
      assert.equal(third.closedByServer, true);
      for (const s of held) s.destroy();
    } finally {
      await agi.close();
    }
  });

  it('closing the listener ends connections still waiting on Asterisk', async () => {
    const agi = await startFastAgiServer(t.server.ctx, { host: '127.0.0.1', port: 0, shutdownGraceMs: 50 });
    const pending = runAgi(agi.port, {}, asterisk({}), { raw: 'agi_network_script: authorize\n' });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await agi.close();
    assert.ok(Date.now() - started < 2000);
    assert.equal((await pending).closedByServer, true);
  });
});
