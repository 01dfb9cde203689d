// List pages at scale: the same page of the same list for an owner with a short history and one
// with a long history, side by side in one run (issue #11: within 2x). The accounts are made over
// the API; the history is written by bulk SQL straight into the database while the server is
// down (the database's own triggers keep the list counts as they would for API writes), then the
// built server (dist/) is started on it and each page is timed as the median of many requests,
// the small and the large owner alternating so that drift of the machine hits both alike.
// SQLite always; PostgreSQL too when BENCH_DATABASE_URL=postgres://... is set.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { LIST_COUNTS_FROM_ROWS } from '../src/db/migrations.js';
import { cursorAfter } from '../src/util/input.js';
import { figure, startProcess, stopProcess } from './util.js';

const CALLS_LARGE = Number(process.env.BENCH_LIST_CALLS ?? 1_000_000);
const CALLS_SMALL = 1_000;
const TRANSACTIONS_LARGE = Number(process.env.BENCH_LIST_TRANSACTIONS ?? 1_000_000);
const TRANSACTIONS_SMALL = 1_000;
const CLIENTS_LARGE = Number(process.env.BENCH_LIST_CLIENTS ?? 100_000);
const CLIENTS_SMALL = 100;
const REQUESTS = Number(process.env.BENCH_LIST_REQUESTS ?? 200);
const PAGE = 50;

/** Where the bench's database lives and how bulk SQL reaches it. */
interface Store {
  label: string;
  env: Record<string, string>;
  /** Statements run while the server is down. */
  run(statement: string): Promise<void>;
  rows<R>(query: string): Promise<R[]>;
  /** A row-number series 1..n as a FROM item `s(i)`. */
  series(n: number): string;
  /** Brackets the bulk fill (PostgreSQL: triggers off for it, then every list recounted). */
  beforeFill(): Promise<void>;
  afterFill(): Promise<void>;
  /** Lets go of the database before the server opens it again. */
  release(): Promise<void>;
  /** Removes the database. */
  done(): Promise<void>;
}

