// A server killed with SIGKILL in the middle of switch traffic: every CDR it acknowledged is in
// the database, no call is charged twice when the switch sends its CDRs again to the server
// that took over, no balance goes below zero and no reservation is left behind. The server is
// a process of its own (`src/main.ts`) on the test server's database, started again after the
// kill; the in-process test server, a second instance on the same database, sets up the
// accounts, takes half of the resent CDRs and reads the database.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { kill, startChild, type Child } from '../helpers/child-server.js';

const USA = '15551234567';

async function post(url: string, key: string, endpoint: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/switch-api/index.php?endpoint=${endpoint}`, {
    method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

interface Call {
  uniqueid: string;
  client: TestClient;
  answeredSeconds: number;
  /** The authorize was answered allowed. */
  allowed: boolean;
  /** The CDR was acknowledged (200): it must be in the database, charged once. */
  acked: null | { cost: string; callId: number };
}

describe('switch path: a server killed mid-traffic (kill -9)', () => {
  let t: TestServer;
  let key: string;
  const clients: TestClient[] = [];
  const children: Child[] = [];
  before(async () => {
    t = await startTestServer();
    key = (await t.admin('create-switch-key', { name: 'crash-test' })).api_key;
    const plan = await createPlan(t);
    for (let i = 0; i < 6; i++) clients.push(await createClient(t, plan.id, { balance: '5' }));
  });
  after(async () => {
    for (const c of children) await kill(c, 'SIGKILL');
    await t?.close();
  });

  it('loses no acknowledged CDR, charges none twice, leaves no reservation and overspends nothing', { timeout: 180_000 }, async () => {
    const first = await startChild(t);
    children.push(first);
    const calls: Call[] = [];
    let seq = 0;
    let stop = false;
    // Eight switch lines, each placing calls one after another until the server dies.
    const line = async (n: number) => {
      while (!stop) {
        seq += 1;
        const call: Call = {
          uniqueid: `crash-${n}-${seq}-${crypto.randomBytes(3).toString('hex')}`, client: clients[seq % clients.length],
          answeredSeconds: 30 + (seq % 50), allowed: false, acked: null,
        };
        calls.push(call);
        try {
          const a = await post(first.url, key, 'authorize', { uniqueid: call.uniqueid, sip_login: call.client.sip.name, destination: USA });
          if (a.status !== 200 || !a.body.allowed) continue;
          call.allowed = true;
          const c = await post(first.url, key, 'cdr', {
            uniqueid: call.uniqueid, sip_login: call.client.sip.name, destination: USA, answered_seconds: call.answeredSeconds, disposition: 'ANSWERED',
          });
          if (c.status === 200) call.acked = { cost: c.body.cost, callId: c.body.call_id };
        } catch {
          return; // the connection died with the server
        }
      }
    };
    const lines = Array.from({ length: 8 }, (_, n) => line(n));
    // Killed once it has settled some calls, with others in flight.
    while (calls.filter((c) => c.acked).length < 60) await new Promise((r) => setTimeout(r, 10));
    await kill(first, 'SIGKILL');
    stop = true;
    await Promise.all(lines);
    const acked = calls.filter((c) => c.acked);
    assert.ok(calls.length > acked.length, 'some calls were in flight when the server died');

    // Every acknowledged CDR is in the database, exactly as answered.
    const db = t.server.ctx.db;
    const rows = await db.selectFrom('calls').select(['id', 'uniqueid', 'cost_micros']).where('uniqueid', 'like', 'crash-%').execute();
    const byUniqueId = new Map(rows.map((r) => [r.uniqueid, r]));
    for (const c of acked) assert.equal(Number(byUniqueId.get(c.uniqueid)?.id), c.acked!.callId, `acknowledged CDR ${c.uniqueid} lost`);

    // A restarted server takes over; the switch sends again every CDR it has no answer for, and
    // the acknowledged ones too (a switch that lost its state): each call is settled once.
    const second = await startChild(t);
    children.push(second);
    for (const [i, c] of calls.entries()) {
      // As first sent when the authorize was answered allowed; a failed call otherwise (its
      // reservation, if the authorize committed unanswered, is freed). Half of them through
      // the restarted server, half through the other instance that lived through the kill.
      const r = await post(i % 2 ? t.url : second.url, key, 'cdr', c.allowed
        ? { uniqueid: c.uniqueid, sip_login: c.client.sip.name, destination: USA, answered_seconds: c.answeredSeconds, disposition: 'ANSWERED' }
        : { uniqueid: c.uniqueid, sip_login: c.client.sip.name, destination: USA, answered_seconds: 0, disposition: 'FAILED' });
      if (c.acked) {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.duplicate, true, `${c.uniqueid} settled again`);
        assert.equal(r.body.cost, c.acked.cost);
      } else {
        // Committed before the kill (duplicate) or settled now; an unanswered call is free.
        assert.equal(r.status, 200, `${c.uniqueid}: ${JSON.stringify(r.body)}`);
      }
    }
    await kill(second, 'SIGTERM');

    // One row per call, every client charged exactly the sum of its calls, nothing reserved.
    const settled = await db.selectFrom('calls').select(['uniqueid', 'account_id', 'cost_micros']).where('uniqueid', 'like', 'crash-%').execute();
    assert.equal(settled.length, new Set(settled.map((r) => r.uniqueid)).size, 'a call settled twice');
    assert.equal(settled.length, calls.length);
    for (const client of clients) {
      const charged = settled.filter((r) => Number(r.account_id) === client.id).reduce((sum, r) => sum + BigInt(r.cost_micros), 0n);
      const account = await db.selectFrom('accounts').select(['balance_micros', 'reserved_micros']).where('id', '=', client.id).executeTakeFirstOrThrow();
      assert.equal(BigInt(account.balance_micros), 5_000_000n - charged, `client ${client.login}: balance against its calls`);
      assert.ok(BigInt(account.balance_micros) >= 0n, `client ${client.login} overspent`);
      assert.equal(Number(account.reserved_micros), 0, `client ${client.login} keeps a reservation`);
    }
    // t.close() checks balance = sum(postings) for every account.
  });
});
