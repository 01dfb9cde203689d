// Heavy reads (db/heavy-reads.ts): on a SQLite file they run in worker threads, so a long read
// leaves the event loop that serves the switch free; they give the same rows as a direct
// execute, see what was committed just before, are bounded (OVERLOADED beyond the queue, a
// deadline), and survive a worker's death. On PostgreSQL a few at a time run on connections of
// their own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';
import { InlineReads, PostgresReads, type HeavyReads, type ReadQuery } from '../../src/db/heavy-reads.js';
import { SqliteReadWorkers } from '../../src/db/read-workers.js';
import { inTx } from '../../src/db/tx.js';
import { OverloadedError } from '../../src/errors.js';
import { isPostgres, testDatabaseUrl } from '../helpers/server.js';

/** A raw select in the shape ctx.reads takes (a query builder's compile/execute). */
function rawRead<R>(db: Kysely<any>, raw: RawBuilder<R>): ReadQuery<R> {
  return { compile: () => raw.compile(db), execute: async () => (await raw.execute(db)).rows };
}

/** A read that computes for a while without touching a table: counting to `n` in SQL. */
const countTo = (db: Kysely<any>, n: number) =>
  rawRead(db, sql<{ n: number }>`with recursive c(x) as (select 1 union all select x + 1 from c where x < ${n}) select count(*) as n from c`);

/**
 * Runs the read while a 5 ms timer ticks: how long the read took and the longest the timer
 * was late (how long the event loop was kept from everything else).
 */
async function loopLagDuring(run: () => Promise<unknown>): Promise<{ readMs: number; maxLagMs: number }> {
  let maxLagMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 5);
    last = now;
  }, 5);
  // Let the timer start before the read does.
  await new Promise((r) => setTimeout(r, 20));
  const started = performance.now();
  await run();
  const readMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  return { readMs, maxLagMs };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-reads-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let built: URL | undefined;
/**
 * The worker as tsc builds it into dist/ (plain JavaScript, in a folder that resolves the same
 * packages): it starts without tsx, in milliseconds, where tests that restart workers need it.
 */