function sqliteStore(): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-lists-'));
  const file = path.join(dir, 'bench.db');
  let db: Database.Database | null = null;
  const open = () => (db ??= new Database(file));
  return {
    label: 'SQLite',
    env: { DATABASE_URL: `sqlite:${file}` },
    async run(statement) { open().exec(statement); },
    async rows<R>(query: string) { return open().prepare(query).all() as R[]; },
    series: (n) => `(with recursive t(i) as (select 1 union all select i + 1 from t where i < ${n}) select i from t) as s`,
    // SQLite keeps the counts row by row through the fill: an in-place update of one b-tree row.
    async beforeFill() {},
    async afterFill() {},
    async release() { db?.close(); db = null; },
    async done() { db?.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

async function postgresStore(url: string): Promise<Store> {
  const schema = `bench_lists_${crypto.randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`create schema ${schema}`);
  return {
    label: 'PostgreSQL',
    env: { DATABASE_URL: url, DATABASE_SCHEMA: schema },
    async run(statement) { await client.query(statement); },
    async rows<R>(query: string) { return (await client.query(query)).rows as R[]; },
    series: (n) => `generate_series(1, ${n}) as s(i)`,
    // With the triggers on, a million rows of one list in one transaction pile up a million
    // versions of its count row (see LIST_COUNTS_FROM_ROWS): the fill runs as a replica, which
    // fires no triggers, and every list is recounted from its rows after it.
    async beforeFill() { await client.query('set session_replication_role = replica'); },
    async afterFill() {
      await client.query('set session_replication_role = origin');
      await client.query('delete from list_counts');
      for (const statement of LIST_COUNTS_FROM_ROWS) await client.query(statement);
      // Statistics, as autovacuum gathers them after a large load: without them the planner
      // guesses a few rows per reseller and sorts all of its transactions instead of reading
      // the index backwards.
      await client.query('analyze');
    },
    async release() {},
    async done() {
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

async function startServer(root: string, store: Store, adminKey: string, port: number) {
  const { child } = await startProcess(process.execPath, [path.join(root, 'dist/src/main.js')], {
    PORT: String(port), ADMIN_API_KEY: adminKey, LEDGERLINE_SECRET: 'bench-secret', AGI_PORT: '0', LOG_LEVEL: 'info', ...store.env,
  }, /Ledgerline listening/, 120_000);
  return child;
}

/** 10^6 for a power of ten, the number otherwise. */
const scale = (n: number) => (/^10*$/.test(String(n)) ? `10^${String(n).length - 1}` : String(n));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchLists(root: string): Promise<void> {
  await benchListsOn(root, sqliteStore());
  const pgUrl = process.env.BENCH_DATABASE_URL;
  if (pgUrl?.startsWith('postgres')) await benchListsOn(root, await postgresStore(pgUrl));
  else process.stdout.write('(PostgreSQL: set BENCH_DATABASE_URL=postgres://... to measure it too)\n');
}

async function benchListsOn(root: string, store: Store): Promise<void> {
  const adminKey = `bench-admin-${crypto.randomBytes(16).toString('hex')}`;
  const port = 20000 + crypto.randomInt(20000);
  const url = `http://127.0.0.1:${port}`;
  const api = async (family: string, endpoint: string, key: string, body?: unknown, query: Record<string, string | number> = {}) => {
    const qs = new URLSearchParams({ endpoint, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
    const res = await fetch(`${url}/${family}-api/index.php?${qs}`, body === undefined
      ? { headers: { 'X-API-Key': key } }
      : { method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json() as any;
    if (!res.ok) throw new Error(`${family} ${endpoint}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const now = new Date().toISOString();

  // 1. Accounts over the API.
  let server = await startServer(root, store, adminKey, port);
  const owners = await (async () => {
    try {
      const { plan } = await api('admin', 'create-plan', adminKey, { name: 'BENCH' });
      await api('admin', 'add-rates', adminKey, { plan_id: plan.id, rates: [{ prefix: '447', destination: 'UK Mobile', rate: '0.12' }] });
      const client = async () => {
        const c = await api('admin', 'create-client', adminKey, { plan_id: plan.id, balance: '10' });
        return { id: Number(c.client.id), key: c.api_key as string, sip: c.sip.name as string };
      };
      const reseller = async () => {
        const r = await api('admin', 'create-reseller', adminKey, { plan_id: plan.id, balance: '10' });
        const key = r.api_key as string;
        const retail = (await api('reseller', 'plans', key)).plans[0];
        const c = await api('reseller', 'create-client', key, { plan_id: retail.id });
        return { id: Number(r.reseller.id), key, planId: Number(retail.id), clientId: Number(c.client.id) };
      };
      return { small: await client(), large: await client(), rSmall: await reseller(), rLarge: await reseller() };
    } finally {
      await stopProcess(server);
    }
  })();

  // 2. History by bulk SQL, the server down.
  const fillStarted = performance.now();
  const calls = (c: { id: number; sip: string }, n: number, tag: string) => store.run(`insert into calls (uniqueid, switch_ref, account_id, sip_login,
      destination, rate_prefix, rate_destination, started_at, answered_seconds, billed_seconds, cost_micros, reseller_cost_micros, disposition, created_at)
    select ${lit(tag)} || i, '', ${c.id}, ${lit(c.sip)}, '447575396991', '447', 'UK Mobile', ${lit(now)}, 37, 37, 74000, 0,
      case when i % 10 = 0 then 'NO ANSWER' else 'ANSWERED' end, ${lit(now)}
    from ${store.series(n)}`);
  const transactions = (r: { id: number; clientId: number }, n: number) => store.run(`insert into reseller_transactions (reseller_id, client_id,
      kind, amount_micros, currency, status, external_id, provider, provider_txid, posting_id, created_at, updated_at)
    select ${r.id}, ${r.clientId}, 'transfer', 1000000, null, case when i % 10 = 0 then 'pending' else 'success' end, null, null, null, null, ${lit(now)}, ${lit(now)}
    from ${store.series(n)}`);
  const clients = (r: { id: number; planId: number }, n: number, tag: string) => store.run(`insert into accounts (login, role, parent_id, plan_id,
      balance_micros, created_at, updated_at)
    select ${lit(tag)} || i, 'client', ${r.id}, ${r.planId}, 0, ${lit(now)}, ${lit(now)}
    from ${store.series(n)}`);
  await store.beforeFill();
  await calls(owners.large, CALLS_LARGE, 'bench-large-');
  await calls(owners.small, CALLS_SMALL, 'bench-small-');
  await transactions(owners.rLarge, TRANSACTIONS_LARGE);
  await transactions(owners.rSmall, TRANSACTIONS_SMALL);
  await clients(owners.rLarge, CLIENTS_LARGE, 'benchlarge');
  await clients(owners.rSmall, CLIENTS_SMALL, 'benchsmall');
  await store.afterFill();
  // The cursors of each list's last page: past the row that precedes its last PAGE rows.
  const idAt = async (query: string) => Number((await store.rows<{ id: number }>(query))[0].id);
  const lastCallsCursor = async (id: number) => cursorAfter(await idAt(
    `select id from calls where account_id = ${id} and disposition = 'ANSWERED' order by id limit 1 offset ${PAGE}`));
  const lastTransactionsCursor = async (id: number) => cursorAfter(await idAt(
    `select id from reseller_transactions where reseller_id = ${id} order by id limit 1 offset ${PAGE}`));
  const lastClientsCursor = async (id: number) => cursorAfter(await idAt(
    `select id from accounts where parent_id = ${id} and role = 'client' order by id desc limit 1 offset ${PAGE}`));
  const cursors = {
    callsSmall: await lastCallsCursor(owners.small.id), callsLarge: await lastCallsCursor(owners.large.id),
    txSmall: await lastTransactionsCursor(owners.rSmall.id), txLarge: await lastTransactionsCursor(owners.rLarge.id),
    clientsSmall: await lastClientsCursor(owners.rSmall.id), clientsLarge: await lastClientsCursor(owners.rLarge.id),
  };
  await store.release();
  figure(`[${store.label}] history written by bulk SQL`, ((performance.now() - fillStarted) / 1000).toFixed(1), 's',
    `${CALLS_LARGE + CALLS_SMALL} calls, ${TRANSACTIONS_LARGE + TRANSACTIONS_SMALL} transactions, ${CLIENTS_LARGE + CLIENTS_SMALL} clients`);

  // 3. Pages, timed.
  server = await startServer(root, store, adminKey, port);
  try {
    /** Milliseconds of one request, checked to be the page it should be. */
    const timed = async (family: string, endpoint: string, key: string, query: Record<string, string | number>, check: (body: any) => void) => {
      const started = performance.now();
      const body = await api(family, endpoint, key, undefined, query);
      const ms = performance.now() - started;
      check(family === 'client' ? body.data : body);
      return ms;
    };
    type Probe = [family: string, endpoint: string, key: string, query: Record<string, string | number>, check: (page: any) => void];
    const full = (list: string) => (p: any) => { if (p[list].length !== PAGE || typeof p.next !== 'string') throw new Error(`${list}: not a full first page`); };
    const last = (list: string) => (p: any) => { if (p[list].length !== PAGE || p.next !== null) throw new Error(`${list}: not the last page`); };
    const pair = async (name: string, small: Probe, large: Probe, smallLabel: string, largeLabel: string) => {
      for (let i = 0; i < 10; i++) { await timed(...small); await timed(...large); }
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < REQUESTS; i++) { a.push(await timed(...small)); b.push(await timed(...large)); }
      const ratio = median(b) / median(a);
      figure(`[${store.label}] ${name} at ${smallLabel}`, median(a).toFixed(2), 'ms', `median of ${REQUESTS}`);
      figure(`[${store.label}] ${name} at ${largeLabel}`, median(b).toFixed(2), 'ms',
        `x${ratio.toFixed(2)} of ${smallLabel} (target <= 2)${ratio <= 2 ? '' : '  MISSED'}`);
    };
    const calls = { limit: PAGE };
    await pair('calls page one', ['client', 'calls', owners.small.key, calls, full('calls')],
      ['client', 'calls', owners.large.key, calls, full('calls')], `${scale(CALLS_SMALL)} calls`, `${scale(CALLS_LARGE)} calls`);
    await pair('calls last page (cursor)', ['client', 'calls', owners.small.key, { ...calls, after: cursors.callsSmall }, last('calls')],
      ['client', 'calls', owners.large.key, { ...calls, after: cursors.callsLarge }, last('calls')], `${scale(CALLS_SMALL)} calls`, `${scale(CALLS_LARGE)} calls`);
    await pair('reseller transactions page one', ['reseller', 'transactions', owners.rSmall.key, calls, full('transactions')],
      ['reseller', 'transactions', owners.rLarge.key, calls, full('transactions')], `${scale(TRANSACTIONS_SMALL)} rows`, `${scale(TRANSACTIONS_LARGE)} rows`);
    await pair('reseller transactions?status=pending page one', ['reseller', 'transactions', owners.rSmall.key, { ...calls, status: 'pending' }, full('transactions')],
      ['reseller', 'transactions', owners.rLarge.key, { ...calls, status: 'pending' }, full('transactions')], `${scale(TRANSACTIONS_SMALL)} rows`, `${scale(TRANSACTIONS_LARGE)} rows`);
    await pair('reseller transactions last page (cursor)', ['reseller', 'transactions', owners.rSmall.key, { ...calls, after: cursors.txSmall }, last('transactions')],
      ['reseller', 'transactions', owners.rLarge.key, { ...calls, after: cursors.txLarge }, last('transactions')], `${scale(TRANSACTIONS_SMALL)} rows`, `${scale(TRANSACTIONS_LARGE)} rows`);
    await pair('reseller clients page one', ['reseller', 'clients', owners.rSmall.key, calls, full('clients')],
      ['reseller', 'clients', owners.rLarge.key, calls, full('clients')], `${scale(CLIENTS_SMALL)} clients`, `${scale(CLIENTS_LARGE)} clients`);
    await pair('reseller clients last page (cursor)', ['reseller', 'clients', owners.rSmall.key, { ...calls, after: cursors.clientsSmall }, last('clients')],
      ['reseller', 'clients', owners.rLarge.key, { ...calls, after: cursors.clientsLarge }, last('clients')], `${scale(CLIENTS_SMALL)} clients`, `${scale(CLIENTS_LARGE)} clients`);
    // For reference, what the cursor saves: the last page of the long history by offset, which
    // reads every row it skips (a few requests only).
    const answered = CALLS_LARGE - Math.floor(CALLS_LARGE / 10);
    const deep: number[] = [];
    for (let i = 0; i < 5; i++) {
      deep.push(await timed('client', 'calls', owners.large.key, { limit: PAGE, offset: answered - PAGE }, last('calls') as any));
    }
    figure(`[${store.label}] calls last page by offset at ${scale(CALLS_LARGE)} calls`, median(deep).toFixed(2), 'ms', 'median of 5; for reference: deep offsets are O(offset), use the cursor');
  } finally {
    await stopProcess(server);
    await store.done();
  }
}
