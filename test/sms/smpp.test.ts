// The SMPP adapter against an SMSC on loopback (the smpp package's server side): what arrives
// (encoding, sender, destination, concatenation) for GSM-7, UCS-2 with emoji, 161 and 71
// characters; receipts from TLVs and from text; a dropped connection and an SMSC that stops
// answering, survived without loss and without sending anything twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import pino from 'pino';
import { SmppAdapter } from '../../src/sms/providers/smpp.js';
import type { DeliveryReport } from '../../src/sms/providers/adapter.js';
import { reassemble, startSmsc, type TestSmsc } from '../helpers/smsc.js';
import { until } from '../helpers/until.js';

describe('SMS over SMPP', () => {
  let smsc: TestSmsc;
  let t: TestServer;
  let client: TestClient;

  const send = (body: Record<string, unknown>) => t.call('sms', 'send', { key: client.key, body });
  const status = async (id: number) => (await t.call('sms', 'status', { key: client.key, query: { id } })).body;

  const partsTo = (destination: string) => smsc.submitted.filter((s) => s.destination === destination);

  before(async () => {
    smsc = await startSmsc();
    t = await startTestServer({
      SMS_PROVIDERS: JSON.stringify([{
        code: 'cryptosms', name: 'CryptoSMS', adapter: 'smpp', url: `smpp://127.0.0.1:${smsc.port}`,
        system_id: 'ledgerline', password: 'secret', window: 4, tps: 500, response_timeout_ms: 500,
      }]),
    });
    await t.admin('set-sms-rate', { provider: 'cryptosms', prefix: '44', rate: '0.04' });
    client = await createClient(t, (await createPlan(t)).id, { balance: '100' });
  });
  after(async () => {
    await t?.close();
    await smsc?.close();
  });

  it('a 161-character GSM-7 text arrives as two concatenated parts, data_coding 0, with its sender and destination', async () => {
    // 16 characters, 3 of them extension characters (two septets each), then 142: 161 septets.
    const text = 'Hello € [world] ' + 'x'.repeat(142);
    const res = await send({ phone: '+447700900001', sender_id: 'MyBrand', message: text });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'SENT_TO_PROVIDER');
    assert.equal(res.body.encoding, 'GSM-7');
    assert.equal(res.body.segments, 2);
    const parts = partsTo('447700900001');
    assert.equal(parts.length, 2);
    for (const p of parts) {
      assert.equal(p.dataCoding, 0);
      assert.equal(p.esmClass & 0x40, 0x40);
      assert.equal(p.source, 'MyBrand');
      assert.equal(p.sourceTon, 5);
      assert.deepEqual([p.udh![0], p.udh![1], p.udh![3]], [0x00, 0x03, 2]);
    }
    assert.equal(parts[0].udh![2], parts[1].udh![2], 'one concatenation reference');
    assert.equal(reassemble(parts), text);
    const done = await until('the receipt', () => status(res.body.sms_id), (b) => b.status !== 'SENT_TO_PROVIDER');
    assert.equal(done.status, 'DELIVERED');
  });

  it('a 160-character GSM-7 text is one part without UDH; UCS-2 with emoji, 71 units, two parts of data_coding 8', async () => {
    const one = await send({ phone: '+447700900002', message: 'a'.repeat(160) });
    assert.equal(one.body.segments, 1);
    const single = partsTo('447700900002');
    assert.equal(single.length, 1);
    assert.equal(single[0].udh, null);
    assert.equal(single[0].esmClass & 0x40, 0);
    assert.equal(single[0].text, 'a'.repeat(160));

    const text = 'Привет 😀 ' + 'ж'.repeat(71 - 10);
    const res = await send({ phone: '+447700900003', sender_id: '447700900000', message: text });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.encoding, 'UCS-2');
    assert.equal(res.body.segments, 2);
    const parts = partsTo('447700900003');
    assert.equal(parts.length, 2);
    assert.ok(parts.every((p) => p.dataCoding === 8 && p.sourceTon === 1 && p.source === '447700900000'));
    assert.equal(reassemble(parts), text);
  });

  it('a receipt written only as text (id:… stat:UNDELIV) moves the message to FAILED', async () => {
    smsc.receipts = 'text';
    smsc.outcome = (d) => (d === '447700900004' ? 'UNDELIV' : 'DELIVRD');
    try {
      const res = await send({ phone: '+447700900004', message: 'lost' });
      const done = await until('the receipt', () => status(res.body.sms_id), (b) => b.status !== 'SENT_TO_PROVIDER');
      assert.equal(done.status, 'FAILED');
      assert.equal(done.error_code, 'UNDELIVERED');
    } finally {
      smsc.receipts = 'tlv';
      smsc.outcome = () => 'DELIVRD';
    }
  });

  it('a dropped connection is bound again, and the next messages go through once each', async () => {
    const binds = smsc.binds;
    smsc.dropConnections();
    const sent = await Promise.all(['+447700900010', '+447700900011', '+447700900012'].map((phone) => send({ phone, message: `after the drop ${phone}` })));
    for (const res of sent) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'SENT_TO_PROVIDER');
    }
    assert.ok(smsc.binds > binds, 'bound again');
    for (const d of ['447700900010', '447700900011', '447700900012']) assert.equal(partsTo(d).length, 1, d);
  });

  it('an SMSC that stops answering: the message stays QUEUED with its fate unknown, is never sent twice, and later ones go through', async () => {
    smsc.silent = true;
    let res;
    try {
      res = await send({ phone: '+447700900020', message: 'into the void' });
    } finally {
      smsc.silent = false;
    }
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'QUEUED');
    assert.equal(res.body.error_code, 'PROVIDER_UNAVAILABLE');
    const after = await send({ phone: '+447700900021', message: 'answered' });
    assert.equal(after.body.status, 'SENT_TO_PROVIDER');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(partsTo('447700900020').length, 1, 'handed over once, not again');
    assert.equal((await status(res.body.sms_id)).status, 'QUEUED');
  });

  it('a campaign goes through the window and the throughput limit, every message once', async () => {
    const phones = Array.from({ length: 60 }, (_, i) => `+4477009001${String(i).padStart(2, '0')}`);
    const res = await t.call('sms', 'bulk', { key: client.key, body: { message: 'campaign', phones } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await until('the campaign', async () => (await t.server.ctx.db.selectFrom('sms_messages').select('status')
      .where('campaign_id', '=', res.body.campaign_id).execute()), (rows) => rows.every((r) => r.status === 'DELIVERED'));
    for (const phone of phones) assert.equal(partsTo(phone.slice(1)).length, 1, phone);
  });
});

