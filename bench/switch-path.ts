// Switch path over HTTP on SQLite: authorize + cdr pairs per second, every CDR durable (group
// commit fsync) before it is answered (CONTRACT §6: >= 3,000 calls/s).
import autocannon from 'autocannon';
import { figure, startLedgerline } from './util.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 256);
const CLIENTS = 200;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);

export async function benchSwitchPath(root: string): Promise<void> {
  const server = await startLedgerline(root, process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []);
  try {
    const { url, adminKey, adminPost } = server;
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
    const headers = { 'X-API-Key': switchKey, 'Content-Type': 'application/json' };
    let seq = 0;
    const result = await autocannon({
      url, connections: CONNECTIONS, duration: DURATION_S, pipelining: 1,
      requests: [
        {
          method: 'POST', path: '/switch-api/index.php?endpoint=authorize', headers,
          setupRequest: (req: any, context: any) => {
            context.uniqueid = `bench-${process.pid}-${++seq}`;
            context.sip = sipLogins[seq % sipLogins.length];
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
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`switch path: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const verify = await fetch(`${url}/admin-api/index.php?endpoint=verify-ledger`, { headers: { 'X-API-Key': adminKey } }).then((r) => r.json()) as any;
    figure('switch authorize+cdr pairs/s (HTTP, SQLite)', Math.round(result.requests.average / 2), 'calls/s', 'target >= 3000; CDRs fsynced before answer');
    figure('switch request p99 latency', result.latency.p99, 'ms');
    figure('ledger verified after the run', verify.ok_ledger ? 'ok' : 'MISMATCH', '');
  } finally {
    await server.stop();
  }
}
