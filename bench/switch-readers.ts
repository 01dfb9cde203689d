// The switch path beside readers (issue #11, item 1): authorize + cdr pairs per second alone,
// then while a client polls its history of 10^6 calls, then while an admin runs verify-ledger
// in a loop. Nothing a reader does may take the switch below 80% of alone.
// The history is written straight into the database file between two starts of the server
// (bulk SQL, as a month of a call centre's traffic), with a ledger posting per answered call so
// that verify-ledger has the postings to sum and still finds the ledger sound.
import SqliteDatabase from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { driveSwitchPath, seedSwitchClients, type SwitchRun } from './switch-path.js';
import { figure, startLedgerline, type BenchServer } from './util.js';

const HISTORY_CALLS = Number(process.env.BENCH_HISTORY_CALLS ?? 1_000_000);
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
/** One call in ten failed (no answer), as on a real line. */
const FAILED_EVERY = 10;
const COST_MICROS = 84_000; // 42 billed seconds at 0.12/min

/** The history client's calls and postings, written straight into the file while the server is down. */
function writeHistory(dbFile: string, login: string): void {
  const db = new SqliteDatabase(dbFile);
  // A fixture: nothing to keep if the machine fails halfway.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  try {
    const account = db.prepare('select id from accounts where login = ?').get(login) as { id: number };
    const sip = db.prepare('select id, name from sip_accounts where account_id = ?').get(account.id) as { id: number; name: string };
    db.transaction(() => {
      db.prepare(`
        insert into calls (uniqueid, switch_ref, account_id, sip_account_id, sip_login, destination, rate_prefix,
          rate_destination, caller_id, started_at, answered_seconds, billed_seconds, cost_micros, reseller_id,
          reseller_cost_micros, disposition, hangup_cause, created_at)
        with recursive n(x) as (select 1 union all select x + 1 from n where x < ?)
        select 'history-' || printf('%07d', x), 'bench', ?, ?, ?, '4475753' || printf('%05d', x % 100000), '447', 'UK Mobile', '442071234567',
          strftime('%Y-%m-%dT%H:%M:%SZ', 1764547200 + x * 2, 'unixepoch'),
          case when x % ${FAILED_EVERY} = 0 then 0 else 37 end,
          case when x % ${FAILED_EVERY} = 0 then 0 else 42 end,
          case when x % ${FAILED_EVERY} = 0 then 0 else ${COST_MICROS} end,
          null, 0,
          case when x % ${FAILED_EVERY} = 0 then 'NO ANSWER' else 'ANSWERED' end,
          case when x % ${FAILED_EVERY} = 0 then 'NO_ANSWER' else 'NORMAL_CLEARING' end,
          strftime('%Y-%m-%dT%H:%M:%SZ', 1764547200 + x * 2 + 40, 'unixepoch')
        from n`).run(HISTORY_CALLS, account.id, sip.id, sip.name);
      const opening = (db.prepare('select balance_micros as b from accounts where id = ?').get(account.id) as { b: number }).b;
      db.prepare(`
        insert into ledger_postings (account_id, amount_micros, balance_after_micros, kind, ref_type, ref_id, description, created_at)
        select account_id, -cost_micros, ? - cost_micros * row_number() over (order by id), 'call', 'call', id, null, created_at
        from calls where account_id = ? and disposition = 'ANSWERED' order by id`).run(opening, account.id);
      db.prepare('update accounts set balance_micros = (select sum(amount_micros) from ledger_postings where account_id = ?) where id = ?')
        .run(account.id, account.id);
    })();
  } finally {
    db.close();
  }
}

/** Requests in a loop, one at a time, until stopped: how many, and their mean latency. */
function loop(request: () => Promise<void>): { stop(): Promise<{ count: number; meanMs: number; failures: number }> } {
  let running = true;
  let count = 0;
  let failures = 0;
  let totalMs = 0;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      try {
        await request();
      } catch {
        failures++;
      }
      totalMs += performance.now() - started;
      count++;
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { count, meanMs: count ? Math.round(totalMs / count) : 0, failures };
    },
  };
}

/**
 * The server's longest event-loop stall since the last call, from /metrics (prom-client's
 * histogram restarts at each scrape): how long every switch request waited behind something.
 */
async function loopLagMaxMs(server: BenchServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : NaN;
}