describe('SMPP adapter: shutdown', () => {
  it('a receipt being applied when the adapter closes is answered before the connection goes', async () => {
    const smsc = await startSmsc();
    try {
      let seen!: (report: DeliveryReport) => void;
      const reportSeen = new Promise<DeliveryReport>((resolve) => { seen = resolve; });
      let apply!: () => void;
      const adapter = new SmppAdapter({
        code: 'carrier', name: 'Carrier', adapter: 'smpp', url: `smpp://127.0.0.1:${smsc.port}`, systemId: 'ledgerline',
        password: 'secret', systemType: '', window: 4, tps: 100, responseTimeoutMs: 2000,
      }, {
        log: pino({ level: 'silent' }),
        // Applying the receipt takes until the test says so: it is in flight when close() begins.
        onReport: (report) => { seen(report); return new Promise((resolve) => { apply = () => resolve('done'); }); },
      });
      const sent = await adapter.submit({ id: 1, phone: '+447700900009', senderId: 'Brand', text: 'hello', encoding: 'GSM-7' });
      assert.equal(sent.accepted, true);
      const report = await reportSeen;
      assert.equal(report.delivered, true);
      const closed = adapter.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      apply();
      await closed;
      assert.deepEqual(smsc.acknowledged, [report.providerMessageId], 'the SMSC got its answer before the connection closed');
    } finally {
      await smsc.close();
    }
  });
});
