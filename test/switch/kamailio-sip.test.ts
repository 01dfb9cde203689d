// Real SIP calls end to end: sipp (the customer) → Kamailio with deploy/kamailio/kamailio.cfg →
// sipp (the carrier), Kamailio asking Ledgerline's Switch API over HTTP and reading its
// subscriber/address projections from Ledgerline's own database (SQLite file or PostgreSQL).
// Needs kamailio (with its utils, extra and database modules) and sipp: skipped with a notice
// where they are missing, failed instead under LEDGERLINE_REQUIRE_PEERS=1 (.ci/run).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { kill, startChild, type Child } from '../helpers/child-server.js';
import { peersRequired, requirePeer } from '../helpers/peers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  KAMAILIO_EXTRA_MODULES, KAMAILIO_MODULES, runUac, startKamailio, startUas, type Kamailio, type SippRun, type Uas,
} from '../helpers/sip.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const SIP_DOMAIN = 'ledgerline.local';
/** The longest call Ledgerline authorizes here: the concurrent calls talk until cut at it. */
const MAX_CALL_SECONDS = 100;
const suffix = () => String(crypto.randomInt(1_000_000, 9_999_999));

// The plan's rows (CONTRACT §4), and the formula computed here independently of src/.
const RATES = [
  { prefix: '4420', destination: 'UK London', rate: '0.6000', connect_charge: '0.0500', initblock: 30, billingblock: 6 },
  { prefix: '4430', destination: 'UK Test', rate: '0.6000', initblock: 1, billingblock: 1 },
  { prefix: '44', destination: 'UK', rate: '0.6000', initblock: 1, billingblock: 1 },
];
function expectedCostMicros(seconds: number, row: { rate: string; connect_charge?: string; initblock: number; billingblock: number; minimal_time?: number }): bigint {
  const minimal = row.minimal_time ?? 0;
  if (seconds <= 0 || seconds <= minimal) return 0n;
  const billed = seconds <= row.initblock ? row.initblock
    : row.initblock + Math.ceil((seconds - row.initblock) / row.billingblock) * row.billingblock;
  const micros = (s: string) => BigInt(Math.round(Number(s) * 1_000_000));
  // rate * billed / 60, half-up to 6 decimals, in micros: exact with integers.
  const perMinute = micros(row.rate) * BigInt(billed);
  return micros(row.connect_charge ?? '0') + (perMinute + 30n) / 60n;
}
const money = (micros: bigint) => (Number(micros) / 1_000_000).toFixed(4);

/** Adds a documentation-range address to the loopback interface, so sipp can call from it. */
async function loopbackAddress(ip: string): Promise<null | (() => Promise<void>)> {
  for (const prefix of [[], ['sudo', '-n']]) {
    const [cmd, ...args] = [...prefix, 'ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo'];
    try {
      await run(cmd, args);
      return async () => { await run(cmd, [...args.slice(0, args.indexOf('addr') + 1), 'del', `${ip}/32`, 'dev', 'lo']).catch(() => {}); };
    } catch (e) {
      if (/File exists/.test(String((e as { stderr?: string }).stderr))) return async () => {};
    }
  }
  return null;
}

interface Setup {
  t: TestServer;
  ledgerline: Child;
  kamailio: Kamailio;
  uas: Uas;
  sipp: string;
  planId: number;
  cleanup: Array<() => Promise<void>>;
}

async function kamailioDbUrl(t: TestServer, cleanup: Setup['cleanup']): Promise<string> {
  if (t.dialect === 'sqlite') return `sqlite:///${t.databaseUrl.slice('sqlite:'.length)}`;
  // Kamailio reads the tables unqualified: a role of its own, allowed to read only them, whose
  // search_path is the test's schema. As deploy/kamailio/README.md tells an operator to do.
  const role = `${t.schema}_kamailio`;
  const admin = new pg.Client({ connectionString: t.databaseUrl });
  await admin.connect();
  try {
    await admin.query(`create role ${role} login`);
    await admin.query(`grant usage on schema ${t.schema} to ${role}`);
    await admin.query(`grant select on ${t.schema}.subscriber, ${t.schema}.address, ${t.schema}.version to ${role}`);
    await admin.query(`alter role ${role} set search_path = ${t.schema}`);
  } finally {
    await admin.end();
  }
  cleanup.push(async () => {
    const c = new pg.Client({ connectionString: t.databaseUrl });
    await c.connect();
    await c.query(`drop owned by ${role}`).catch(() => {});
    await c.query(`drop role if exists ${role}`).catch(() => {});
    await c.end();
  });
  const u = new URL(t.databaseUrl);
  return `postgres://${role}@${u.hostname}:${u.port || 5432}${u.pathname}`;
}

