// Rate tables at operator scale (issue #11): a 1,000,000-prefix wholesale deck written in bulk
// SQL before the built server (dist/) starts, then: time until /readyz, the first call after
// it, the slowest call in the 2 s after an `add-rates` of one row (beside the same window in
// steady state), a 1,000,000-row CSV import with the server idle and with the switch path
// running, and the switch path during that import beside the switch path alone (with 5xx).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import { figure, startProcess, stopProcess } from './util.js';

const DECK_ROWS = Number(process.env.BENCH_DECK_ROWS ?? 1_000_000);
const CSV_ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
const CLIENTS = 50;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 128);
const SWITCH_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Deck prefixes are DECK_BASE + 1 … DECK_BASE + DECK_ROWS (10 digits); calls dial one of them plus 3 digits. */
const DECK_BASE = 5_000_000_000;

interface Server { url: string; child: import('node:child_process').ChildProcess; spawnedAt: number; listeningAt: number; output(): string }

async function startServer(root: string, env: Record<string, string>): Promise<Server> {
  const spawnedAt = performance.now();
  const { child, output } = await startProcess(process.execPath, [path.join(root, 'dist/src/main.js')], env, /Ledgerline listening/, 120_000);
  return { url: `http://127.0.0.1:${env.PORT}`, child, output, spawnedAt, listeningAt: performance.now() };
}

async function post(url: string, key: string, family: string, endpoint: string, body: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/${family}-api/index.php?endpoint=${endpoint}`, {
    method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, body: json, ms: performance.now() - started };
}

/** A CSV of `rows` distinct 10-digit prefixes from `base`, in scrambled order (the worst case for the index). */
async function writeCsv(file: string, rows: number, base: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('prefix,destination,rate\n');
  let buffer = '';
  for (let i = 0; i < rows; i++) {
    const k = (i * 7_654_321 + 12_345) % 100_000_000;
    buffer += `${base + k},Imported ${k % 97},0.0${String(k % 100_000).padStart(5, '0')}\n`;
    if (buffer.length > 1 << 16) { await write(buffer); buffer = ''; }
  }
  await write(buffer);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

function runImport(root: string, env: Record<string, string>, planId: number, file: string): Promise<{ seconds: number; summary: any }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const nice = process.env.BENCH_IMPORT_NICE ? ['--nice', process.env.BENCH_IMPORT_NICE] : [];
    const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'import-rates', String(planId), file, ...nice], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`import-rates exited with ${code}:\n${stderr}${stdout}`));
      else resolve({ seconds: (performance.now() - started) / 1000, summary: JSON.parse(stdout) });
    });
  });
}

/** Sequential authorize calls for `seconds`: the slowest and the median, ms. */
async function authorizeLoop(url: string, switchKey: string, sips: string[], seconds: number): Promise<{ maxMs: number; p50Ms: number; calls: number }> {
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < until) {
    const r = await post(url, switchKey, 'switch', 'authorize', {
      uniqueid: `loop-${crypto.randomBytes(6).toString('hex')}`, sip_login: sips[n++ % sips.length], destination: `${DECK_BASE + 1 + (n % DECK_ROWS)}123`,
    });
    if (r.status !== 200 || !r.body.allowed) throw new Error(`authorize: ${r.status} ${JSON.stringify(r.body)}`);
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  return { maxMs: times[times.length - 1], p50Ms: times[Math.floor(times.length / 2)], calls: times.length };
}

/** authorize+cdr pairs at full speed for `seconds`, or, given `until`, from now until it settles. */
async function switchPath(url: string, switchKey: string, sips: string[], seconds: number, until?: Promise<unknown>) {
  const headers = { 'X-API-Key': switchKey, 'Content-Type': 'application/json' };
  let seq = 0;
  const run = autocannon({
    url, connections: CONNECTIONS, duration: until ? 3_600 : seconds, pipelining: 1,
    requests: [
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=authorize', headers,
        setupRequest: (req: any, context: any) => {
          context.uniqueid = `sw-${process.pid}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
          context.sip = sips[seq % sips.length];
          context.destination = `${DECK_BASE + 1 + ((seq * 7919) % DECK_ROWS)}555`;
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: context.destination });
          return req;
        },
      },
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=cdr', headers,
        setupRequest: (req: any, context: any) => {
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: context.destination, answered_seconds: 37, disposition: 'ANSWERED' });
          return req;
        },
      },
    ],
  } as any) as any;
  void until?.finally(() => run.stop());
  const result = await run;
  return {
    pairsPerSecond: Math.round(result.requests.average / 2),
    p99Ms: result.latency.p99, maxMs: result.latency.max,
    fiveXx: (result as any)['5xx'] ?? 0, non2xx: result.non2xx, errors: result.errors + result.timeouts,
  };
}

