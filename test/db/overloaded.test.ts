// A write refused because the group-commit queue is full (db/tx-batch.ts) is answered by each
// edge in its own protocol: 503 OVERLOADED over HTTP, LL_CDR_ERROR=OVERLOADED with a retry over
// AGI. The db layer raises its own error and knows no protocol; this pins what the edges say.
// The queue is made full by giving the database a batcher that takes no waiting write (the
// refusal is SQLite's, but the answer is the edges', so this runs on both databases).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { TransactionBatcher } from '../../src/db/tx-batch.js';
import { batchTransactionsOf } from '../../src/db/tx.js';
import type { Db } from '../../src/db/schema.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { agiEnv, asterisk, freePort, runAgi } from '../switch/fake-asterisk.js';

describe('a full write queue, as the edges answer it', () => {
  let t: TestServer;
  let client: TestClient;
  const DEST = '447575396991';

  before(async () => {
    t = await startTestServer({ AGI_PORT: String(await freePort()) });
    client = await createClient(t, (await createPlan(t)).id, { balance: '10' });
    // From here on every transaction is refused as if 0 writes could wait (the server closes
    // at the end of this file, so nothing after it needs writes).
    const db = t.server.ctx.db as Db;
    batchTransactionsOf(db, new TransactionBatcher(db, { maxPerBatch: 1, maxQueued: 0 }));
  });
  after(async () => t.close());

  it('HTTP: a write answers 503 OVERLOADED with a sentence that says to retry, and applies nothing', async () => {
    const res = await t.call('admin', 'refill', { body: { login: client.login, amount: '5' } });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.success, false);
    assert.equal(res.body.code, 'OVERLOADED');
    assert.match(res.body.error, /retry/i);
    const balance = await t.call('client', 'balance', { key: client.key });
    assert.equal(balance.body.data.balance, '10.0000');
  });

  it('AGI: a cdr tells the dialplan OVERLOADED and to send it again', async () => {
    const port = t.server.agiPort!;
    const uniqueid = `${Math.floor(Date.now() / 1000)}.${crypto.randomInt(1_000_000)}`;
    const run = await runAgi(port, agiEnv(port, 'cdr', { uniqueid, login: client.sip.name, extension: 'h' }),
      asterisk({ LL_DESTINATION: DEST, LL_SIP: client.sip.name, ANSWEREDTIME: '30', DIALSTATUS: 'ANSWER', HANGUPCAUSE: '16' }));
    assert.deepEqual(run.commands.filter((c) => c.startsWith('SET VARIABLE')), [
      'SET VARIABLE LL_CDR_ERROR "OVERLOADED"',
      'SET VARIABLE LL_CDR_RETRY "1"',
    ]);
  });
});