function missingModules(): string[] {
  return Object.entries(KAMAILIO_EXTRA_MODULES)
    .filter(([file]) => !fs.existsSync(`${KAMAILIO_MODULES}/${file}`))
    .map(([, pkg]) => pkg);
}

test('real SIP calls: sipp → Kamailio → Ledgerline', { concurrency: true, timeout: 300_000 }, async (ctx) => {
  const kamailioBinary = requirePeer(ctx, 'kamailio',
    'apt-get install -y kamailio kamailio-utils-modules kamailio-extra-modules kamailio-sqlite-modules kamailio-postgres-modules');
  if (!kamailioBinary) return;
  const sipp = requirePeer(ctx, 'sipp', 'apt-get install -y sip-tester');
  if (!sipp) return;
  const missing = missingModules();
  if (missing.length > 0) {
    const reason = `Kamailio modules missing (apt-get install -y ${missing.join(' ')}; .ci/run installs them)`;
    assert.ok(!peersRequired(), `LEDGERLINE_REQUIRE_PEERS=1 and ${reason}`);
    process.stderr.write(`\nNOTICE: skipping "${ctx.name}": ${reason}\n`);
    ctx.skip(reason);
    return;
  }

  const cleanup: Setup['cleanup'] = [];
  const t = await startTestServer({ SIP_DOMAIN, MAX_CALL_DURATION: String(MAX_CALL_SECONDS) });
  let kamailio: Kamailio | undefined;
  try {
    const { plan } = await t.admin('create-plan', { name: `SIP-${suffix()}` });
    await t.admin('add-rates', { plan_id: plan.id, rates: RATES });
    const switchKey = (await t.admin('create-switch-key', { name: 'kamailio' })).api_key as string;
    // The instance Kamailio asks runs as a process of its own, so that it can be stopped.
    const ledgerline = await startChild(t, { SIP_DOMAIN, MAX_CALL_DURATION: String(MAX_CALL_SECONDS) });
    cleanup.push(() => kill(ledgerline, 'SIGTERM'));
    const uas = await startUas(sipp);
    cleanup.push(() => uas.stop());
    kamailio = await startKamailio({
      binary: kamailioBinary, dbUrl: await kamailioDbUrl(t, cleanup), sqlite: t.dialect === 'sqlite',
      switchUrl: `${ledgerline.url}/switch-api/index.php`, switchKey, carrierPort: uas.port, sipDomain: SIP_DOMAIN,
    });
    cleanup.push(() => kamailio!.stop());
    const s: Setup = { t, ledgerline, kamailio, uas, sipp, planId: plan.id, cleanup };

    // A failing scenario shows what Kamailio said about the calls and their CDRs.
    const scenario = (fn: () => Promise<void>) => async () => {
      try {
        await fn();
      } catch (e) {
        const lines = kamailio!.output().split('\n').filter((l) => /cdr|authorize|ERROR|WARNING|ALERT/i.test(l));
        process.stderr.write(`\nkamailio (calls and CDRs, last lines):\n${lines.slice(-120).join('\n')}\n`);
        throw e;
      }
    };
    await Promise.all([
      ctx.test('a digest-authenticated call of a known length: one CDR, charged per CONTRACT §4', scenario(() => knownLengthCall(s))),
      ctx.test('a wrong password is challenged, then refused; nothing is charged', scenario(() => wrongPassword(s))),
      ctx.test('an IP-auth peer calls without a password; disabled, it cannot', (sub) => scenario(() => ipAuth(s, sub))()),
      ctx.test('a balance that pays for 90 s: the switch hangs up both sides at 90 s, the charge stays within the balance', scenario(() => cutAtLimit(s))),
      ctx.test('a reseller client pays retail, its reseller wholesale; a busy callee costs nothing and is a failed call', scenario(() => resellerClient(s))),
      ctx.test('50 concurrent calls on one balance, each talking until cut: never more than the balance', scenario(() => concurrentCalls(s))),
    ]);
    await ctx.test('with Ledgerline stopped, calls are refused', scenario(() => ledgerlineStopped(s)));
  } catch (e) {
    if (kamailio) process.stderr.write(`\nkamailio output (end):\n${kamailio.output().slice(-8000)}\n`);
    throw e;
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    await t.close();
  }
});

