// Rate tables load without stalling calls: off the event loop, before the first call (/readyz),
// in the background after a change, and through a CSV import run beside the server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { createClient, createPlan, isPostgres, runCli, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const BIG_PLAN_ROWS = 250_000;
/** Longest hold of the event loop allowed during a load: the loader it replaced held it ~3 s here; a busy machine adds tens of ms. */
const MAX_LAG_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Adds `rows` rates 9000000001… ('Bulk', 0.01/min) to a plan straight in SQL and bumps its version, as a bulk load would. */
async function fillPlan(t: TestServer, planId: number, rows: number): Promise<void> {
  const db = t.server.ctx.db;
  await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < cast(${rows} as integer))
    insert into rates (plan_id, prefix, destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time, updated_at)
    select cast(${planId} as bigint), cast(9000000000 + i as varchar(20)), 'Bulk', 10000, 0, 1, 1, 0, '2026-12-01T00:00:00.000Z' from n`.execute(db);
  await sql`update plans set rates_version = rates_version + 1 where id = ${planId}`.execute(db);
}

/**
 * The longest gap between 5 ms timer ticks while `fn` runs (how long the event loop was held),
 * and whether that is within bounds: under MAX_LAG_MS, or on a machine so busy that the whole
 * run took long, under a third of it. A load on the event loop holds it nearly the whole run.
 */
async function maxTimerLagMs<T>(fn: () => Promise<T>): Promise<{ result: T; lagMs: number; withinBounds: boolean }> {
  const started = performance.now();
  let last = started;
  let lagMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lagMs = Math.max(lagMs, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await fn();
    const elapsedMs = performance.now() - started;
    return { result, lagMs, withinBounds: lagMs < Math.max(MAX_LAG_MS, elapsedMs / 3) };
  } finally {
    clearInterval(timer);
  }
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('rate tables: loads that stall no call', () => {
  let t: TestServer;
  let switchKey: string;
  let plan: { id: number };
  let client: TestClient;
  const uid = () => `rl-${crypto.randomBytes(6).toString('hex')}`;
  const authorize = (srv: TestServer, sipLogin: string, destination: string) =>
    srv.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: sipLogin, destination } });

  before(async () => {
    t = await startTestServer();
    switchKey = (await t.admin('create-switch-key', { name: 'rate-loads' })).api_key;
    plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '1000' });
  });
  after(async () => { await t?.close(); });

  it('a plan grown past 200,000 rows reloads without holding the event loop; calls rate on the old table meanwhile', async () => {
    // Loaded small (3 rows) by a first call.
    assert.equal((await authorize(t, client.sip.name, '+447575396991')).body.rate.destination, 'UK Mobile');
    await fillPlan(t, plan.id, BIG_PLAN_ROWS);
    const { result, lagMs, withinBounds } = await maxTimerLagMs(async () => {
      const started = performance.now();
      const first = await authorize(t, client.sip.name, '900000012345');
      const firstMs = performance.now() - started;
      const loaded = await until('the reloaded table', async () => {
        const r = await authorize(t, client.sip.name, '900000012345');
        return r.body.allowed ? r : null;
      });
      return { first, firstMs, loaded };
    });
    // A 250,000-row load through the event loop holds it for hundreds of ms at a time; off it, a
    // few (the bound leaves room for a machine busy with other work).
    assert.ok(withinBounds, `the event loop was held ${lagMs.toFixed(0)} ms during the load`);
    // Answered at once on the old table, which has no such prefix.
    assert.equal(result.first.status, 200);
    assert.equal(result.first.body.reason, 'NO_RATE');
    assert.ok(result.firstMs < 1_000, `first call took ${result.firstMs.toFixed(0)} ms`);
    assert.deepEqual(result.loaded.body.rate, { prefix: '9000000123', destination: 'Bulk' });
  });

  it('after add-rates on the large plan a call is answered at once on the old table, and rated on the new one shortly after', async () => {
    const { result, lagMs, withinBounds } = await maxTimerLagMs(async () => {
      await t.admin('add-rates', { plan_id: plan.id, rates: [{ prefix: '9000000123', destination: 'Bulk Changed', rate: '0.02' }] });
      const started = performance.now();
      const first = await authorize(t, client.sip.name, '900000012345');
      const firstMs = performance.now() - started;
      const changed = await until('the new table', async () => {
        const r = await authorize(t, client.sip.name, '900000012345');
        return r.body.rate?.destination === 'Bulk Changed' ? r : null;
      });
      return { first, firstMs, changed };
    });
    assert.equal(result.first.body.allowed, true);
    assert.equal(result.first.body.rate.destination, 'Bulk', 'the old table rates until the new one is built');
    assert.ok(result.firstMs < 500, `the call after add-rates took ${result.firstMs.toFixed(0)} ms`);
    assert.equal(result.changed.body.allowed, true);
    assert.ok(withinBounds, `the event loop was held ${lagMs.toFixed(0)} ms during the reload`);
  });

  it('/readyz answers 503 while the preload runs and 200 once every plan is loaded; a call before that waits for its plan only', async () => {
    const b = await startTestServer({}, { shareWith: t });
    try {
      // Until the preload has listed the plans, `plans_loading` is empty; 503 throughout.
      const earlyBody = await until('the preload\'s list of plans', async () => {
        const early = await fetch(`${b.url}/readyz`);
        const body = await early.json() as any;
        assert.equal(early.status, 503, JSON.stringify(body));
        assert.equal(body.ok, false);
        assert.equal(body.code, 'NOT_READY');
        return body.plans_loading.length > 0 ? body : null;
      });
      assert.ok(earlyBody.plans_loading.includes(plan.id), JSON.stringify(earlyBody));
      // Liveness is not readiness.
      assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
      // A call for the plan still loading waits for that load, and is rated by it.
      const waited = await authorize(b, client.sip.name, '900000012345');
      assert.equal(waited.body.allowed, true);
      assert.equal(waited.body.rate.destination, 'Bulk Changed');
      const ready = await until('readiness', async () => {
        const r = await fetch(`${b.url}/readyz`);
        const body = await r.json() as any;
        return r.status === 200 ? body : null;
      });
      assert.equal(ready.ok, true);
      assert.ok(ready.plans_loaded >= 1);
      const started = performance.now();
      assert.equal((await authorize(b, client.sip.name, '900000012345')).body.allowed, true);
      assert.ok(performance.now() - started < 500, 'a call after readiness waits for no load');
    } finally {
      await b.close();
    }
  });
});

/** A CSV of `rows` distinct prefixes 8000000001…, plus the given extra lines. */
function writeCsv(dir: string, rows: number, extra: string[] = []): string {
  const file = path.join(dir, `rates-${crypto.randomBytes(3).toString('hex')}.csv`);
  const lines = ['prefix,destination,rate'];
  for (let i = 1; i <= rows; i++) lines.push(`${8_000_000_000 + i},Imported,0.015`);
  lines.push(...extra);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('CSV import beside a running server', () => {
  let t: TestServer;
  let switchKey: string;
  let dir: string;
  const uid = () => `imp-${crypto.randomBytes(6).toString('hex')}`;

  before(async () => {
    t = await startTestServer();
    switchKey = (await t.admin('create-switch-key', { name: 'import' })).api_key;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-import-'));
  });
  after(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('authorize and cdr keep answering without a 5xx during an import, and calls are rated at the new prices after it', async () => {
    const plan = await createPlan(t);
    const clients = await Promise.all([0, 1, 2].map(() => createClient(t, plan.id, { balance: '1000' })));
    const file = writeCsv(dir, 60_000, ['44,UK Imported,0.6']);
    const statuses = new Map<number, number>();
    let pairs = 0;
    let importing = true;
    const cli = runCli(t, ['import-rates', String(plan.id), file], { timeoutMs: 120_000 }).finally(() => { importing = false; });
    const callers = clients.map(async (c) => {
      while (importing) {
        const id = uid();
        const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: id, sip_login: c.sip.name, destination: '442071234567' } });
        const d = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: id, sip_login: c.sip.name, destination: '442071234567', answered_seconds: 60, disposition: 'ANSWERED' } });
        for (const r of [a, d]) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        pairs++;
      }
    });
    const result = await cli;
    await Promise.all(callers);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(JSON.parse(result.stdout).rows_imported, 60_001);
    assert.deepEqual([...statuses.keys()], [200], `answers during the import: ${JSON.stringify([...statuses])}`);
    assert.ok(pairs > 0);
    // Rated, and charged, at the imported price once the server has the new table.
    const c = clients[0];
    const rated = await until('the imported rate', async () => {
      const id = uid();
      const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: id, sip_login: c.sip.name, destination: '442071234567' } });
      const d = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: id, sip_login: c.sip.name, destination: '442071234567', answered_seconds: 60, disposition: 'ANSWERED' } });
      return a.body.rate?.destination === 'UK Imported' ? d : null;
    });
    assert.equal(rated.body.cost, '0.6000');
  });

  it('a write that finds the SQLite write lock held past its wait answers 503 DATABASE_BUSY, never 500', { skip: isPostgres() && 'SQLite only' }, async () => {
    const plan = await createPlan(t);
    const c = await createClient(t, plan.id, { balance: '10' });
    const other = new SqliteDatabase(t.databaseUrl.slice('sqlite:'.length));
    try {
      other.exec('begin immediate');
      const result = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '442071234567' } });
      assert.equal(result.status, 503, JSON.stringify(result.body));
      assert.equal(result.body.code, 'DATABASE_BUSY');
    } finally {
      other.exec('rollback');
      other.close();
    }
    const after = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '442071234567' } });
    assert.equal(after.status, 200);
  });

  it('an import killed midway leaves its journal unfinished and the plan rating as before; the same file run again completes it', async () => {
    const plan = await createPlan(t);
    const c = await createClient(t, plan.id, { balance: '1000' });
    const db = t.server.ctx.db;
    const version = async () => Number((await db.selectFrom('plans').select('rates_version').where('id', '=', plan.id).executeTakeFirstOrThrow()).rates_version);
    const before = await version();
    // The server has the plan's table (3 rows) before the import starts.
    assert.equal((await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '442071234567' } })).body.allowed, true);
    const rows = 300_000;
    const file = writeCsv(dir, rows);
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
    const child = spawn(process.execPath, [path.join(root, 'bin', 'ledgerline.js'), 'import-rates', String(plan.id), file], {
      cwd: root, stdio: 'ignore',
      env: { ...process.env, DATABASE_URL: t.databaseUrl, DATABASE_SCHEMA: t.schema, LEDGERLINE_SECRET: t.config.secret, LEDGERLINE_DATA_DIR: t.config.dataDir, LOG_LEVEL: 'error' },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Killed once rows are committed (chunk by chunk, on both databases).
    await until('the import to be under way', async () => {
      const j = await db.selectFrom('rate_imports').select(['rows_written']).where('plan_id', '=', plan.id).executeTakeFirst();
      return j && Number(j.rows_written) > 0 ? true : null;
    }, 90_000);
    child.kill('SIGKILL');
    await exited;

    const journal = await db.selectFrom('rate_imports').selectAll().where('plan_id', '=', plan.id).executeTakeFirstOrThrow();
    assert.equal(journal.status, 'running', 'the journal shows the import did not finish');
    assert.ok(Number(journal.rows_written) < rows);
    assert.equal(await version(), before, 'the plan version is bumped only when the import completes');
    const midway = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '80000000017' } });
    assert.equal(midway.body.reason, 'NO_RATE', 'servers rate on the old table');

    const again = await runCli(t, ['import-rates', String(plan.id), file], { timeoutMs: 120_000 });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const summary = JSON.parse(again.stdout);
    assert.equal(summary.rows_imported, rows);
    assert.equal(summary.import_id, Number(journal.id), 'the same file takes up the unfinished import');
    assert.equal(summary.resumed_from_row, Number(journal.rows_written));
    assert.match(again.stderr, /resuming import/);
    const done = await db.selectFrom('rate_imports').selectAll().where('id', '=', summary.import_id).executeTakeFirstOrThrow();
    assert.equal(done.status, 'done');
    assert.equal(Number(done.rows_written), rows);
    const count = await db.selectFrom('rates').select((eb) => eb.fn.countAll<number>().as('n')).where('plan_id', '=', plan.id).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), rows + 3);
    assert.ok(await version() > before);
    const after = await until('the imported table', async () => {
      const r = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: uid(), sip_login: c.sip.name, destination: '80000000017' } });
      return r.body.allowed ? r : null;
    });
    assert.equal(after.body.rate.destination, 'Imported');
  });
});
