// Client API `me` throughput and p99 at 50 connections, next to a bare Fastify hello-world
// measured the same way in the same run (CONTRACT §6: >= 50%, p99 <= 10 ms).
import path from 'node:path';
import { figure, load, startLedgerline, startProcess, stopProcess } from './util.js';

const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 4);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Both servers run side by side and are measured in alternating rounds, so drift in the
 * machine's speed (shared hosts vary by tens of percent within a minute) hits both alike;
 * the figures are the medians of the rounds.
 */
export async function benchMe(root: string): Promise<void> {
  const hello = await startProcess(process.execPath, [path.join(root, 'bench/hello-server.mjs')], {}, /ready (\d+)/);
  const helloUrl = `http://127.0.0.1:${/ready (\d+)/.exec(hello.output())![1]}/`;
  const server = await startLedgerline(root);
  try {
    const { url, adminPost } = server;
    const { plan } = await adminPost('create-plan', { name: 'BENCH' });
    const client = await adminPost('create-client', { plan_id: plan.id, balance: '10' });
    const target = `${url}/client-api/index.php?endpoint=me`;
    const headers = { 'X-API-Key': client.api_key };
    await load(helloUrl, { connections: CONNECTIONS, durationSeconds: 2 }); // warm-up
    await load(target, { connections: CONNECTIONS, durationSeconds: 2, headers });
    const base: number[] = [];
    const me: number[] = [];
    const p99: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      base.push((await load(helloUrl, { connections: CONNECTIONS, durationSeconds: DURATION_S })).requestsPerSecond);
      const r = await load(target, { connections: CONNECTIONS, durationSeconds: DURATION_S, headers });
      if (r.errors > 0 || r.non2xx > 0) throw new Error(`me: ${r.errors} errors, ${r.non2xx} non-2xx responses`);
      me.push(r.requestsPerSecond);
      p99.push(r.p99Ms);
    }
    const ratios = base.map((b, i) => me[i] / b);
    figure('fastify hello-world requests/s (50 conns)', Math.round(median(base)), 'req/s', `median of ${ROUNDS} rounds of ${DURATION_S} s`);
    figure('client-api me requests/s (50 conns)', Math.round(median(me)), 'req/s',
      `${(100 * median(ratios)).toFixed(1)}% of hello-world, median of per-round ratios ${ratios.map((x) => (100 * x).toFixed(0) + '%').join(' ')} (target >= 50%)`);
    figure('client-api me p99 latency (50 conns)', median(p99), 'ms', `worst round ${Math.max(...p99)} ms; target <= 10 ms`);
  } finally {
    await server.stop();
    await stopProcess(hello.child);
  }
}