async function getJson(url: string, key: string): Promise<any> {
  const res = await fetch(url, { headers: { 'X-API-Key': key } });
  const body = await res.json() as any;
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The history poller: page one, then deeper pages by offset, and by the cursor where the answer gives one. */
function historyPoller(server: BenchServer, clientKey: string) {
  const offsets = [0, 1_000, 0, 100_000, 0, Math.max(0, HISTORY_CALLS - 1_000)];
  let i = 0;
  let cursor: string | undefined;
  return loop(async () => {
    const params = new URLSearchParams({ endpoint: 'calls', limit: '50' });
    if (cursor !== undefined) params.set('after', cursor);
    else params.set('offset', String(offsets[i++ % offsets.length]));
    const body = await getJson(`${server.url}/client-api/index.php?${params}`, clientKey);
    const next = body.data?.next ?? body.next;
    // Two pages down the cursor after each page one, once the API offers it.
    cursor = cursor === undefined && typeof next === 'string' && params.get('offset') === '0' ? next : undefined;
  });
}

export async function benchSwitchReaders(root: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-readers-'));
  let server: BenchServer | null = null;
  try {
    server = await startLedgerline(root, [], { dir });
    const fx = await seedSwitchClients(server);
    const { plan } = await server.adminPost('create-plan', { name: 'HISTORY' });
    await server.adminPost('add-rates', { plan_id: plan.id, rates: [{ prefix: '447', destination: 'UK Mobile', rate: '0.12', initblock: 60, billingblock: 6 }] });
    const history = await server.adminPost('create-client', { plan_id: plan.id, balance: '100000' });
    const adminKey = server.adminKey;
    await server.stop();
    server = null;

    let started = performance.now();
    writeHistory(path.join(dir, 'bench.db'), history.client.login);
    figure(`history written (${HISTORY_CALLS.toLocaleString('en')} calls + postings)`, ((performance.now() - started) / 1000).toFixed(1), 's');

    server = await startLedgerline(root, [], { dir, adminKey });
    const s = server;
    // Warm-up: JIT, page cache, the readers' threads.
    await driveSwitchPath(s.url, fx, 3);
    await getJson(`${s.url}/client-api/index.php?endpoint=calls&limit=50`, history.api_key);
    started = performance.now();
    const check = await getJson(`${s.url}/admin-api/index.php?endpoint=verify-ledger`, adminKey);
    const verifyMs = Math.round(performance.now() - started);
    if (!check.ok_ledger) throw new Error(`the seeded ledger does not verify: ${JSON.stringify(check).slice(0, 300)}`);

    await loopLagMaxMs(s);
    const aloneBefore = await driveSwitchPath(s.url, fx);
    const aloneLagMs = await loopLagMaxMs(s);

    const poller = historyPoller(s, history.api_key);
    const withPoller = await driveSwitchPath(s.url, fx);
    const polled = await poller.stop();
    const pollerLagMs = await loopLagMaxMs(s);

    const verifier = loop(async () => {
      const r = await getJson(`${s.url}/admin-api/index.php?endpoint=verify-ledger`, adminKey);
      if (!r.ok_ledger) throw new Error('ledger mismatch');
    });
    const withVerify = await driveSwitchPath(s.url, fx);
    const verified = await verifier.stop();
    const verifyLagMs = await loopLagMaxMs(s);

    // Alone again: the baseline is the mean of before and after, so that neither the warm-up
    // nor the history the runs add favours one side.
    const aloneAfter = await driveSwitchPath(s.url, fx);
    const alone: SwitchRun = {
      pairsPerSecond: Math.round((aloneBefore.pairsPerSecond + aloneAfter.pairsPerSecond) / 2),
      p99Ms: Math.max(aloneBefore.p99Ms, aloneAfter.p99Ms),
      non2xx: aloneBefore.non2xx + aloneAfter.non2xx,
      errors: aloneBefore.errors + aloneAfter.errors,
      refused: aloneBefore.refused + aloneAfter.refused,
    };

    // Failed switch requests (timeouts, 5xx) are part of the figure, not a reason to print none.
    const failed = (run: SwitchRun) => (run.non2xx + run.errors > 0 ? `; ${run.non2xx} non-2xx, ${run.errors} timeouts/errors` : '');
    const ratio = (run: SwitchRun) => `${Math.round((run.pairsPerSecond / alone.pairsPerSecond) * 100)}% of alone (target >= 80%); p99 ${run.p99Ms} ms${failed(run)}`;
    figure('switch pairs/s alone (baseline)', alone.pairsPerSecond, 'calls/s',
      `mean of ${aloneBefore.pairsPerSecond} before and ${aloneAfter.pairsPerSecond} after; p99 ${alone.p99Ms} ms${failed(alone)}`);
    figure('  longest event-loop stall, alone', aloneLagMs, 'ms');
    figure('switch pairs/s, 10^6-call history poller', withPoller.pairsPerSecond, 'calls/s', ratio(withPoller));
    figure('  history pages served meanwhile', polled.count, 'pages', `mean ${polled.meanMs} ms, ${polled.failures} failed`);
    figure('  longest event-loop stall, with poller', pollerLagMs, 'ms', `alone ${aloneLagMs} ms`);
    figure('switch pairs/s, verify-ledger in a loop', withVerify.pairsPerSecond, 'calls/s', ratio(withVerify));
    figure('  verify-ledger runs meanwhile', verified.count, 'runs', `mean ${verified.meanMs} ms (alone ${verifyMs} ms), ${verified.failures} failed`);
    figure('  longest event-loop stall, with verify-ledger', verifyLagMs, 'ms', `alone ${aloneLagMs} ms`);
  } finally {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
