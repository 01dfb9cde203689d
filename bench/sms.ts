// Bulk SMS (CONTRACT §6): seconds to accept a 100,000-recipient campaign (target <= 3 s), and
// messages a second the dispatcher hands to an SMPP server on loopback (target >= 1,000/s),
// every message charged and received once. SQLite, the built server (dist/).
import { figure, startLedgerline } from './util.js';
import { startSmsc } from '../test/helpers/smsc.js';

const ACCEPT_RECIPIENTS = 100_000;
const DISPATCH_RECIPIENTS = Number(process.env.BENCH_SMS_DISPATCH ?? 20_000);

const numbers = (from: number, count: number) => Array.from({ length: count }, (_, i) => `+447${String(from + i).padStart(9, '0')}`);

export async function benchSms(root: string): Promise<void> {
  const smsc = await startSmsc();
  smsc.receipts = 'none';
  const server = await startLedgerline(root, [], {
    env: {
      SMS_PROVIDERS: JSON.stringify([{
        code: 'cryptosms', name: 'CryptoSMS', adapter: 'smpp', url: `smpp://127.0.0.1:${smsc.port}`,
        system_id: 'ledgerline', password: 'secret', window: 200, tps: 100_000,
      }]),
    },
  });
  try {
    await server.adminPost('set-sms-rate', { provider: 'cryptosms', prefix: '44', rate: '0.0001' });
    const { plan } = await server.adminPost('create-plan', { name: 'SMS-BENCH' });
    const bulk = async (key: string, phones: string[], scheduledAt?: string) => {
      const startedAt = performance.now();
      const res = await fetch(`${server.url}/sms-api/index.php?endpoint=bulk`, {
        method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ message: 'Bench campaign', phones, ...(scheduledAt ? { scheduled_at: scheduledAt } : {}) }),
      });
      const json = await res.json() as any;
      if (!res.ok || json.recipients_queued !== phones.length) throw new Error(`bulk: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
      return { seconds: (performance.now() - startedAt) / 1000, campaignId: json.campaign_id };
    };

    // Accepting: a campaign an hour ahead, so that nothing is sent meanwhile.
    const accepting = await server.adminPost('create-client', { plan_id: plan.id, balance: '1000' });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const accepted = await bulk(accepting.api_key, numbers(0, ACCEPT_RECIPIENTS), later);
    figure('bulk SMS: 100,000-recipient campaign accepted', accepted.seconds.toFixed(2), 's', 'target <= 3 s; numbers validated, de-duplicated and priced; one row each');

    // Dispatching: a campaign for now, timed until the SMSC has every message.
    const sending = await server.adminPost('create-client', { plan_id: plan.id, balance: '1000' });
    const before = smsc.submitted.length;
    const startedAt = performance.now();
    await bulk(sending.api_key, numbers(500_000, DISPATCH_RECIPIENTS));
    const by = Date.now() + 300_000;
    while (smsc.submitted.length - before < DISPATCH_RECIPIENTS) {
      if (Date.now() > by) throw new Error(`dispatch: ${smsc.submitted.length - before} of ${DISPATCH_RECIPIENTS} after 300 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const received = new Set(smsc.submitted.slice(before).map((s) => s.destination));
    if (received.size !== DISPATCH_RECIPIENTS) throw new Error(`dispatch: ${received.size} distinct numbers of ${DISPATCH_RECIPIENTS}`);
    figure('bulk SMS: dispatched to an SMPP server on loopback', Math.round(DISPATCH_RECIPIENTS / seconds), 'msgs/s',
      `target >= 1000; ${DISPATCH_RECIPIENTS} messages, each charged and received once, in ${seconds.toFixed(1)} s`);
    const verify = await (await fetch(`${server.url}/admin-api/index.php?endpoint=verify-ledger`, { headers: { 'X-API-Key': server.adminKey } })).json() as any;
    if (!verify.ok_ledger) throw new Error(`ledger MISMATCH after the SMS bench: ${JSON.stringify(verify)}`);
  } finally {
    await server.stop();
    await smsc.close();
  }
}
