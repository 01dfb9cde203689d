// The server as `npm start` runs it, a process of its own on a test server's database: for the
// tests that kill it (SIGKILL mid-traffic) and start it again on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { buildIsFresh } from '../../scripts/build-freshness.mjs';
import { freePort } from './net.js';
import type { TestServer } from './server.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/**
 * Node's arguments that start the server: the build, as `npm start` runs it, when dist/ is newer
 * than every source (in CI, where the quick-start check built it); else the sources through tsx.
 */
export function serverArgs(): string[] {
  return buildIsFresh() ? [path.join(root, 'dist', 'src', 'main.js')] : ['--import', 'tsx', path.join(root, 'src', 'main.ts')];
}

export interface Child { url: string; process: ChildProcess; output: () => string }

/** Started on `t`'s database (same secret, data directory and admin key), once it answers /readyz. */
export async function startChild(t: TestServer, env: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, serverArgs(), {
    cwd: root,
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: t.databaseUrl, DATABASE_SCHEMA: t.schema,
      ADMIN_API_KEY: t.adminKey, LEDGERLINE_SECRET: t.config.secret, LEDGERLINE_DATA_DIR: t.config.dataDir,
      AGI_PORT: '0', LOG_LEVEL: 'error', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`the server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, process: child, output: () => output };
}

export async function kill(child: Child, signal: NodeJS.Signals): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  await new Promise<void>((resolve) => { child.process.once('exit', () => resolve()); child.process.kill(signal); });
}
