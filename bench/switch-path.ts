// Switch path over HTTP on SQLite: authorize + cdr pairs per second, every CDR durable (group
// commit fsync) before it is answered (CONTRACT §6: >= 3,000 calls/s).
import autocannon from 'autocannon';
import { figure, startLedgerline, type BenchServer } from './util.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 256);
const CLIENTS = 200;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);

// Across runs too: a benchmark may drive the same server several times.
let seq = 0;

export interface SwitchFixture {
  switchKey: string;
  sipLogins: string[];
}

/** A plan, CLIENTS clients on it with money, and a switch key: what the switch path is driven with. */
export async function seedSwitchClients(server: BenchServer): Promise<SwitchFixture> {
  const { adminPost } = server;
  const { plan } = await adminPost('create-plan', { name: 'BENCH' });
  await adminPost('add-rates', { plan_id: plan.id, rates: [
    { prefix: '44', destination: 'UK', rate: '0.02', initblock: 60, billingblock: 6 },
    { prefix: '447', destination: 'UK Mobile', rate: '0.12', initblock: 60, billingblock: 6 },
    { prefix: '1', destination: 'USA', rate: '0.01', initblock: 6, billingblock: 6 },
  ] });
  const sipLogins: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = await adminPost('create-client', { plan_id: plan.id, balance: '100000' });
    sipLogins.push(c.sip.name);
  }
  const switchKey = (await adminPost('create-switch-key', { name: 'bench' })).api_key;
  return { switchKey, sipLogins };
}

export interface SwitchRun { pairsPerSecond: number; p99Ms: number; non2xx: number; errors: number }

/** authorize + cdr pairs from CONNECTIONS connections for `durationSeconds`. */
export async function driveSwitchPath(url: string, fx: SwitchFixture, durationSeconds = DURATION_S): Promise<SwitchRun> {
  const headers = { 'X-API-Key': fx.switchKey, 'Content-Type': 'application/json' };
  const result = await autocannon({
    url, connections: CONNECTIONS, duration: durationSeconds, pipelining: 1,
    requests: [
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=authorize', headers,
        setupRequest: (req: any, context: any) => {
          context.uniqueid = `bench-${process.pid}-${++seq}`;
          context.sip = fx.sipLogins[seq % fx.sipLogins.length];
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: '447575396991' });
          return req;
        },
      },
      {
        method: 'POST', path: '/switch-api/index.php?endpoint=cdr', headers,
        setupRequest: (req: any, context: any) => {
          req.body = JSON.stringify({ uniqueid: context.uniqueid, sip_login: context.sip, destination: '447575396991', answered_seconds: 37, disposition: 'ANSWERED' });
          return req;
        },
      },
    ],
  } as any);
  return { pairsPerSecond: Math.round(result.requests.average / 2), p99Ms: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

export async function benchSwitchPath(root: string): Promise<void> {
  const server = await startLedgerline(root, process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []);
  try {
    const fx = await seedSwitchClients(server);
    const run = await driveSwitchPath(server.url, fx);
    if (run.non2xx > 0 || run.errors > 0) throw new Error(`switch path: ${run.non2xx} non-2xx, ${run.errors} errors`);
    const verify = await fetch(`${server.url}/admin-api/index.php?endpoint=verify-ledger`, { headers: { 'X-API-Key': server.adminKey } }).then((r) => r.json()) as any;
    figure('switch authorize+cdr pairs/s (HTTP, SQLite)', run.pairsPerSecond, 'calls/s', 'target >= 3000; CDRs fsynced before answer');
    figure('switch request p99 latency', run.p99Ms, 'ms');
    figure('ledger verified after the run', verify.ok_ledger ? 'ok' : 'MISMATCH', '');
  } finally {
    await server.stop();
  }
}
