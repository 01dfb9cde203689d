// The HTTP edge under slow and greedy callers: a request must arrive within its time, idle
// keep-alive connections are closed, one address cannot take every connection, and a body
// over the limit answers 413 in the API family's envelope. Limits are set small through the
// environment so each case takes about a second.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { capturedLog } from '../helpers/log.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectFrom, getFrom, holdConnections, sleep, type Held } from './sockets.js';

const portOf = (t: TestServer) => Number(new URL(t.url).port);

describe('HTTP request time bounds', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      HTTP_REQUEST_TIMEOUT_SECONDS: '1',
      HTTP_HEADERS_TIMEOUT_SECONDS: '1',
      HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '1',
      HTTP_BODY_LIMIT_BYTES: '4096',
    });
  });
  after(async () => { await t?.close(); });

  it('cuts off a request whose body trickles in a byte at a time', async () => {
    const conn = await connectFrom('127.0.0.2', portOf(t));
    const started = Date.now();
    conn.socket.write('POST /client-api/index.php?endpoint=me HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const trickle = setInterval(() => { if (!conn.socket.destroyed) conn.socket.write(' '); }, 200);
    try {
      const closedAfterMs = await conn.closedWithin(4000, started);
      assert.notEqual(closedAfterMs, null, 'a 1000-byte body sent at 5 bytes/s must not hold the connection');
      assert.match(conn.received(), /^HTTP\/1\.1 408/, 'answered 408 Request Timeout');
      assert.ok(closedAfterMs! >= 900, `closed after ${closedAfterMs} ms, before the request timeout`);
      assert.ok(closedAfterMs! <= 3000, `closed after ${closedAfterMs} ms`);
    } finally {
      clearInterval(trickle);
      conn.socket.destroy();
    }
  });

  it('cuts off request headers that never end', async () => {
    const conn = await connectFrom('127.0.0.2', portOf(t));
    const started = Date.now();
    conn.socket.write('GET /healthz HTTP/1.1\r\n');
    let n = 0;
    const trickle = setInterval(() => { if (!conn.socket.destroyed) conn.socket.write(`X-Slow-${n++}: 1\r\n`); }, 200);
    try {
      const closedAfterMs = await conn.closedWithin(4000, started);
      assert.notEqual(closedAfterMs, null, 'headers sent a line every 200 ms must not hold the connection');
      assert.ok(closedAfterMs! <= 3000, `closed after ${closedAfterMs} ms`);
    } finally {
      clearInterval(trickle);
      conn.socket.destroy();
    }
  });

  it('closes a connection that never sends a request', async () => {
    const conn = await connectFrom('127.0.0.2', portOf(t));
    const closedAfterMs = await conn.closedWithin(4000);
    conn.socket.destroy();
    assert.notEqual(closedAfterMs, null, 'a silent connection must not be held');
    assert.ok(closedAfterMs! <= 3000, `closed after ${closedAfterMs} ms`);
  });

  it('closes a keep-alive connection left idle after its answer', async () => {
    const conn = await connectFrom('127.0.0.2', portOf(t));
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    for (let i = 0; i < 50 && !conn.received().includes('{"ok":true}'); i++) await sleep(20);
    assert.match(conn.received(), /^HTTP\/1\.1 200/);
    const answeredAt = Date.now();
    const closedAfterMs = await conn.closedWithin(4000, answeredAt);
    conn.socket.destroy();
    assert.notEqual(closedAfterMs, null, 'an idle keep-alive connection must be closed');
    assert.ok(closedAfterMs! <= 2500, `closed after ${closedAfterMs} ms`);
  });

  it('answers a body over the limit with 413 BODY_TOO_LARGE in each family\'s envelope', async () => {
    const rates = Array.from({ length: 100 }, (_, i) => ({ prefix: String(1000 + i), destination: 'Somewhere far away', rate: '0.0100' }));
    const admin = await t.call('admin', 'add-rates', { body: { plan_id: 1, rates } });
    assert.equal(admin.status, 413, JSON.stringify(admin.body));
    assert.equal(admin.body.success, false);
    assert.equal(admin.body.code, 'BODY_TOO_LARGE');
    assert.equal(admin.body.field, 'body');
    assert.match(admin.body.error, /^body: .*smaller parts/);

    const reseller = await t.call('reseller', 'transfer', { key: 'll_unknown', rawBody: JSON.stringify({ login: 'x', amount: '1', pad: 'x'.repeat(5000) }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(reseller.status, 413);
    assert.deepEqual(Object.keys(reseller.body).sort(), ['code', 'error', 'field', 'ok']);
    assert.equal(reseller.body.ok, false);
    assert.equal(reseller.body.code, 'BODY_TOO_LARGE');

    // Without a Content-Length the limit is counted as the body arrives.
    const res = await fetch(`${t.url}/client-api/index.php?endpoint=redeem-voucher`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': 'll_unknown' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"voucher":"${'1'.repeat(6000)}"}`));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    const body = await res.json();
    assert.equal(body.success, false);
    assert.equal(body.code, 'BODY_TOO_LARGE');
  });

  it('still answers ordinary requests', async () => {
    const res = await getFrom('127.0.0.3', `${t.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

describe('HTTP connection bounds', () => {
  let t: TestServer;
  const captured = capturedLog();
  const held: Held[] = [];
  before(async () => {
    t = await startTestServer({ HTTP_MAX_CONNECTIONS_PER_ADDRESS: '4', HTTP_MAX_CONNECTIONS: '10' }, { log: captured.log });
  });
  after(async () => {
    for (const h of held) h.socket.destroy();
    await t?.close();
  });

  it('refuses connections over the per-address limit while other addresses are served', async () => {
    held.push(...await holdConnections(4, '127.0.0.2', portOf(t)));
    const extra = await connectFrom('127.0.0.2', portOf(t));
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.notEqual(await extra.closedWithin(2000), null, 'the fifth connection from one address is closed');
    assert.equal(extra.received(), '', 'and is not answered');
    await assert.rejects(getFrom('127.0.0.2', `${t.url}/healthz`));

    const other = await getFrom('127.0.0.3', `${t.url}/healthz`);
    assert.equal(other.status, 200);
    assert.deepEqual(JSON.parse(other.body), { ok: true });

    assert.ok(
      captured.lines.some((l) => l.remote === '127.0.0.2' && /connection refused/i.test(l.msg) && l.limit === 4),
      `refusal logged: ${JSON.stringify(captured.lines)}`,
    );

    // A connection given back makes room for the next one from that address.
    held.shift()!.socket.destroy();
    await sleep(100);
    const again = await getFrom('127.0.0.2', `${t.url}/healthz`);
    assert.equal(again.status, 200);
  });

  it('refuses connections over the total limit', async () => {
    // 3 still held from 127.0.0.2; 4 more from 127.0.0.3 and 3 from 127.0.0.4 make 10.
    held.push(...await holdConnections(4, '127.0.0.3', portOf(t)));
    held.push(...await holdConnections(3, '127.0.0.4', portOf(t)));
    await sleep(50);
    await assert.rejects(getFrom('127.0.0.5', `${t.url}/healthz`));
    for (const h of held.splice(0)) h.socket.destroy();
    await sleep(100);
    const res = await getFrom('127.0.0.5', `${t.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

describe('HTTP body limit default', () => {
  let t: TestServer;
  before(async () => { t = await startTestServer(); });
  after(async () => { await t?.close(); });

  it('admits the largest add-rates batch, pretty-printed, with the longest destinations', async () => {
    const { plan } = await t.admin('create-plan', { name: 'Big batch' });
    const rates = Array.from({ length: 10_000 }, (_, i) => ({
      prefix: String(100_000_000_000_000 + i),
      destination: `${'Destination '.repeat(8)}${String(i).padStart(4, '0')}`.slice(0, 100),
      rate: '1234.567891',
      connect_charge: '0.123456',
      initblock: 60,
      billingblock: 60,
      minimal_time: 10,
    }));
    const rawBody = JSON.stringify({ plan_id: plan.id, rates }, null, 4);
    assert.ok(rawBody.length > 3_500_000, `batch is ${rawBody.length} bytes`);
    const res = await t.call('admin', 'add-rates', { rawBody, headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.upserted, 10_000);
  });
});
