// The FastAGI listener at the network edge: it binds to AGI_HOST (not HOST), serves only the
// switch addresses of AGI_ALLOWED_IPS, refuses to start reachable from the network without
// such a list, and bounds its sessions in time and number. A fake Asterisk connects from
// chosen 127.0.0.x addresses.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { StartupError } from '../../src/server.js';
import { capturedLog } from '../helpers/log.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { asterisk, runAgi } from '../switch/fake-asterisk.js';
import { canConnect, connectFrom, freePort, sleep, type Held } from './sockets.js';

/** Plays Asterisk from `localAddress` (agi_* environment, GET/SET VARIABLE answered) until the server closes. */
async function fakeAsterisk(localAddress: string, port: number, script: string, vars: Record<string, string>) {
  const started = Date.now();
  const env = {
    agi_network: 'yes', agi_network_script: script, agi_request: `agi://127.0.0.1:${port}/${script}`,
    agi_uniqueid: `${Math.floor(Date.now() / 1000)}.${crypto.randomInt(1e9)}`, agi_channel: 'PJSIP/x-0000002a',
  };
  const run = await runAgi(port, env, asterisk(vars), { localAddress });
  return { commands: run.commands, closedAfterMs: Date.now() - started };
}

describe('FastAGI: where it listens', () => {
  it('binds to AGI_HOST (default 127.0.0.1), not to the HTTP HOST', async () => {
    const t = await startTestServer({ HOST: '127.0.0.2', AGI_PORT: String(await freePort()) });
    try {
      const port = t.server.agiPort!;
      assert.equal(await canConnect(port, '127.0.0.1'), true, 'AGI on 127.0.0.1');
      assert.equal(await canConnect(port, '127.0.0.2'), false, 'AGI not on the HTTP address');
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
      assert.match(t.url, /127\.0\.0\.2/);
    } finally {
      await t.close();
    }
  });

  it('refuses to start reachable from the network without an allow-list', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      await assert.rejects(
        startTestServer({ AGI_HOST: host, AGI_PORT: String(await freePort()) }),
        (err: Error) => err instanceof StartupError && /AGI_ALLOWED_IPS/.test(err.message) && err.message.includes(host),
        `AGI_HOST=${host}`,
      );
    }
  });

  it('rejects an allow-list entry that is not an address or CIDR, naming the variable', async () => {
    for (const bad of ['10.0.0.300', '10.0.0.0/33', 'asterisk.example.com', '10.0.0.1,,']) {
      await assert.rejects(
        startTestServer({ AGI_ALLOWED_IPS: bad, AGI_PORT: String(await freePort()) }),
        (err: Error) => /AGI_ALLOWED_IPS/.test(err.message),
        bad,
      );
    }
  });
});

describe('FastAGI: allow-list of switch addresses', () => {
  let t: TestServer;
  let port: number;
  let client: TestClient;
  const captured = capturedLog();
  before(async () => {
    t = await startTestServer({ AGI_PORT: String(await freePort()), AGI_ALLOWED_IPS: '127.0.0.1, 127.0.0.16/30' }, { log: captured.log });
    port = t.server.agiPort!;
    const plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '100' });
  });
  after(async () => { await t?.close(); });

  const balance = async () => (await t.call('client', 'balance', { key: client.key })).body.data.balance;
  const longCdr = () => ({ LL_DESTINATION: '447575396991', LL_SIP: client.sip.name, ANSWEREDTIME: '36000', DIALSTATUS: 'ANSWER', HANGUPCAUSE: '16' });

  it('closes a connection from an address not on the list at once, unread, and logs it', async () => {
    const run = await fakeAsterisk('127.0.0.2', port, 'cdr', longCdr());
    assert.deepEqual(run.commands, [], 'the server sends nothing to an unknown address');
    assert.ok(run.closedAfterMs < 1000, `closed after ${run.closedAfterMs} ms`);
    assert.equal(await balance(), '100.0000', 'a CDR from an unknown address charges nothing');
    assert.ok(
      captured.lines.some((l) => l.remote === '127.0.0.2' && /not in AGI_ALLOWED_IPS/.test(l.msg)),
      `refusal logged: ${JSON.stringify(captured.lines)}`,
    );
  });

  it('serves the listed addresses and subnets', async () => {
    const run = await fakeAsterisk('127.0.0.17', port, 'cdr', longCdr());
    assert.ok(run.commands.includes('GET VARIABLE LL_DESTINATION'), JSON.stringify(run.commands));
    assert.notEqual(await balance(), '100.0000', 'the listed switch\'s CDR is charged');
  });
});

describe('FastAGI: session time and connection bounds', () => {
  let timed: TestServer;
  let counted: TestServer;
  const held: Held[] = [];
  const captured = capturedLog();
  before(async () => {
    timed = await startTestServer({ AGI_PORT: String(await freePort()), AGI_IDLE_TIMEOUT_SECONDS: '1', AGI_SESSION_TIMEOUT_SECONDS: '3' });
    counted = await startTestServer({
      AGI_PORT: String(await freePort()), AGI_MAX_CONNECTIONS_PER_ADDRESS: '2', AGI_MAX_CONNECTIONS: '4',
    }, { log: captured.log });
  });
  after(async () => {
    for (const h of held) h.socket.destroy();
    await timed?.close();
    await counted?.close();
  });

  it('ends a silent connection after the idle timeout', async () => {
    const conn = await connectFrom('127.0.0.2', timed.server.agiPort!);
    const closedAfterMs = await conn.closedWithin(3000);
    conn.socket.destroy();
    assert.notEqual(closedAfterMs, null);
    assert.ok(closedAfterMs! >= 800 && closedAfterMs! <= 2000, `closed after ${closedAfterMs} ms`);
  });

  it('ends a session that trickles lines past the session timeout', async () => {
    const conn = await connectFrom('127.0.0.2', timed.server.agiPort!);
    const started = Date.now();
    let n = 0;
    // Each line comes well within the idle timeout; only the session bound can end this.
    const trickle = setInterval(() => { if (!conn.socket.destroyed) conn.socket.write(`agi_x${n++}: y\n`); }, 200);
    try {
      const closedAfterMs = await conn.closedWithin(6000, started);
      assert.notEqual(closedAfterMs, null, 'a session that never finishes its environment must be ended');
      assert.ok(closedAfterMs! >= 2800 && closedAfterMs! <= 4500, `closed after ${closedAfterMs} ms`);
    } finally {
      clearInterval(trickle);
      conn.socket.destroy();
    }
  });

  it('refuses connections over the per-address limit while another address is served', async () => {
    const port = counted.server.agiPort!;
    held.push(await connectFrom('127.0.0.2', port), await connectFrom('127.0.0.2', port));
    const extra = await connectFrom('127.0.0.2', port);
    assert.notEqual(await extra.closedWithin(1000), null, 'the third connection from one address is closed');
    const other = await fakeAsterisk('127.0.0.3', port, 'authorize', {});
    assert.ok(other.commands.length > 0, 'another address is served');
    assert.ok(
      captured.lines.some((l) => l.remote === '127.0.0.2' && /connection refused/i.test(l.msg) && l.limit === 2),
      `refusal logged: ${JSON.stringify(captured.lines)}`,
    );
  });

  it('refuses connections over the total limit', async () => {
    const port = counted.server.agiPort!;
    held.push(await connectFrom('127.0.0.3', port), await connectFrom('127.0.0.4', port));
    await sleep(50);
    const extra = await connectFrom('127.0.0.5', port);
    assert.notEqual(await extra.closedWithin(1000), null, 'the fifth connection in all is closed');
    assert.equal(extra.received(), '');
  });
});
