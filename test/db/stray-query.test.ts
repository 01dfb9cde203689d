// A query on the base database (`ctx.db`) from inside a transaction is a programming error.
// On SQLite the transaction holds the only connection (and, batched, shares it with the
// transactions beside it), so such a query would wait for itself forever; on PostgreSQL it
// runs on another pooled connection, outside the transaction: it does not see the
// transaction's writes, and it deadlocks once the pool is exhausted or it needs a row the
// transaction locked. Both dialects refuse it at once, with an error that says what to do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Ctx, TxCtx } from '../../src/context.js';
import { inCtxTx, inTx, outsideTransaction, StrayQueryError } from '../../src/db/tx.js';
import { createClient, createPlan, runCli, startTestServer, type TestServer } from '../helpers/server.js';

/** Settles with 'hung' when the promise does not settle within `ms`: a self-wait shows as a failure, not a stuck suite. */
function within<T>(promise: Promise<T>, ms: number): Promise<PromiseSettledResult<T> | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), ms); });
  const settled = promise.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
  );
  return Promise.race([settled, hung]).finally(() => clearTimeout(timer));
}

/** A service with the classic slip: it opens a transaction, then reads through ctx.db instead of trx. */
async function renameWithStrayRead(ctx: Ctx, login: string): Promise<string> {
  return inTx(ctx.db, async (trx) => {
    await trx.updateTable('accounts').set({ name: 'renamed' }).where('login', '=', login).execute();
    const row = await ctx.db.selectFrom('accounts').select('name').where('login', '=', login).executeTakeFirstOrThrow();
    return row.name ?? '';
  });
}

/** The correct twin: every query through the transaction. */
async function renameThroughTrx(ctx: Ctx, login: string, name: string): Promise<string> {
  return inTx(ctx.db, async (trx) => {
    await trx.updateTable('accounts').set({ name }).where('login', '=', login).execute();
    const row = await trx.selectFrom('accounts').select('name').where('login', '=', login).executeTakeFirstOrThrow();
    return row.name ?? '';
  });
}

/** A helper that must run in its caller's transaction says so in its type. */
async function nameOf(tx: TxCtx, login: string): Promise<string | null> {
  const row = await tx.db.selectFrom('accounts').select('name').where('login', '=', login).executeTakeFirstOrThrow();
  return row.name;
}
// Checked by `npm run typecheck`: a plain context (the base database) is not a transaction's.
export function typeLevelChecks(ctx: Ctx) {
  // @ts-expect-error ctx.db may be the base database
  return nameOf(ctx, 'x');
}

const logLines: Array<Record<string, unknown>> = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
    done();
  },
});