export async function benchPlanLoads(root: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-plans-'));
  const dbFile = path.join(dir, 'bench.db');
  const adminKey = `bench-admin-${crypto.randomBytes(16).toString('hex')}`;
  const env = {
    PORT: String(20000 + crypto.randomInt(20000)), DATABASE_URL: `sqlite:${dbFile}`, ADMIN_API_KEY: adminKey,
    LEDGERLINE_SECRET: 'bench-secret', LEDGERLINE_DATA_DIR: dir, AGI_PORT: '0', LOG_LEVEL: 'info',
  };
  let server: Server | null = null;
  try {
    // 1. A database with an admin, a plan, clients and a switch key; then the deck, in bulk SQL.
    server = await startServer(root, env);
    const admin = (endpoint: string, body: unknown) => post(server!.url, adminKey, 'admin', endpoint, body).then((r) => {
      if (r.status !== 200) throw new Error(`${endpoint}: ${JSON.stringify(r.body)}`);
      return r.body;
    });
    const planId = (await admin('create-plan', { name: 'DECK' })).plan.id as number;
    await admin('add-rates', { plan_id: planId, rates: [{ prefix: '44', destination: 'UK', rate: '0.02' }] });
    const sips: string[] = [];
    for (let i = 0; i < CLIENTS; i++) sips.push((await admin('create-client', { plan_id: planId, balance: '1000000' })).sip.name);
    const switchKey = (await admin('create-switch-key', { name: 'bench' })).api_key as string;
    await stopProcess(server.child);
    server = null;
    const sqlite = new SqliteDatabase(dbFile);
    sqlite.prepare(`with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
      insert into rates (plan_id, prefix, destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time, updated_at)
      select ?, cast(? + i as text), 'Deck ' || (i % 250), 10000 + (i % 1000) * 10, 0, 1, 1, 0, '2026-12-01T00:00:00.000Z' from n`).run(DECK_ROWS, planId, BigInt(DECK_BASE));
    sqlite.prepare('update plans set rates_version = rates_version + 1 where id = ?').run(planId);
    sqlite.close();

    // 2. Start: listening, then ready (every plan loaded in the background); the first call after.
    server = await startServer(root, env);
    let readyAt = 0;
    for (;;) {
      const r = await fetch(`${server.url}/readyz`);
      if (r.status === 200) { readyAt = performance.now(); break; }
      await new Promise((res) => setTimeout(res, 10));
    }
    const first = await post(server.url, switchKey, 'switch', 'authorize', { uniqueid: 'first-call', sip_login: sips[0], destination: `${DECK_BASE + 777}123` });
    if (!first.body.allowed) throw new Error(`first call: ${JSON.stringify(first.body)}\n${server.output().slice(-3000)}`);
    figure('plans: deck prefixes', DECK_ROWS.toLocaleString('en-US'), 'prefixes');
    figure('plans: start to listening', ((server.listeningAt - server.spawnedAt) / 1000).toFixed(2), 's');
    figure('plans: listening to ready (/readyz 200)', ((readyAt - server.listeningAt) / 1000).toFixed(2), 's', 'the deck loads in a thread; calls are served meanwhile');
    figure('plans: first authorize after ready', first.ms.toFixed(1), 'ms', 'target <= 100 ms');

    // 3. The 2 s after an add-rates of one row, beside 2 s of steady state.
    const steady = await authorizeLoop(server.url, switchKey, sips, 2);
    await admin('add-rates', { plan_id: planId, rates: [{ prefix: String(DECK_BASE + 777), destination: 'Changed', rate: '0.03' }] });
    const changed = await authorizeLoop(server.url, switchKey, sips, 2);
    figure('plans: slowest authorize, steady 2 s', steady.maxMs.toFixed(1), 'ms', `p50 ${steady.p50Ms.toFixed(1)} ms, ${steady.calls} calls`);
    figure('plans: slowest authorize, 2 s after add-rates', changed.maxMs.toFixed(1), 'ms', `p50 ${changed.p50Ms.toFixed(1)} ms, ${changed.calls} calls; target <= 100 ms`);

    // 4. Once the changed deck is in (its reload takes a core while it runs), the switch path
    // alone, then a 1,000,000-row import idle and beside the switch path.
    for (;;) {
      const r = await post(server.url, switchKey, 'switch', 'authorize', { uniqueid: `chk-${crypto.randomBytes(6).toString('hex')}`, sip_login: sips[0], destination: `${DECK_BASE + 777}123` });
      if (r.body.rate?.destination === 'Changed') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const alone = await switchPath(server.url, switchKey, sips, SWITCH_SECONDS);
    const csvIdle = path.join(dir, 'idle.csv');
    const csvBusy = path.join(dir, 'busy.csv');
    await writeCsv(csvIdle, CSV_ROWS, 2_000_000_000);
    await writeCsv(csvBusy, CSV_ROWS, 3_000_000_000);
    const idle = await runImport(root, env, planId, csvIdle);
    // The switch path from the import's start to its end, so the figure is of the whole import.
    const busyImport = runImport(root, env, planId, csvBusy);
    const during = await switchPath(server.url, switchKey, sips, 0, busyImport.catch(() => {}));
    const busy = await busyImport;
    figure('plans: switch pairs/s alone', alone.pairsPerSecond, 'calls/s', `p99 ${alone.p99Ms} ms, max ${alone.maxMs} ms, ${alone.non2xx} non-2xx`);
    figure(`plans: csv import ${(CSV_ROWS / 1e6).toLocaleString('en-US')}M rows, server idle`, idle.seconds.toFixed(2), 's', `import itself ${idle.summary.seconds} s; target <= 10 s`);
    figure(`plans: csv import ${(CSV_ROWS / 1e6).toLocaleString('en-US')}M rows, switch running`, busy.seconds.toFixed(2), 's', `import itself ${busy.summary.seconds} s, ${busy.summary.seconds_yielded} s of it yielded; no target beside traffic`);
    figure('plans: switch pairs/s during the import', during.pairsPerSecond, 'calls/s',
      `${Math.round((100 * during.pairsPerSecond) / alone.pairsPerSecond)}% of alone (target >= 80%); p99 ${during.p99Ms} ms, max ${during.maxMs} ms`);
    figure('plans: 5xx answers during the import', during.fiveXx, '', `${during.non2xx} non-2xx, ${during.errors} errors; target 0`);
    figure('plans: load average', os.loadavg()[0].toFixed(1), '', `on ${os.cpus().length} cores`);
  } finally {
    if (server) await stopProcess(server.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
