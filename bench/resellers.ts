// Resellers on a large wholesale deck: 1 reseller vs 20 on the same 1,000,000-prefix plan, each
// with a client that has made one call. Retail prices are computed when rating, so a reseller
// costs neither storage nor memory in proportion to the deck: database size and server RSS with
// 20 resellers should stay within 1.2x of 1, and `create-reseller` under 100 ms.
//
// The deck is written by one bulk SQL statement (a recursive CTE) into the database file before
// the server starts; the server (dist/) then runs on a copy of that file per case.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import pino from 'pino';
import { bootstrapAdmin } from '../src/accounts/provisioning.js';
import { loadConfig } from '../src/config.js';
import { createPlan } from '../src/plans/plans.js';
import { openContext } from '../src/server.js';
import { figure, startProcess, stopProcess } from './util.js';

const DECK_ROWS = Number(process.env.BENCH_DECK_ROWS ?? 1_000_000);
const MANY = Number(process.env.BENCH_RESELLERS ?? 20);

interface Prepared { dir: string; dbFile: string; planId: number; adminKey: string; env: Record<string, string> }

/** A migrated database with an admin and one wholesale plan of DECK_ROWS 7-digit prefixes. */
async function prepareDeck(dir: string): Promise<Prepared> {
  const dbFile = path.join(dir, 'deck.db');
  const adminKey = `bench-admin-${crypto.randomBytes(16).toString('hex')}`;
  const env = { DATABASE_URL: `sqlite:${dbFile}`, LEDGERLINE_SECRET: 'bench-secret', LEDGERLINE_DATA_DIR: dir, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn' };
  const { ctx, handle } = await openContext(loadConfig(env), pino({ level: 'warn' }));
  try {
    await bootstrapAdmin(ctx, adminKey);
    const planId = Number((await createPlan(ctx, { name: 'DECK' })).id);
    const now = new Date().toISOString();
    // Prefixes 4000000..4999999 in index order; 1,000 destinations; prices that need rounding
    // at a markup.
    await sql`with recursive n(i) as (select 0 union all select i + 1 from n where i < ${DECK_ROWS - 1})
      insert into rates (plan_id, prefix, destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time, updated_at)
      select ${planId}, cast(4000000 + i as text), 'Zone ' || (i % 1000), 10007 + (i * 7919) % 200000, (i % 3) * 3,
        60, 6, 0, ${now} from n`.execute(ctx.db);
    await sql`update plans set rates_version = rates_version + 1 where id = ${planId}`.execute(ctx.db);
    return { dir, dbFile, planId, adminKey, env };
  } finally {
    await handle.close();
  }
}

const rssMegabytes = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const fileMegabytes = (file: string) => [file, `${file}-wal`].reduce((n, f) => n + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0) / 1e6;
/** The database's size once its write-ahead log is folded in (the server has stopped). */
function checkpointedMegabytes(file: string): number {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return fileMegabytes(file);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

interface CaseResult { resellers: number; dbMegabytes: number; rssMegabytes: number; rssAfterFirstMegabytes: number; createMs: number[]; firstCallMs: number[] }

/** The built server on a copy of the deck: `resellers` resellers, each with a client that makes one call. */
async function runCase(root: string, deck: Prepared, resellers: number): Promise<CaseResult> {
  const dbFile = path.join(deck.dir, `case-${resellers}.db`);
  fs.copyFileSync(deck.dbFile, dbFile);
  // The copy on disk before the server starts: else the server's first commit (its fsync)
  // would flush the bench's 80 MB copy too, and be timed as the first create-reseller.
  const fd = fs.openSync(dbFile, 'r+');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  const port = 20000 + crypto.randomInt(20000);
  const server = await startProcess(process.execPath, [path.join(root, 'dist/src/main.js')], {
    ...deck.env, PORT: String(port), DATABASE_URL: `sqlite:${dbFile}`, AGI_PORT: '0', LOG_LEVEL: 'info',
  }, /Ledgerline listening/, 120_000);
  const url = `http://127.0.0.1:${port}`;
  const post = async (family: string, endpoint: string, key: string, body: unknown) => {
    const res = await fetch(`${url}/${family}-api/index.php?endpoint=${endpoint}`, {
      method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const json = await res.json() as any;
    if (!res.ok) throw new Error(`${endpoint}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    // As a balancer would: no work before /readyz (the deck loads in a thread meanwhile, and
    // a request beside that load measures the load, not the request).
    const readyBy = Date.now() + 120_000;
    while ((await fetch(`${url}/readyz`)).status !== 200) {
      if (Date.now() > readyBy) throw new Error('the server was not ready within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const switchKey = (await post('admin', 'create-switch-key', deck.adminKey, { name: 'bench' })).api_key;
    const createMs: number[] = [];
    const firstCallMs: number[] = [];
    let rssAfterFirst = Number.NaN;
    for (let i = 0; i < resellers; i++) {
      const started = performance.now();
      const r = await post('admin', 'create-reseller', deck.adminKey, { plan_id: deck.planId, balance: '1000', markup_percent: 12.5 + i });
      createMs.push(performance.now() - started);
      const c = await post('reseller', 'create-client', r.api_key, { plan_id: r.reseller.retail_plan_id });
      await post('reseller', 'transfer', r.api_key, { login: c.client.login, amount: '100' });
      const uniqueid = `bench-${i}`;
      const destination = `${4_000_000 + ((i * 48_271) % DECK_ROWS)}1234`;
      const callStarted = performance.now();
      const a = await post('switch', 'authorize', switchKey, { uniqueid, sip_login: c.sip.name, destination });
      firstCallMs.push(performance.now() - callStarted);
      if (!a.allowed) throw new Error(`call of reseller ${i} refused: ${JSON.stringify(a)}`);
      await post('switch', 'cdr', switchKey, { uniqueid, sip_login: c.sip.name, destination, answered_seconds: 42, disposition: 'ANSWERED' });
      if (i === 0) rssAfterFirst = rssMegabytes(server.child.pid!);
    }
    const rss = rssMegabytes(server.child.pid!);
    await stopProcess(server.child);
    return { resellers, dbMegabytes: checkpointedMegabytes(dbFile), rssMegabytes: rss, rssAfterFirstMegabytes: rssAfterFirst, createMs, firstCallMs };
  } catch (err) {
    process.stderr.write(server.output().split('\n').filter((l) => /"level":(40|50|60)|rror/.test(l)).slice(-5).join('\n') + '\n');
    throw err;
  } finally {
    await stopProcess(server.child);
    fs.rmSync(dbFile, { force: true });
    fs.rmSync(`${dbFile}-wal`, { force: true });
    fs.rmSync(`${dbFile}-shm`, { force: true });
  }
}

export async function benchResellers(root: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-resellers-'));
  try {
    const started = performance.now();
    const deck = await prepareDeck(dir);
    const deckMegabytes = checkpointedMegabytes(deck.dbFile);
    figure(`deck: ${DECK_ROWS.toLocaleString('en-US')} wholesale prefixes written`, ((performance.now() - started) / 1000).toFixed(1), 's', `${deckMegabytes.toFixed(0)} MB`);
    const one = await runCase(root, deck, 1);
    const many = await runCase(root, deck, MANY);
    const pair = (name: string, a: number, b: number, unit: string, target: string) => {
      figure(`${name}, 1 reseller`, a.toFixed(1), unit);
      figure(`${name}, ${MANY} resellers`, b.toFixed(1), unit, `${(b / a).toFixed(2)}x of 1 reseller; ${target}`);
    };
    pair('database size', one.dbMegabytes, many.dbMegabytes, 'MB', 'target <= 1.2x');
    pair('server RSS after the calls', one.rssMegabytes, many.rssMegabytes, 'MB', 'target <= 1.2x');
    figure(`server RSS growth from reseller 1 to ${MANY}, one process`, (many.rssMegabytes - many.rssAfterFirstMegabytes).toFixed(1), 'MB',
      `${((many.rssMegabytes - many.rssAfterFirstMegabytes) / Math.max(1, MANY - 1)).toFixed(2)} MB per further reseller`);
    figure('create-reseller, 1 reseller (first of a start, once ready)', one.createMs[0].toFixed(1), 'ms');
    figure(`create-reseller median of ${MANY}`, median(many.createMs).toFixed(1), 'ms', `${(median(many.createMs) / one.createMs[0]).toFixed(2)}x of 1 reseller; target < 100 ms`);
    figure(`create-reseller max of ${MANY}`, Math.max(...many.createMs).toFixed(1), 'ms', 'target < 100 ms');
    // For reading beside the figures above: the first call of a start loads the deck.
    figure('first call authorize, 1 reseller', one.firstCallMs[0].toFixed(1), 'ms');
    figure(`later resellers' first calls, max of ${MANY - 1}`, Math.max(...many.firstCallMs.slice(1)).toFixed(1), 'ms', 'the deck is in the rate cache once for all');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
