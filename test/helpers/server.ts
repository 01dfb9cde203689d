// Boots a real Ledgerline server on a fresh database (SQLite file or PostgreSQL schema) and
// speaks HTTP to it. TEST_DATABASE_URL picks the dialect (set by scripts/run-tests.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { findLedgerMismatches } from '../../src/ledger/ledger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import pino from 'pino';

/** The API families the server serves (src/http/endpoint.ts ApiName). */
export type Family = 'client' | 'reseller' | 'admin' | 'switch' | 'sms' | 'esim';

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

export interface CallOptions {
  key?: string | null;
  method?: string;
  body?: unknown;
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  /** Raw body text instead of JSON. */
  rawBody?: string;
}

export interface TestServer {
  url: string;
  adminKey: string;
  server: RunningServer;
  config: Config;
  dialect: 'sqlite' | 'postgres';
  databaseUrl: string;
  schema: string;
  call(family: Family, endpoint: string, opts?: CallOptions): Promise<ApiResponse>;
  /** Admin API call that must succeed. */
  admin(endpoint: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

export const testDatabaseUrl = () => process.env.TEST_DATABASE_URL || 'sqlite:';
export const isPostgres = () => testDatabaseUrl().startsWith('postgres');

async function freshDatabase(): Promise<{ databaseUrl: string; schema: string; drop: () => Promise<void> }> {
  const base = testDatabaseUrl();
  if (base.startsWith('postgres')) {
    const schema = `t_${crypto.randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.end();
    return {
      databaseUrl: base, schema,
      drop: async () => {
        const c = new pg.Client({ connectionString: base });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-test-'));
  return {
    databaseUrl: `sqlite:${path.join(dir, 'ledgerline.db')}`, schema: '',
    drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Starts a server on a fresh database, or, with `shareWith`, a second instance on the same
 * database (same secret and admin key) whose close() leaves the database to the first.
 */
export async function startTestServer(env: Record<string, string> = {}, opts: { shareWith?: TestServer; log?: pino.Logger } = {}): Promise<TestServer> {
  const shared = opts.shareWith;
  const db = shared
    ? { databaseUrl: shared.databaseUrl, schema: shared.schema, drop: async () => {} }
    : await freshDatabase();
  const adminKey = shared?.adminKey ?? `test-admin-${crypto.randomBytes(16).toString('hex')}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-data-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.databaseUrl,
    DATABASE_SCHEMA: db.schema,
    ADMIN_API_KEY: adminKey,
    LEDGERLINE_SECRET: shared?.config.secret ?? crypto.randomBytes(32).toString('hex'),
    LEDGERLINE_DATA_DIR: dataDir,
    AGI_PORT: '0',
    LOG_LEVEL: 'error',
    ...env,
  });
  const server = await startServer(config, opts.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'error' }));

  async function call(family: Family, endpoint: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const method = opts.method ?? (opts.body !== undefined || opts.rawBody !== undefined ? 'POST' : 'GET');
    const params = new URLSearchParams({ endpoint });
    for (const [k, v] of Object.entries(opts.query ?? {})) params.set(k, String(v));
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key !== null) headers['X-API-Key'] = opts.key ?? adminKey;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${server.url}/${family}-api/index.php?${params}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  return {
    url: server.url,
    adminKey,
    server,
    config,
    dialect: server.ctx.dialect,
    databaseUrl: db.databaseUrl,
    schema: db.schema,
    call,
    async admin(endpoint, body) {
      const res = await call('admin', endpoint, body === undefined ? {} : { body });
      assert.equal(res.status, 200, `admin ${endpoint}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async close() {
      // Every suite ends with the ledger invariant: balance = sum(postings) for every account.
      const { mismatches } = await findLedgerMismatches(server.ctx.db);
      await server.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      assert.deepEqual(mismatches, [], 'ledger: balance must equal the sum of postings');
    },
  };
}

/**
 * Two server instances on one fresh database, started before the suite's tests and closed
 * after them (the second first): for what instances must share. Call inside a describe.
 */
export function twoInstances(env: Record<string, string> = {}): { readonly a: TestServer; readonly b: TestServer } {
  const pair: { a?: TestServer; b?: TestServer } = {};
  before(async () => {
    pair.a = await startTestServer(env);
    pair.b = await startTestServer(env, { shareWith: pair.a });
  });
  after(async () => {
    await pair.b?.close();
    await pair.a?.close();
  });
  return {
    get a() { return pair.a!; },
    get b() { return pair.b!; },
  };
}

export interface TestClient {
  login: string;
  key: string;
  sip: { name: string; password: string };
  password: string;
  id: number;
}

/** An admin plan with a few rates. */
export async function createPlan(t: TestServer, name = `PLAN-${crypto.randomBytes(3).toString('hex')}`, extra: Record<string, unknown> = {}) {
  const { plan } = await t.admin('create-plan', { name, ...extra });
  await t.admin('add-rates', {
    plan_id: plan.id,
    rates: [
      { prefix: '1', destination: 'USA', rate: '0.0120', initblock: 6, billingblock: 6 },
      { prefix: '44', destination: 'UK', rate: '0.0250', initblock: 60, billingblock: 6 },
      { prefix: '447', destination: 'UK Mobile', rate: '1.2000', initblock: 60, billingblock: 6 },
    ],
  });
  return plan as { id: number; name: string };
}

export async function createClient(t: TestServer, planId: number, extra: Record<string, unknown> = {}): Promise<TestClient> {
  const password = (extra.password as string) ?? `Pw${crypto.randomBytes(6).toString('hex')}9`;
  const body = await t.admin('create-client', { plan_id: planId, password, ...extra });
  return { login: body.client.login, key: body.api_key, sip: body.sip, password, id: body.client.id };
}

/** A reseller's client, made with the reseller's key, with `amount` transferred to it when given. */
export async function createResellerClient(t: TestServer, resellerKey: string, planId: number, opts: { amount?: string; password?: string } = {}) {
  const password = opts.password ?? `Pw${crypto.randomBytes(6).toString('hex')}7`;
  const created = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: planId, password } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const login: string = created.body.client.login;
  if (opts.amount && opts.amount !== '0') {
    const moved = await t.call('reseller', 'transfer', { key: resellerKey, body: { login, amount: opts.amount } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
  }
  return { login, key: created.body.api_key as string, password };
}

/** An account's balance as stored, in micros, for exact comparisons. */
export async function balanceMicros(t: TestServer, login: string): Promise<bigint> {
  const row = await t.server.ctx.db.selectFrom('accounts').select('balance_micros').where('login', '=', login).executeTakeFirstOrThrow();
  return BigInt(row.balance_micros);
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `node bin/ledgerline.js ...args` against the test server's database. */
export function runCli(t: TestServer, args: string[], opts: { dataDir?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: t.databaseUrl,
    DATABASE_SCHEMA: t.schema,
    LEDGERLINE_SECRET: t.config.secret,
    LEDGERLINE_DATA_DIR: opts.dataDir ?? t.config.dataDir,
    LOG_LEVEL: 'error',
    ...opts.env,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin', 'ledgerline.js'), ...args], { cwd: root, env, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}