async function builtWorkerEntry(): Promise<URL> {
  if (built) return built;
  const ts = (await import('typescript')).default;
  const folder = fs.mkdtempSync(path.join(dir, 'built-'));
  fs.writeFileSync(path.join(folder, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(path.resolve('node_modules'), path.join(folder, 'node_modules'));
  const source = fs.readFileSync(new URL('../../src/db/read-worker-thread.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  fs.writeFileSync(path.join(folder, 'read-worker-thread.js'), outputText);
  built = new URL(`file://${path.join(folder, 'read-worker-thread.js')}`);
  return built;
}

describe('heavy reads on a SQLite file', () => {
  let handle: DbHandle;
  const SLOW = 3_000_000;

  before(async () => {
    handle = openDatabase(`sqlite:${path.join(dir, 'reads.db')}`, '', { heavyReads: { concurrency: 2, maxQueued: 4, timeoutMs: 20_000 } });
    await sql`create table t (id integer primary key, name text, note text, amount_micros integer not null)`.execute(handle.db);
  });
  after(async () => handle.close());

  test('a long read leaves the event loop free (and in place it would not)', async () => {
    assert.ok(handle.reads instanceof SqliteReadWorkers);
    // Start the worker first: its start-up is not the subject.
    await handle.reads.all(countTo(handle.db, 10));
    const inWorker = await loopLagDuring(() => handle.reads.all(countTo(handle.db, SLOW)));
    const inPlace = await loopLagDuring(() => new InlineReads().all(countTo(handle.db, SLOW)));
    assert.ok(inWorker.readMs > 300, `the read must be long enough to tell (${inWorker.readMs} ms)`);
    // In place, the timer waits for the whole read: this test tells the two apart.
    assert.ok(inPlace.maxLagMs > inPlace.readMs * 0.7, `in place: lag ${inPlace.maxLagMs} ms over a ${inPlace.readMs} ms read`);
    // Relative: on a busy machine the timer is late now and then whatever runs, and the read slower.
    assert.ok(inWorker.maxLagMs < inWorker.readMs / 4, `in a worker: lag ${inWorker.maxLagMs} ms over a ${inWorker.readMs} ms read`);
  });

  test('rows are those of a direct execute: integers, text, null, money past 2^32, counts', async () => {
    await handle.db.insertInto('t' as never).values([
      { id: 1, name: 'ünïcode ☎', note: null, amount_micros: 9_007_199_254_740_991 },
      { id: 2, name: '', note: 'x', amount_micros: -1_500_000 },
      { id: 3, name: 'three', note: null, amount_micros: 0 },
    ] as never).execute();
    const db = handle.db as unknown as Kysely<any>;
    const queries = [
      db.selectFrom('t').selectAll().orderBy('id'),
      db.selectFrom('t').select([sql<number>`sum(amount_micros)`.as('total'), sql<number>`count(*)`.as('n')]).where('id', '>', 1),
      db.selectFrom('t').select('name').where('note', 'is', null).where('name', '!=', 'none').orderBy('id', 'desc').limit(1).offset(0),
    ];
    for (const q of queries) assert.deepEqual(await handle.reads.all(q), await q.execute());
    assert.deepEqual(await handle.reads.all(db.selectFrom('t').select('amount_micros').where('id', '=', 1)), [{ amount_micros: 9_007_199_254_740_991 }]);
  });

  test('a read sees what was committed just before it, each time', async () => {
    const db = handle.db as unknown as Kysely<any>;
    for (let i = 100; i < 130; i++) {
      // Group commit: the transaction is answered once its batch committed.
      await inTx(handle.db, (trx) => sql`insert into t (id, name, amount_micros) values (${i}, ${`row ${i}`}, ${i})`.execute(trx));
      const rows = await handle.reads.all(db.selectFrom('t').select('name').where('id', '=', i));
      assert.deepEqual(rows, [{ name: `row ${i}` }]);
    }
  });

  test('writes are refused: a read is a read', async () => {
    const db = handle.db as unknown as Kysely<any>;
    await assert.rejects(handle.reads.all(db.deleteFrom('t').where('id', '=', 1) as never), /not a read/);
    assert.equal((await db.selectFrom('t').select('id').where('id', '=', 1).execute()).length, 1);
  });

  test('reads beyond the running ones and the queue are refused OVERLOADED; the others finish', async () => {
    const slow = Array.from({ length: 6 }, () => handle.reads.all(countTo(handle.db, 100_000)));
    const outcomes = await Promise.allSettled(slow);
    // Two run, four wait: all six are served.
    assert.deepEqual(outcomes.map((o) => o.status), Array(6).fill('fulfilled'));
    const tooMany = Array.from({ length: 8 }, () => handle.reads.all(countTo(handle.db, 100_000)));
    const settled = await Promise.allSettled(tooMany);
    const refused = settled.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(refused.length, 2);
    for (const r of refused) {
      assert.ok(r.reason instanceof OverloadedError);
      assert.equal(r.reason.toAppError().status, 503);
      assert.match(r.reason.message, /Too many/);
    }
  });

  test('a read past its deadline is stopped and answered OVERLOADED; the next read runs', async () => {
    // The built worker: its replacement must start well within the deadline on a busy machine.
    const reads = new SqliteReadWorkers(path.join(dir, 'reads.db'), { concurrency: 1, maxQueued: 2, timeoutMs: 1500 },
      { entry: await builtWorkerEntry() });
    try {
      await reads.all(countTo(handle.db, 3));
      const started = performance.now();
      // Several seconds even on an idle machine (SQLite cannot be interrupted mid-step: the
      // stopped thread ends when it returns).
      await assert.rejects(reads.all(countTo(handle.db, SLOW * 13)), (err: unknown) => {
        assert.ok(err instanceof OverloadedError);
        assert.match(err.message, /did not finish within 1\.5 s/);
        return true;
      });
      assert.ok(performance.now() - started < 3000, 'answered at the deadline, not when the read ends');
      assert.equal(reads.workerCount, 0, 'the worker of the stopped read is dropped');
      assert.deepEqual(await reads.all(countTo(handle.db, 3)), [{ n: 3 }]);
    } finally {
      await reads.close();
    }
  });

  test('a worker that dies fails its read alone; the pool starts another', async () => {
    const entry = new URL('./fixtures/crashing-read-worker.ts', import.meta.url);
    const reads = new SqliteReadWorkers(path.join(dir, 'reads.db'), { concurrency: 2, maxQueued: 4, timeoutMs: 20_000 }, { entry });
    try {
      const db = handle.db as unknown as Kysely<any>;
      assert.deepEqual(await reads.all(db.selectFrom('t').select('id').where('id', '=', 2)), [{ id: 2 }]);
      await assert.rejects(reads.all(rawRead(db, sql`select 'crash now' as x`)), /exited \(code 7\)/);
      const again = await Promise.all([1, 2, 3].map((id) => reads.all(db.selectFrom('t').select('id').where('id', '=', id))));
      assert.deepEqual(again, [[{ id: 1 }], [{ id: 2 }], [{ id: 3 }]]);
      assert.ok(reads.workerCount <= 2);
    } finally {
      await reads.close();
    }
  });

  test('the built worker (plain JavaScript, as in dist/) starts without tsx', async () => {
    const reads = new SqliteReadWorkers(path.join(dir, 'reads.db'), { concurrency: 1, maxQueued: 1, timeoutMs: 20_000 },
      { entry: await builtWorkerEntry() });
    try {
      const db = handle.db as unknown as Kysely<any>;
      assert.deepEqual(await reads.all(db.selectFrom('t').select(['id', 'name']).where('id', '=', 3)), [{ id: 3, name: 'three' }]);
    } finally {
      await reads.close();
    }
  });

  test('closing stops the workers and refuses further reads', async () => {
    const reads = new SqliteReadWorkers(path.join(dir, 'reads.db'), { concurrency: 2, maxQueued: 4, timeoutMs: 20_000 });
    await reads.all(countTo(handle.db, 3));
    assert.equal(reads.workerCount, 1);
    await reads.close();
    assert.equal(reads.workerCount, 0);
    await assert.rejects(reads.all(countTo(handle.db, 3)), /closing/);
  });
});

test('an in-memory SQLite database reads in place: it cannot be shared between threads', async () => {
  const handle = openDatabase('sqlite::memory:');
  try {
    assert.ok(handle.reads instanceof InlineReads);
    assert.deepEqual(await handle.reads.all(countTo(handle.db, 5)), [{ n: 5 }]);
  } finally {
    await handle.close();
  }
});

describe('heavy reads on PostgreSQL', { skip: !isPostgres() && 'TEST_DATABASE_URL is not PostgreSQL' }, () => {
  let handle: DbHandle;
  let reads: HeavyReads;
  before(() => {
    handle = openDatabase(testDatabaseUrl(), '', { heavyReads: { concurrency: 2, maxQueued: 3, timeoutMs: 2000 } });
    reads = handle.reads;
  });
  after(async () => handle.close());

  const sleepy = (seconds: number) =>
    rawRead(handle.db as unknown as Kysely<any>, sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(${seconds}) as slept`);

  test('at most `concurrency` run at once, on connections of their own; the queue is bounded', async () => {
    assert.ok(reads instanceof PostgresReads);
    const started = performance.now();
    const five = Array.from({ length: 5 }, () => reads.all(sleepy(0.2)));
    // Two running, three waiting: a sixth is refused.
    await assert.rejects(reads.all(sleepy(0.2)), OverloadedError);
    assert.equal((reads as PostgresReads).slots.running, 2);
    const rows = (await Promise.all(five)).flat();
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= 550, `five 0.2 s reads two at a time take three rounds (${elapsedMs} ms)`);
    assert.ok(new Set(rows.map((r) => r.pid)).size <= 2, 'two connections');
    // The switch path's pool was not used.
    const main = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(handle.db);
    assert.ok(!rows.some((r) => r.pid === main.rows[0].pid));
  });

  test('a read past its deadline is answered OVERLOADED, and the server stops it', async () => {
    await assert.rejects(reads.all(sleepy(5)), /did not finish within 2 s/);
    // statement_timeout frees the connection: the next reads run.
    assert.equal((await reads.all(sleepy(0))).length, 1);
  });
});