describe('a query on the base database inside a transaction', () => {
  let t: TestServer;
  let ctx: Ctx;
  let logins: string[];

  before(async () => {
    t = await startTestServer({}, { log: pino({ level: 'error' }, logStream) });
    ctx = t.server.ctx;
    const plan = await createPlan(t);
    logins = [];
    for (let i = 0; i < 4; i++) logins.push((await createClient(t, plan.id)).login);
  });
  after(async () => { await t.close(); });

  test('fails at once, alone in its transaction or batched with others, and is logged', async () => {
    logLines.length = 0;
    // The stray one in the middle of a batch: the transactions beside it must still commit.
    const outcomes = await within(Promise.allSettled([
      renameThroughTrx(ctx, logins[0], 'first'),
      renameWithStrayRead(ctx, logins[1]),
      renameThroughTrx(ctx, logins[2], 'third'),
    ]), 3000);
    assert.notEqual(outcomes, 'hung', 'the stray query must fail, not wait for its own transaction');
    const [first, stray, third] = (outcomes as PromiseFulfilledResult<PromiseSettledResult<string>[]>).value;
    assert.deepEqual(first, { status: 'fulfilled', value: 'first' });
    assert.deepEqual(third, { status: 'fulfilled', value: 'third' });
    assert.equal(stray.status, 'rejected');
    const err = (stray as PromiseRejectedResult).reason;
    assert.ok(err instanceof StrayQueryError, `expected StrayQueryError, got ${err}`);
    assert.equal(err.code, 'QUERY_OUTSIDE_TRANSACTION');
    assert.match(err.message, /trx/);

    // Alone in its transaction (no batch companions).
    const alone = await within(renameWithStrayRead(ctx, logins[3]), 3000);
    assert.notEqual(alone, 'hung');
    assert.equal((alone as PromiseSettledResult<string>).status, 'rejected');

    // The failed transactions changed nothing; the others committed.
    const names = await ctx.db.selectFrom('accounts').select(['login', 'name']).where('login', 'in', logins).orderBy('id').execute();
    assert.equal(names[0].name, 'first');
    assert.equal(names[2].name, 'third');
    assert.notEqual(names[1].name, 'renamed');
    assert.notEqual(names[3].name, 'renamed');

    const logged = logLines.filter((l) => l.code === 'QUERY_OUTSIDE_TRANSACTION');
    assert.equal(logged.length, 2, 'each stray query is logged once');
    assert.match(String(logged[0].msg), /outside/);
  });

  test('a transaction opened on the base database inside another is refused too (it would wait for the first)', async () => {
    const nested = await within(inTx(ctx.db, async () => inTx(ctx.db, async (inner) => {
      await inner.selectFrom('accounts').select('id').execute();
      return 'nested';
    })), 3000);
    assert.notEqual(nested, 'hung');
    assert.equal((nested as PromiseSettledResult<string>).status, 'rejected');
    assert.ok((nested as PromiseRejectedResult).reason instanceof StrayQueryError);
  });

  test('joining the open transaction, work detached on purpose, and work after the transaction are allowed', async () => {
    let background: Promise<number> | undefined;
    const value = await inTx(ctx.db, async (trx) => {
      // Handing the transaction on joins it.
      const joined = await inTx(trx, async (same) => same.selectFrom('accounts').select('id').where('login', '=', logins[0]).executeTakeFirstOrThrow());
      // A deliberate background read (not awaited here) runs after the transaction ends.
      background = outsideTransaction(async () => (await ctx.db.selectFrom('accounts').select('id').execute()).length);
      return Number(joined.id);
    });
    assert.ok(value > 0);
    assert.ok((await background!) >= logins.length);
    // The same context after the transaction has ended: the base database is free again.
    const later = await ctx.db.selectFrom('accounts').select('id').where('login', '=', logins[0]).executeTakeFirstOrThrow();
    assert.equal(Number(later.id), value);
    // The context form: helpers handed the transaction's context see its writes.
    const seen = await inCtxTx(ctx, async (tx) => {
      await tx.db.updateTable('accounts').set({ name: 'seen-in-tx' }).where('login', '=', logins[3]).execute();
      return nameOf(tx, logins[3]);
    });
    assert.equal(seen, 'seen-in-tx');
  });

  test('a large rate table reloads in the background, started from inside the call\'s transaction', async () => {
    // Above 50,000 rows a changed table is reloaded beside the authorize transaction, which
    // answers from the stale one meanwhile: that reload is detached work, not a stray query.
    const { plan } = await t.admin('create-plan', { name: 'LARGE' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-large-'));
    try {
      const file = path.join(dir, 'large.csv');
      const lines = ['44,UK,1.00,0,1,1,0'];
      for (let i = 0; i < 50_001; i++) lines.push(`9${String(i).padStart(6, '0')},Filler,0.01`);
      fs.writeFileSync(file, lines.join('\n') + '\n');
      const imported = await runCli(t, ['import-rates', String(plan.id), file], { dataDir: dir });
      assert.equal(imported.code, 0, imported.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const client = await createClient(t, plan.id, { balance: '1' });
    const switchKey = (await t.admin('create-switch-key', { name: 'large-plan' })).api_key;
    let n = 0;
    const maxDuration = async () => {
      const res = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: `large-${++n}`, sip_login: client.sip.name, destination: '4420000000' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: `large-${n}`, sip_login: client.sip.name, destination: '4420000000', answered_seconds: 0, disposition: 'NO ANSWER' } });
      return res.body.max_duration as number;
    };
    assert.equal(await maxDuration(), 60, '1.00 a minute on a balance of 1');
    await t.admin('add-rates', { plan_id: plan.id, rates: [{ prefix: '44', destination: 'UK', rate: '2.00' }] });
    const deadline = Date.now() + 10_000;
    let seen = await maxDuration();
    while (seen !== 30 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await maxDuration();
    }
    assert.equal(seen, 30, 'the new rate (2.00 a minute) applies once the background reload is done');
  });

  test('requests keep being served after a refused stray query', async () => {
    const client = await createClient(t, (await createPlan(t)).id);
    const res = await t.call('client', 'me', { key: client.key });
    assert.equal(res.status, 200);
  });
});