async function newClient(s: Setup, balance: string) {
  const body = await s.t.admin('create-client', { plan_id: s.planId, balance });
  return { login: body.client.login as string, key: body.api_key as string, sip: body.sip as { name: string; password: string } };
}

async function accountMicros(s: Setup, login: string): Promise<{ balance: bigint; reserved: bigint }> {
  const row = await s.t.server.ctx.db.selectFrom('accounts').select(['balance_micros', 'reserved_micros'])
    .where('login', '=', login).executeTakeFirstOrThrow();
  return { balance: BigInt(row.balance_micros), reserved: BigInt(row.reserved_micros) };
}

async function callsOf(s: Setup, key: string): Promise<any[]> {
  const res = await s.t.call('client', 'calls', { key, query: { limit: 100 } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.calls;
}

/** The call's CDR, once Kamailio has sent it and Ledgerline settled it. */
async function settledCalls(s: Setup, key: string, count: number): Promise<any[]> {
  // Sent within 100 ms on a quiet machine; a busy one may time a CDR out once (resent 2 s later).
  return until(`${count} settled call(s)`, () => callsOf(s, key), (calls) => calls.length >= count, 60_000);
}

function statusOf(r: SippRun): string[] {
  return [...r.finalInviteStatus.values()];
}

function describeRun(r: SippRun): string {
  return `sipp exit ${r.code}; ${r.messages.map((m) => `${m.direction} ${m.firstLine}`).join(' | ')} ${r.output.slice(-500)}`;
}

function reasonOf(r: SippRun, status: string): string | undefined {
  const reply = r.messages.find((m) => m.direction === 'received' && m.firstLine.startsWith(`SIP/2.0 ${status}`));
  return reply ? /^Reason:\s*(.+)$/im.exec(reply.text)?.[1].trim() : undefined;
}

async function knownLengthCall(s: Setup) {
  const c = await newClient(s, '10');
  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: c.sip.name, password: c.sip.password,
    destination: `4420${suffix()}`, talkMs: 5_000,
  });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(r.messages.some((m) => m.direction === 'received' && m.firstLine.startsWith('SIP/2.0 407')), 'challenged first');
  assert.deepEqual(statusOf(r), ['200'], describeRun(r));
  const [call] = await settledCalls(s, c.key, 1);
  assert.equal(call.disposition, 'ANSWERED');
  assert.equal(call.sip_login, c.sip.name);
  assert.equal(call.sessiontime, 5, 'talked 5 s');
  // 5 s on a 30/6 row with a connect charge: billed 30 s, 0.05 + 0.60 * 30 / 60.
  const cost = expectedCostMicros(call.sessiontime, RATES[0]);
  assert.equal(call.cost, money(cost));
  assert.equal(call.cost, '0.3500');
  assert.equal(call.billed_seconds, 30);
  assert.deepEqual(await accountMicros(s, c.login), { balance: 10_000_000n - cost, reserved: 0n });
  // One CDR: the dialog's end is reported once, and a resend would change nothing.
  await new Promise((r2) => setTimeout(r2, 500));
  assert.equal((await callsOf(s, c.key)).length, 1);
}

async function wrongPassword(s: Setup) {
  const c = await newClient(s, '10');
  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: c.sip.name, password: 'Wrong-password-1',
    destination: `4420${suffix()}`,
  });
  assert.ok(r.messages.some((m) => m.direction === 'received' && m.firstLine.startsWith('SIP/2.0 407')), `challenged: ${describeRun(r)}`);
  assert.deepEqual(statusOf(r), ['403'], describeRun(r));
  assert.equal(reasonOf(r, '403'), 'SIP;cause=403;text="INVALID_CREDENTIALS"');
  await new Promise((r2) => setTimeout(r2, 500));
  assert.equal((await callsOf(s, c.key)).length, 0);
  assert.deepEqual(await accountMicros(s, c.login), { balance: 10_000_000n, reserved: 0n });
}

