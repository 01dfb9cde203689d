// Switch path over HTTP: authorize + cdr pairs per second, every CDR durable (group commit
// fsync on SQLite, the commit on PostgreSQL) before it is answered (CONTRACT §6: >= 3,000
// calls/s). One run prints, side by side (issue #12):
// - 200 direct clients on SQLite;
// - the same on PostgreSQL with one server instance, then two instances on one schema (the
//   load split evenly between them), when BENCH_DATABASE_URL=postgres://… is set;
// - hot accounts on each database: 200 clients of one reseller (the reseller's row is touched
//   by every call) and the lines of one client, each beside the 200 direct clients of the same
//   database and server. The direct clients are measured before the others and again after
//   them, and their figure is the mean of the two.
// The ledger is verified after every run; a non-2xx answer, a transport error or a refused
// authorization fails the benchmark.
import crypto from 'node:crypto';
import autocannon from 'autocannon';
import { figure, pgExecute, startLedgerline, type BenchServer } from './util.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 256);
const CLIENTS = 200;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
/** A fresh server's first seconds are JIT compilation and cold caches, not the switch path. */
const WARMUP_S = 3;
/** What the hot variants are asked for; the lines of one client are capped by the server. */
const HOT_LINES = 200;
/** Requests in flight while seeding over the API (password hashing makes them slow one by one). */
const SEED_CONCURRENCY = 8;
const DESTINATION = '447575396991';

// Across runs too: a benchmark may drive the same server several times, or two at once.
let seq = 0;

export interface SwitchFixture {
  switchKey: string;
  sipLogins: string[];
}

/** A wholesale plan that rates DESTINATION: its id. */
async function createBenchPlan(server: BenchServer): Promise<number> {
  const { adminPost } = server;
  const { plan } = await adminPost('create-plan', { name: 'BENCH' });
  await adminPost('add-rates', { plan_id: plan.id, rates: [
    { prefix: '44', destination: 'UK', rate: '0.02', initblock: 60, billingblock: 6 },
    { prefix: '447', destination: 'UK Mobile', rate: '0.12', initblock: 60, billingblock: 6 },
    { prefix: '1', destination: 'USA', rate: '0.01', initblock: 6, billingblock: 6 },
  ] });
  return Number(plan.id);
}

/** Runs `task(0..count-1)` with at most `limit` in flight; the results in index order. */
async function inParallel<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

/** A plan (a new one unless given), CLIENTS clients on it with money, and a switch key: what the switch path is driven with. */
export async function seedSwitchClients(server: BenchServer, planId?: number): Promise<SwitchFixture> {
  const plan = planId ?? await createBenchPlan(server);
  const sipLogins = await inParallel(CLIENTS, SEED_CONCURRENCY, async () =>
    (await server.adminPost('create-client', { plan_id: plan, balance: '100000' })).sip.name as string);
  const switchKey = (await server.adminPost('create-switch-key', { name: 'bench' })).api_key;
  return { switchKey, sipLogins };
}

