// Client API `me` throughput and p99 at 50 connections, next to a bare Fastify hello-world
// measured the same way in the same run (CONTRACT §6: >= 50%, p99 <= 10 ms).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { figure, load, startProcess, stopProcess } from './util.js';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);

export async function benchMe(root: string): Promise<void> {
  const hello = await startProcess(process.execPath, [path.join(root, 'bench/hello-server.mjs')], {}, /ready (\d+)/);
  const helloPort = /ready (\d+)/.exec(hello.output())![1];
  await load(`http://127.0.0.1:${helloPort}/`, { connections: CONNECTIONS, durationSeconds: 2 }); // warm-up
  const base = await load(`http://127.0.0.1:${helloPort}/`, { connections: CONNECTIONS, durationSeconds: DURATION_S });
  await stopProcess(hello.child);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-'));
  const adminKey = `bench-admin-${crypto.randomBytes(16).toString('hex')}`;
  const port = 20000 + crypto.randomInt(20000);
  const server = await startProcess(process.execPath, [path.join(root, 'dist/src/main.js')], {
    PORT: String(port), DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`, ADMIN_API_KEY: adminKey,
    LEDGERLINE_SECRET: 'bench-secret', AGI_PORT: '0', LOG_LEVEL: 'info',
  }, /Ledgerline listening/);
  try {
    const url = `http://127.0.0.1:${port}`;
    const adminPost = async (endpoint: string, body: unknown) => {
      const res = await fetch(`${url}/admin-api/index.php?endpoint=${endpoint}`, {
        method: 'POST', headers: { 'X-API-Key': adminKey, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      const json = await res.json() as any;
      if (!res.ok) throw new Error(`${endpoint}: ${JSON.stringify(json)}`);
      return json;
    };
    const { plan } = await adminPost('create-plan', { name: 'BENCH' });
    const client = await adminPost('create-client', { plan_id: plan.id, balance: '10' });
    const target = `${url}/client-api/index.php?endpoint=me`;
    const headers = { 'X-API-Key': client.api_key };
    await load(target, { connections: CONNECTIONS, durationSeconds: 2, headers }); // warm-up
    const me = await load(target, { connections: CONNECTIONS, durationSeconds: DURATION_S, headers });
    if (me.errors > 0 || me.non2xx > 0) throw new Error(`me: ${me.errors} errors, ${me.non2xx} non-2xx responses`);
    figure('fastify hello-world requests/s (50 conns)', Math.round(base.requestsPerSecond), 'req/s');
    figure('client-api me requests/s (50 conns)', Math.round(me.requestsPerSecond), 'req/s',
      `${(100 * me.requestsPerSecond / base.requestsPerSecond).toFixed(1)}% of hello-world (target >= 50%)`);
    figure('client-api me p99 latency (50 conns)', me.p99Ms, 'ms', 'target <= 10 ms');
    figure('client-api me p50 latency (50 conns)', me.p50Ms, 'ms');
  } finally {
    await stopProcess(server.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