async function ipAuth(s: Setup, sub: TestContext) {
  const ip = `203.0.113.${crypto.randomInt(2, 250)}`;
  const remove = await loopbackAddress(ip);
  if (!remove) {
    const reason = `cannot add ${ip} to the loopback interface (needs root or sudo): the caller must come from a public address`;
    assert.ok(!peersRequired(), `LEDGERLINE_REQUIRE_PEERS=1 and ${reason}`);
    process.stderr.write(`\nNOTICE: skipping "${sub.name}": ${reason}\n`);
    sub.skip(reason);
    return;
  }
  s.cleanup.push(remove);
  const c = await newClient(s, '10');
  const port = 15_000 + crypto.randomInt(0, 10_000);
  const created = await s.t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.sip.name, ip, port } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const peer = created.body.data as { id: number; peer_name: string };
  const call = () => runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: peer.peer_name,
    destination: `4430${suffix()}`, talkMs: 2_000, localIp: ip, localPort: port,
  });
  // Kamailio reloads its copy of the address table every 5 s.
  await new Promise((r) => setTimeout(r, 5_500));
  const r = await until('the peer is let through', call, (run) => statusOf(run)[0] === '200', 15_000, describeRun);
  assert.ok(!r.messages.some((m) => m.direction === 'received' && m.firstLine.startsWith('SIP/2.0 407')), 'no digest challenge');
  const [cdr] = await settledCalls(s, c.key, 1);
  assert.equal(cdr.sip_login, peer.peer_name);
  assert.equal(cdr.sessiontime, 2);
  assert.equal(cdr.cost, money(expectedCostMicros(2, RATES[1])));

  assert.equal((await s.t.call('client', 'ip-auth-disable', { key: c.key, body: { id: peer.id } })).status, 200);
  // At once (Ledgerline checks the address itself) and after Kamailio's reload alike.
  for (const wait of [0, 5_500]) {
    await new Promise((r2) => setTimeout(r2, wait));
    const refused = await call();
    const [status] = statusOf(refused);
    assert.ok(status === '403', `refused after disabling (waited ${wait} ms): ${describeRun(refused)}`);
  }
  await new Promise((r2) => setTimeout(r2, 500));
  assert.equal((await callsOf(s, c.key)).length, 1, 'no call charged after disabling');
}

async function cutAtLimit(s: Setup) {
  // 0.60/min by the second: 0.90 pays for exactly 90 s.
  const c = await newClient(s, '0.90');
  const started = Date.now();
  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac-until-bye.xml', login: c.sip.name, password: c.sip.password,
    destination: `4430${suffix()}`,
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.code, 0, describeRun(r));
  const callId = [...r.finalInviteStatus.keys()][0];
  assert.ok(r.messages.some((m) => m.direction === 'received' && m.firstLine.startsWith('BYE ')), `the caller got the switch's BYE: ${describeRun(r)}`);
  assert.ok(!r.messages.some((m) => m.direction === 'sent' && m.firstLine.startsWith('BYE ')), 'the caller never hung up');
  assert.ok(s.uas.messages().some((m) => m.direction === 'received' && m.firstLine.startsWith('BYE ') && m.callId === callId), 'the carrier got a BYE too');
  assert.ok(seconds >= 88 && seconds < 100, `cut after ${seconds} s`);
  const [call] = await settledCalls(s, c.key, 1);
  assert.ok(call.sessiontime >= 89 && call.sessiontime <= 90, `answered ${call.sessiontime} s`);
  const cost = expectedCostMicros(call.sessiontime, RATES[1]);
  assert.equal(call.cost, money(cost));
  const after = await accountMicros(s, c.login);
  assert.equal(after.balance, 900_000n - cost);
  assert.ok(after.balance >= 0n, 'never below zero');
  assert.equal(after.reserved, 0n);
}