async function api(server: BenchServer, family: 'reseller' | 'client', endpoint: string, key: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/${family}-api/index.php?endpoint=${endpoint}`, body === undefined
    ? { headers: { 'X-API-Key': key } }
    : { method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/**
 * One reseller with a large wholesale balance and CLIENTS clients on its retail plan (the
 * wholesale plan at its markup), each funded by a transfer: every call reserves and charges
 * both the client and the one reseller.
 */
async function seedResellerClients(server: BenchServer, planId: number, switchKey: string): Promise<SwitchFixture> {
  const r = await server.adminPost('create-reseller', { plan_id: planId, balance: '100000000' });
  const key = r.api_key as string;
  const retailPlanId = Number(r.retail_plan.id);
  const sipLogins = await inParallel(CLIENTS, SEED_CONCURRENCY, async () => {
    const c = await api(server, 'reseller', 'create-client', key, { plan_id: retailPlanId });
    if (c.status !== 200) throw new Error(`reseller create-client: ${c.status} ${JSON.stringify(c.json)}`);
    const t = await api(server, 'reseller', 'transfer', key, { login: c.json.client.login, amount: '100000' });
    if (t.status !== 200) throw new Error(`reseller transfer: ${t.status} ${JSON.stringify(t.json)}`);
    return c.json.sip.name as string;
  });
  return { switchKey, sipLogins };
}

/**
 * One client with a large balance and as many SIP accounts as it may have, up to HOT_LINES:
 * the Client API's create-sip is the only way to add them, up to the server's per-client limit
 * (SIP_LIMIT, 500).
 */
async function seedClientLines(server: BenchServer, planId: number, switchKey: string): Promise<SwitchFixture> {
  const c = await server.adminPost('create-client', { plan_id: planId, balance: '100000000' });
  const sipLogins: string[] = [c.sip.name];
  // One at a time: the limit is checked by counting the client's accounts.
  while (sipLogins.length < HOT_LINES) {
    const s = await api(server, 'client', 'create-sip', c.api_key, {});
    if (s.status === 409 && s.json?.code === 'SIP_LIMIT') break;
    if (s.status !== 200) throw new Error(`client create-sip: ${s.status} ${JSON.stringify(s.json)}`);
    sipLogins.push(s.json.data?.name);
  }
  if (sipLogins.some((name) => typeof name !== 'string')) throw new Error('client create-sip: no SIP account name in the answer');
  return { switchKey, sipLogins };
}

export interface SwitchRun { pairsPerSecond: number; p99Ms: number; non2xx: number; errors: number; refused: number }

/** authorize + cdr pairs from `connections` connections for `durationSeconds`. */
export async function driveSwitchPath(url: string, fx: SwitchFixture, durationSeconds = DURATION_S, connections = CONNECTIONS): Promise<SwitchRun> {
  const headers = { 'X-API-Key': fx.switchKey, 'Content-Type': 'application/json' };
  let refused = 0;
  const result = await autocannon({
    url, connections, duration: durationSeconds, pipelining: 1,
    requests: [
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=authorize', headers,
        setupRequest: (req: any, context: any) => {
          context.uniqueid = `bench-${process.pid}-${++seq}`;
          context.sip = fx.sipLogins[seq % fx.sipLogins.length];
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: DESTINATION });
          return req;
        },
        // A refusal is a 200 (allowed: false) and cheaper than a call: counted, so that a
        // fixture short of money cannot pass for a fast switch path.
        onResponse: (status: number, body: string) => {
          if (status === 200 && body.includes('"allowed":false')) refused++;
        },
      },
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=cdr', headers,
        setupRequest: (req: any, context: any) => {
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: DESTINATION, answered_seconds: 37, disposition: 'ANSWERED' });
          return req;
        },
      },
    ],
  } as any);
  return { pairsPerSecond: Math.round(result.requests.average / 2), p99Ms: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.timeouts, refused };
}

/** Fails loudly on anything but allowed calls answered 2xx. */
function assertClean(what: string, run: SwitchRun): void {
  if (run.non2xx > 0 || run.errors > 0 || run.refused > 0) {
    throw new Error(`switch path (${what}): ${run.non2xx} non-2xx, ${run.errors} errors, ${run.refused} refused authorizations`);
  }
}

async function verifyLedger(server: BenchServer, what: string): Promise<void> {
  const res = await fetch(`${server.url}/admin-api/index.php?endpoint=verify-ledger`, { headers: { 'X-API-Key': server.adminKey } });
  const verify = await res.json() as any;
  if (!res.ok || !verify.ok_ledger) throw new Error(`ledger MISMATCH after the run (${what}): ${res.status} ${JSON.stringify(verify)}`);
}

async function waitReady(server: BenchServer): Promise<void> {
  const readyBy = Date.now() + 120_000;
  while ((await fetch(`${server.url}/readyz`)).status !== 200) {
    if (Date.now() > readyBy) throw new Error('the server was not ready within 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A measured run on one or more instances (the connections split evenly), checked and verified. */
async function measure(what: string, servers: BenchServer[], fx: SwitchFixture): Promise<SwitchRun> {
  const per = Math.floor(CONNECTIONS / servers.length);
  const runs = await Promise.all(servers.map((s) => driveSwitchPath(s.url, fx, DURATION_S, per)));
  const run: SwitchRun = {
    pairsPerSecond: runs.reduce((n, r) => n + r.pairsPerSecond, 0),
    p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    refused: runs.reduce((n, r) => n + r.refused, 0),
  };
  assertClean(what, run);
  await verifyLedger(servers[0], what);
  return run;
}

const pct = (part: number, whole: number) => Math.round((100 * part) / whole);
const missed = (ok: boolean) => (ok ? '' : '  MISSED');

interface Fixtures { direct: SwitchFixture; reseller: SwitchFixture; lines: SwitchFixture }

async function seedAll(label: string, server: BenchServer): Promise<Fixtures> {
  const startedAt = performance.now();
  const planId = await createBenchPlan(server);
  const direct = await seedSwitchClients(server, planId);
  const fx = {
    direct,
    reseller: await seedResellerClients(server, planId, direct.switchKey),
    lines: await seedClientLines(server, planId, direct.switchKey),
  };
  figure(`[${label}] accounts seeded over the API`, ((performance.now() - startedAt) / 1000).toFixed(1), 's',
    `${fx.direct.sipLogins.length} direct clients, a reseller with ${fx.reseller.sipLogins.length} clients, a client with ${fx.lines.sipLogins.length} SIP lines`);
  return fx;
}

/**
 * The direct clients' figure: the mean of a run before the others and one after them, so that
 * neither the order (a server still warming up) nor the history the runs add favours one side.
 */
function meanRun(before: SwitchRun, after: SwitchRun): SwitchRun {
  return {
    pairsPerSecond: Math.round((before.pairsPerSecond + after.pairsPerSecond) / 2),
    p99Ms: Math.max(before.p99Ms, after.p99Ms),
    non2xx: before.non2xx + after.non2xx,
    errors: before.errors + after.errors,
    refused: before.refused + after.refused,
  };
}

const beforeAfter = (before: SwitchRun, after: SwitchRun) => `mean of ${before.pairsPerSecond} before and ${after.pairsPerSecond} after the hot accounts`;

/** The hot-account runs, each beside the direct clients of the same server. */
async function measureHot(label: string, server: BenchServer, fx: Fixtures): Promise<{ reseller: SwitchRun; lines: SwitchRun }> {
  return {
    reseller: await measure(`${label}, one reseller`, [server], fx.reseller),
    lines: await measure(`${label}, one client's lines`, [server], fx.lines),
  };
}

