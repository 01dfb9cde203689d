// An SMS provider reached over HTTP (Kannel's sendsms shape), played by a fake on loopback that
// checks the credentials and calls the delivery-report URL back: what it receives (coding,
// sender, number, text), the report applied once, forged and tampered reports refused,
// a repeated one changing nothing, a refusal of the provider's recorded.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/net.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

interface Received { to: string; from: string | null; text: string; coding: string; dlrUrl: string }

describe('SMS over an HTTP gateway', () => {
  let fake: http.Server;
  const received: Received[] = [];
  const callbacks: Array<{ url: string; status: number }> = [];
  let t: TestServer;
  let client: TestClient;

  before(async () => {
    fake = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://fake');
      if (url.pathname !== '/cgi-bin/sendsms') { res.writeHead(404).end(); return; }
      if (url.searchParams.get('username') !== 'kuser' || url.searchParams.get('password') !== 'kpass') {
        res.writeHead(403).end('Authorization failed for sendsms');
        return;
      }
      const to = url.searchParams.get('to')!;
      if (to.endsWith('9999')) { res.writeHead(400).end('Invalid receiver'); return; }
      const dlrUrl = url.searchParams.get('dlr-url')!;
      received.push({ to, from: url.searchParams.get('from'), text: url.searchParams.get('text')!, coding: url.searchParams.get('coding')!, dlrUrl });
      res.writeHead(202).end('0: Accepted for delivery');
      // The SMSC's report a moment later: Kannel puts the outcome in place of %d.
      setTimeout(() => {
        const report = dlrUrl.replace('%d', to.endsWith('0000') ? '2' : '1');
        void fetch(report).then((r) => { callbacks.push({ url: report, status: r.status }); });
      }, 20);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', () => resolve()));
    const port = await freePort();
    t = await startTestServer({
      PORT: String(port),
      SMS_PROVIDERS: JSON.stringify([{
        code: 'kannel', name: 'Kannel', adapter: 'http',
        send_url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/cgi-bin/sendsms`,
        username: 'kuser', password: 'kpass', callback_base_url: `http://127.0.0.1:${port}`, dlr_secret: 'a-long-enough-dlr-secret',
      }]),
    });
    await t.admin('set-sms-rate', { provider: 'kannel', prefix: '44', rate: '0.03' });
    client = await createClient(t, (await createPlan(t)).id, { balance: '10' });
  });
  after(async () => {
    await t?.close();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  const send = (body: Record<string, unknown>) => t.call('sms', 'send', { key: client.key, body: { provider: 'kannel', ...body } });
  async function statusOf(id: number, until: (s: string) => boolean): Promise<any> {
    for (let i = 0; i < 200; i++) {
      const b = (await t.call('sms', 'status', { key: client.key, query: { id } })).body;
      if (until(b.status)) return b;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`SMS ${id} stayed as it was`);
  }

  it('hands GSM-7 and UCS-2 texts over with their coding, sender and number; the callback delivers them once', async () => {
    const gsm = await send({ phone: '+447700900101', sender_id: 'MyBrand', message: 'Hello [world] €5' });
    assert.equal(gsm.status, 200, JSON.stringify(gsm.body));
    assert.equal(gsm.body.status, 'SENT_TO_PROVIDER');
    const ucs = await send({ phone: '+447700900102', message: 'Привет 😀' });
    const g = received.find((r) => r.to === '+447700900101')!;
    assert.deepEqual([g.from, g.text, g.coding], ['MyBrand', 'Hello [world] €5', '0']);
    const u = received.find((r) => r.to === '+447700900102')!;
    assert.deepEqual([u.from, u.text, u.coding], [null, 'Привет 😀', '2']);
    assert.equal((await statusOf(gsm.body.sms_id, (s) => s !== 'SENT_TO_PROVIDER')).status, 'DELIVERED');
    assert.equal((await statusOf(ucs.body.sms_id, (s) => s !== 'SENT_TO_PROVIDER')).status, 'DELIVERED');

    const undelivered = await send({ phone: '+447700900000', message: 'lost' });
    const failed = await statusOf(undelivered.body.sms_id, (s) => s !== 'SENT_TO_PROVIDER');
    assert.deepEqual([failed.status, failed.error_code], ['FAILED', 'UNDELIVERED']);
  });

  it('a forged or tampered report answers 403 and changes nothing; a repeated one changes nothing more', async () => {
    const res = await send({ phone: '+447700900103', message: 'sign me' });
    const id = res.body.sms_id;
    await statusOf(id, (s) => s === 'DELIVERED');
    const genuine = received.find((r) => r.to === '+447700900103')!.dlrUrl;
    const pending = await send({ phone: '+447700900104', message: 'not yet' });
    const other = pending.body.sms_id;
    const forged = [
      genuine.replace('%d', '2').replace(/sig=[0-9a-f]+/, `sig=${'0'.repeat(64)}`),
      genuine.replace('%d', '2').replace(`id=${id}`, `id=${other}`),
      genuine.replace('%d', '2').replace(/&sig=[0-9a-f]+/, ''),
    ];
    for (const url of forged) {
      const r = await fetch(url);
      assert.equal(r.status, 403, url);
      assert.equal((await r.json() as any).code, 'BAD_SIGNATURE');
    }
    const repeat = await fetch(genuine.replace('%d', '2'));
    assert.equal(repeat.status, 200);
    assert.equal((await statusOf(id, () => true)).status, 'DELIVERED', 'a final status stays');
    assert.equal((await statusOf(other, (s) => s !== 'SENT_TO_PROVIDER')).status, 'DELIVERED');
  });

  it('a message the gateway refuses ends FAILED with its HTTP status; the attempt is charged', async () => {
    const res = await send({ phone: '+447700909999', message: 'refused' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.status, res.body.error_code], ['FAILED', 'HTTP_400']);
    assert.equal(res.body.cost, '0.0300');
  });
});
