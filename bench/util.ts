// Shared benchmark plumbing: child servers, autocannon runs, one printed line per figure.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export function figure(name: string, value: string | number, unit: string, note = ''): void {
  process.stdout.write(`${name.padEnd(44)} ${String(value).padStart(12)} ${unit}${note ? `   ${note}` : ''}\n`);
}

/** What `npm start` puts in the server's environment (package.json), unless already set. */
const START_ENV: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '1' };

/** Starts a server process and resolves once it prints `ready` (or the given marker) on stdout. */
export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, marker: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...START_ENV, ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} did not start in ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (marker.test(out)) { clearTimeout(timer); resolve({ child, output: () => out }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited with ${code}:\n${out}`)); });
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

export interface LoadResult { requestsPerSecond: number; p99Ms: number; p50Ms: number; errors: number; non2xx: number }

/** One autocannon run in a fresh process, so the load generator's own state never carries over. */
export async function load(url: string, opts: { connections: number; durationSeconds: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const bin = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));
  const args = [bin, '--json', '-c', String(opts.connections), '-d', String(opts.durationSeconds), '-p', '1'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const result = JSON.parse(out);
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export interface BenchServer {
  url: string;
  adminKey: string;
  /** The folder of the database file (and of nothing else of the server's). */
  dir: string;
  dbFile: string;
  /** Admin API POST that must succeed. */
  adminPost(endpoint: string, body: unknown): Promise<any>;
  /** Stops the server; the folder is removed unless it was given (`dir`), for a restart on the same data. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** An existing folder (a database seeded by an earlier start) and the admin key it was made with. */
  dir?: string;
  adminKey?: string;
  /** A PostgreSQL database (postgres://…) and the schema in it, instead of a SQLite file. */
  postgres?: { url: string; schema: string };
  env?: Record<string, string>;
}

/**
 * The built server (dist/) on a SQLite database in a temp folder (fresh, or `opts.dir`), or on
 * `opts.postgres`, the folder then holding only the server's data directory.
 */
export async function startLedgerline(root: string, extraNodeArgs: string[] = [], opts: StartOptions = {}): Promise<BenchServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-'));
  const dbFile = path.join(dir, 'bench.db');
  const adminKey = opts.adminKey ?? `bench-admin-${crypto.randomBytes(16).toString('hex')}`;
  let port = 0;
  let server: Awaited<ReturnType<typeof startProcess>> | undefined;
  // A random port may be taken (another benchmark, another user): a few tries.
  for (let attempt = 1; !server; attempt++) {
    port = 20000 + crypto.randomInt(20000);
    try {
      server = await startProcess(process.execPath, [...extraNodeArgs, path.join(root, 'dist/src/main.js')], {
        PORT: String(port), ADMIN_API_KEY: adminKey,
        LEDGERLINE_SECRET: 'bench-secret', AGI_PORT: '0', LOG_LEVEL: 'info',
        ...(opts.postgres
          ? { DATABASE_URL: opts.postgres.url, DATABASE_SCHEMA: opts.postgres.schema, LEDGERLINE_DATA_DIR: dir }
          : { DATABASE_URL: `sqlite:${dbFile}` }),
        ...opts.env,
      }, /Ledgerline listening/, opts.postgres ? 120_000 : 30_000);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    adminKey,
    dir,
    dbFile,
    async adminPost(endpoint, body) {
      const res = await fetch(`${url}/admin-api/index.php?endpoint=${endpoint}`, {
        method: 'POST', headers: { 'X-API-Key': adminKey, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      const json = await res.json() as any;
      if (!res.ok) throw new Error(`${endpoint}: ${JSON.stringify(json)}`);
      return json;
    },
    async stop() {
      await stopProcess(server!.child);
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One statement on a connection of its own (a benchmark's schema created or dropped). */
export async function pgExecute(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