async function resellerClient(s: Setup) {
  // Wholesale 0.60/min; retail at the default 20% markup: 0.72/min.
  const { reseller, api_key: resellerKey } = await s.t.admin('create-reseller', { plan_id: s.planId, balance: '10' });
  const created = await s.t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: reseller.retail_plan_id } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const client = created.body.client.login as string;
  const sip = created.body.sip as { name: string; password: string };
  const transfer = await s.t.call('reseller', 'transfer', { key: resellerKey, body: { login: client, amount: '5' } });
  assert.equal(transfer.status, 200, JSON.stringify(transfer.body));
  const clientKey = created.body.api_key as string;

  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: sip.name, password: sip.password,
    destination: `4430${suffix()}`, talkMs: 5_000,
  });
  assert.deepEqual(statusOf(r), ['200'], describeRun(r));
  const [call] = await settledCalls(s, clientKey, 1);
  assert.equal(call.sessiontime, 5);
  const retail = expectedCostMicros(5, { ...RATES[1], rate: '0.7200' });
  const wholesale = expectedCostMicros(5, RATES[1]);
  assert.equal(call.cost, money(retail));
  assert.deepEqual(await accountMicros(s, client), { balance: 5_000_000n - retail, reserved: 0n });
  assert.deepEqual(await accountMicros(s, reseller.login), { balance: 10_000_000n - wholesale, reserved: 0n });

  // The callee is busy: a failed call, at no cost to either.
  const busy = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: sip.name, password: sip.password,
    destination: `4486${suffix()}`,
  });
  assert.deepEqual(statusOf(busy), ['486'], describeRun(busy));
  const failed = await until('the busy call among failed calls', async () => (await s.t.call('reseller', 'client-failed-calls', { key: resellerKey, query: { login: client } })).body,
    (b) => (b?.data?.calls ?? b?.calls ?? []).length === 1);
  const failedCall = (failed.data?.calls ?? failed.calls)[0];
  assert.equal(failedCall.disposition, 'BUSY');
  assert.equal(Number(failedCall.cost), 0);
  assert.equal((await callsOf(s, clientKey)).length, 1, 'not among answered calls');
  assert.deepEqual(await accountMicros(s, client), { balance: 5_000_000n - retail, reserved: 0n });
  assert.deepEqual(await accountMicros(s, reseller.login), { balance: 10_000_000n - wholesale, reserved: 0n });
}

async function concurrentCalls(s: Setup) {
  // 3.50 at 0.60/min: three calls of 100 s (the longest authorized) and one of 50 s.
  const c = await newClient(s, '3.50');
  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac-until-bye.xml', login: c.sip.name, password: c.sip.password,
    destination: `4430${suffix()}`, calls: 50, timeoutS: 200,
  });
  const statuses = statusOf(r);
  assert.equal(statuses.length, 50, describeRun(r).slice(0, 3000));
  const answered = statuses.filter((x) => x === '200').length;
  const refused = statuses.filter((x) => x === '402').length;
  assert.equal(answered + refused, 50, `every call answered or refused for the balance: ${statuses.join(',')}`);
  assert.ok(answered >= 1 && refused >= 1, `answered ${answered}, refused ${refused}`);
  const calls = await settledCalls(s, c.key, answered);
  assert.equal(calls.length, answered);
  const charged = calls.reduce((sum, call) => sum + expectedCostMicros(call.sessiontime, RATES[1]), 0n);
  for (const call of calls) assert.ok(call.sessiontime <= MAX_CALL_SECONDS, `answered ${call.sessiontime} s`);
  const after = await accountMicros(s, c.login);
  assert.equal(after.reserved, 0n);
  assert.equal(after.balance, 3_500_000n - charged);
  assert.ok(after.balance >= 0n, `overspent: ${after.balance}`);
  // Everything the balance paid for was talked: each cut call used its reservation, but for
  // the up to one second the dialog timer (whole seconds) may cut it early.
  assert.ok(after.balance <= BigInt(answered) * 10_000n, `left unused ${after.balance} µ by ${answered} calls`);
}

async function ledgerlineStopped(s: Setup) {
  const c = await newClient(s, '10');
  await kill(s.ledgerline, 'SIGTERM');
  const r = await runUac({
    binary: s.sipp, kamailioPort: s.kamailio.port, scenario: 'uac.xml', login: c.sip.name, password: c.sip.password,
    destination: `4420${suffix()}`,
  });
  assert.deepEqual(statusOf(r), ['503'], describeRun(r));
  assert.equal(reasonOf(r, '503'), 'SIP;cause=503;text="BILLING_UNAVAILABLE"');
  assert.ok(!s.uas.messages().some((m) => m.callId === [...r.finalInviteStatus.keys()][0]), 'the carrier never saw it');
}
