// A server killed with SIGKILL in the middle of a 2,000-recipient campaign sent over SMPP, then
// started again: every recipient ends in exactly one final state, the SMSC received no message
// twice, the charges are the attempts, and the ledger holds. On PostgreSQL two instances share
// the campaign, one of them is killed, and still nothing is sent twice. The servers are
// processes of their own; the in-process test server (which sends nothing itself,
// SMS_DISPATCH=0) sets up the accounts and reads the database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kill, startChild, type Child } from '../helpers/child-server.js';
import { createClient, createPlan, isPostgres, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { startSmsc, type TestSmsc } from '../helpers/smsc.js';
import { until } from '../helpers/until.js';

const RECIPIENTS = 2000;

describe('SMS: a server killed mid-campaign (kill -9)', () => {
  let smsc: TestSmsc;
  let t: TestServer;
  let client: TestClient;
  const children: Child[] = [];
  let providers: string;

  before(async () => {
    smsc = await startSmsc();
    // 400 a second: the campaign takes about five seconds, long enough to be cut in the middle.
    providers = JSON.stringify([{
      code: 'cryptosms', name: 'CryptoSMS', adapter: 'smpp', url: `smpp://127.0.0.1:${smsc.port}`,
      system_id: 'ledgerline', password: 'secret', window: 20, tps: 400, response_timeout_ms: 1000,
    }]);
    t = await startTestServer({ SMS_DISPATCH: '0', SMS_PROVIDERS: providers });
    await t.admin('set-sms-rate', { provider: 'cryptosms', prefix: '44', rate: '0.01' });
    client = await createClient(t, (await createPlan(t)).id, { balance: '100' });
  });
  after(async () => {
    for (const c of children) await kill(c, 'SIGKILL');
    await t?.close();
    await smsc?.close();
  });

  const child = async () => {
    const c = await startChild(t, { SMS_PROVIDERS: providers, SMS_HANDOVER_LEASE_SECONDS: '2' });
    children.push(c);
    return c;
  };

  const messagesOf = (campaignId: number) => t.server.ctx.db.selectFrom('sms_messages')
    .select(['id', 'phone', 'status', 'error_code', 'charged_at', 'cost_micros']).where('campaign_id', '=', campaignId).execute();

  async function campaign(url: string, from: number): Promise<{ id: number; phones: string[] }> {
    const phones = Array.from({ length: RECIPIENTS }, (_, i) => `+447700${String(from + i).padStart(6, '0')}`);
    const res = await fetch(`${url}/sms-api/index.php?endpoint=bulk`, {
      method: 'POST', headers: { 'X-API-Key': client.key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'Campaign', phones }),
    });
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.recipients_queued, RECIPIENTS);
    return { id: body.campaign_id, phones };
  }

  /** Every recipient final once, nothing received twice, the charges the attempts, the ledger sound. */
  async function checkOutcome(campaignId: number, phones: string[]): Promise<void> {
    const rows = await until('every message final', () => messagesOf(campaignId),
      (ms) => ms.every((m) => m.status === 'DELIVERED' || m.status === 'FAILED'), 60_000,
      (ms) => JSON.stringify(ms.reduce<Record<string, number>>((n, m) => { const k = `${m.status} ${m.error_code}`; n[k] = (n[k] ?? 0) + 1; return n; }, {})));
    assert.equal(rows.length, RECIPIENTS);
    assert.equal(new Set(rows.map((m) => m.phone)).size, RECIPIENTS, 'one message per recipient');
    const ours = new Set(phones.map((p) => p.slice(1)));
    const received = smsc.submitted.filter((s) => ours.has(s.destination)).map((s) => s.destination);
    assert.equal(new Set(received).size, received.length, 'the SMSC received no message twice');
    const receivedSet = new Set(received);
    for (const m of rows) {
      if (m.status === 'DELIVERED') assert.ok(receivedSet.has(m.phone.slice(1)), `${m.phone} delivered but never received`);
      // Failed only for an unknown fate: the attempt interrupted by the kill.
      if (m.status === 'FAILED') assert.equal(m.error_code, 'FATE_UNKNOWN', JSON.stringify(m));
    }
    const ids = rows.map((m) => String(m.id));
    const charges = await t.server.ctx.db.selectFrom('ledger_postings').select(['ref_id', 'amount_micros'])
      .where('kind', '=', 'sms').where('ref_type', '=', 'sms').where('ref_id', 'in', ids).execute();
    const attempts = rows.filter((m) => m.charged_at !== null);
    assert.equal(attempts.length, RECIPIENTS, 'every message was attempted');
    assert.equal(charges.length, attempts.length, 'one charge per attempt');
    assert.equal(new Set(charges.map((c) => c.ref_id)).size, charges.length, 'no message charged twice');
    assert.ok(charges.every((c) => Number(c.amount_micros) === -10_000));
    const verify = await t.call('admin', 'verify-ledger');
    assert.equal(verify.body.ok_ledger, true, JSON.stringify(verify.body));
  }

  it('one server killed and started again: every recipient final once, nothing sent twice', { timeout: 180_000 }, async () => {
    const first = await child();
    const { id, phones } = await campaign(first.url, 0);
    await until('the first messages', async () => smsc.submitted.length, (n) => n >= 400, 60_000);
    await kill(first, 'SIGKILL');
    const sentBeforeKill = smsc.submitted.length;
    assert.ok(sentBeforeKill < RECIPIENTS, `the campaign was cut in the middle (${sentBeforeKill} sent)`);
    await child();
    await checkOutcome(id, phones);
  });

  it('PostgreSQL: two instances share a campaign; one killed, nothing is sent twice', { skip: !isPostgres() && 'PostgreSQL only', timeout: 180_000 }, async () => {
    const a = await child();
    const b = await child();
    const bindsBefore = new Set(smsc.submitted.map((s) => s.bind));
    const { id, phones } = await campaign(a.url, 100_000);
    await until('the first messages', async () => smsc.submitted.filter((s) => !bindsBefore.has(s.bind)).length, (n) => n >= 600, 60_000);
    const binds = new Set(smsc.submitted.filter((s) => !bindsBefore.has(s.bind)).map((s) => s.bind));
    assert.ok(binds.size >= 2, 'both instances sent part of the campaign');
    await kill(a, 'SIGKILL');
    await checkOutcome(id, phones);
    await kill(b, 'SIGTERM');
  });
});