function printHot(label: string, fx: Fixtures, direct: SwitchRun, hot: { reseller: SwitchRun; lines: SwitchRun }): void {
  const beside = (run: SwitchRun) => `${pct(run.pairsPerSecond, direct.pairsPerSecond)}% of ${fx.direct.sipLogins.length} direct clients (target >= 70%); p99 ${run.p99Ms} ms`;
  figure(`[${label}] ${fx.reseller.sipLogins.length} clients of one reseller`, hot.reseller.pairsPerSecond, 'calls/s',
    `${beside(hot.reseller)}${missed(hot.reseller.pairsPerSecond >= 0.7 * direct.pairsPerSecond)}`);
  const capped = fx.lines.sipLogins.length < HOT_LINES ? `; ${HOT_LINES} asked, the server allows ${fx.lines.sipLogins.length} per client` : '';
  figure(`[${label}] ${fx.lines.sipLogins.length} SIP lines of one client`, hot.lines.pairsPerSecond, 'calls/s',
    `${beside(hot.lines)}${capped}${missed(hot.lines.pairsPerSecond >= 0.7 * direct.pairsPerSecond)}`);
}

async function benchSqlite(root: string, nodeArgs: string[]): Promise<SwitchRun> {
  const server = await startLedgerline(root, nodeArgs);
  try {
    const fx = await seedAll('SQLite', server);
    await driveSwitchPath(server.url, fx.direct, WARMUP_S);
    const before = await measure('SQLite', [server], fx.direct);
    const hot = await measureHot('SQLite', server, fx);
    const after = await measure('SQLite, again', [server], fx.direct);
    const direct = meanRun(before, after);
    figure('switch authorize+cdr pairs/s (HTTP, SQLite)', direct.pairsPerSecond, 'calls/s',
      `target >= 3000; CDRs fsynced before answer; ${beforeAfter(before, after)}`);
    figure('switch request p99 latency', direct.p99Ms, 'ms');
    printHot('SQLite', fx, direct, hot);
    figure('ledger verified after the run', 'ok', '', 'after each of the 4 runs');
    return direct;
  } finally {
    await server.stop();
  }
}


async function benchPostgres(root: string, nodeArgs: string[], pgUrl: string, sqlite: SwitchRun): Promise<void> {
  const schema = `bench_switch_${crypto.randomBytes(4).toString('hex')}`;
  await pgExecute(pgUrl, `create schema ${schema}`);
  try {
    const postgres = { url: pgUrl, schema };
    const a = await startLedgerline(root, nodeArgs, { postgres });
    try {
      const fx = await seedAll('PostgreSQL', a);
      await driveSwitchPath(a.url, fx.direct, WARMUP_S);
      const before = await measure('PostgreSQL, one instance', [a], fx.direct);

      // A second process on the same schema: the same admin key and secret, so it finds the
      // admin made by the first and bootstraps nothing.
      const b = await startLedgerline(root, nodeArgs, { postgres, adminKey: a.adminKey });
      let two: SwitchRun;
      try {
        await waitReady(b);
        await driveSwitchPath(b.url, fx.direct, WARMUP_S);
        two = await measure('PostgreSQL, two instances', [a, b], fx.direct);
      } finally {
        await b.stop();
      }

      const hot = await measureHot('PostgreSQL', a, fx);
      const after = await measure('PostgreSQL, one instance again', [a], fx.direct);
      const one = meanRun(before, after);
      figure('switch pairs/s (HTTP, PostgreSQL, 1 instance)', one.pairsPerSecond, 'calls/s',
        `${pct(one.pairsPerSecond, sqlite.pairsPerSecond)}% of SQLite (target >= 50%); p99 ${one.p99Ms} ms; ${beforeAfter(before, after)}${missed(one.pairsPerSecond >= 0.5 * sqlite.pairsPerSecond)}`);
      figure('switch pairs/s (PostgreSQL, 2 instances)', two.pairsPerSecond, 'calls/s',
        `x${(two.pairsPerSecond / one.pairsPerSecond).toFixed(2)} of one instance (target >= 1.0); ${Math.floor(CONNECTIONS / 2)} connections each; p99 ${two.p99Ms} ms${missed(two.pairsPerSecond >= one.pairsPerSecond)}`);
      printHot('PostgreSQL', fx, one, hot);
      figure('[PostgreSQL] ledger verified', 'ok', '', 'after each of the 5 runs');
    } finally {
      await a.stop();
    }
  } finally {
    await pgExecute(pgUrl, `drop schema ${schema} cascade`);
  }
}

export async function benchSwitchPath(root: string): Promise<void> {
  const nodeArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const sqlite = await benchSqlite(root, nodeArgs);
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (pgUrl?.startsWith('postgres')) await benchPostgres(root, nodeArgs, pgUrl, sqlite);
  else process.stdout.write('(PostgreSQL: set BENCH_DATABASE_URL=postgres://... to measure one and two instances and its hot accounts too)\n');
}
