// Group commit on SQLite: transactions started together share one COMMIT, each in its own
// savepoint. A failing one must leave the others untouched; a failure of the shared
// transaction must apply none of them and tell every caller.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';
import { TransactionBatcher } from '../../src/db/tx-batch.js';
import { OverloadedError } from '../../src/errors.js';
import { inTx } from '../../src/db/tx.js';
import { sqliteBatchSize } from '../../src/metrics.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-batch-'));
let handle: DbHandle;

async function rows(): Promise<string[]> {
  const result = await sql<{ name: string }>`select name from t order by name`.execute(handle.db);
  return result.rows.map((r) => r.name);
}
const insert = (trx: Parameters<Parameters<typeof inTx>[1]>[0], name: string) => sql`insert into t (name) values (${name})`.execute(trx);
async function batchStats() {
  const metric = await sqliteBatchSize.get();
  const count = metric.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const sum = metric.values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  return { commits: count, transactions: sum };
}

describe('SQLite group commit (transactions sharing a COMMIT)', () => {
  before(async () => {
    handle = openDatabase(`sqlite:${path.join(dir, 'batch.db')}`);
    await sql`create table t (name text primary key)`.execute(handle.db);
  });
  after(async () => {
    await handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('transactions started together commit once; a failing one rolls back alone', async () => {
    await sql`delete from t`.execute(handle.db);
    const before = await batchStats();
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => inTx(handle.db, async (trx) => {
      await insert(trx, `ok-${String(i).padStart(2, '0')}`);
      if (i % 10 === 3) {
        await insert(trx, `doomed-${i}`);
        throw new Error(`refused ${i}`);
      }
      return i;
    })));
    const after = await batchStats();
    assert.equal(after.commits - before.commits, 1, 'one COMMIT for the 50 transactions');
    assert.equal(after.transactions - before.transactions, 50);

    const refused = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    assert.deepEqual(refused, [3, 13, 23, 33, 43]);
    for (const i of refused) assert.match(String((outcomes[i] as PromiseRejectedResult).reason), new RegExp(`refused ${i}`));
    outcomes.forEach((o, i) => { if (o.status === 'fulfilled') assert.equal(o.value, i); });
    const expected = Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 10 !== 3).map((i) => `ok-${String(i).padStart(2, '0')}`);
    assert.deepEqual(await rows(), expected, 'every write of a refused transaction is gone, every other one is there');
  });

  test('a later transaction of the batch sees the earlier ones, as if run one after another', async () => {
    await sql`delete from t`.execute(handle.db);
    const seen = await Promise.all(Array.from({ length: 5 }, (_, i) => inTx(handle.db, async (trx) => {
      const { rows: [row] } = await sql<{ n: number }>`select count(*) as n from t`.execute(trx);
      await insert(trx, `n${i}`);
      return Number(row.n);
    })));
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });

  test('a unique-constraint error rolls back only its own transaction', async () => {
    await sql`delete from t`.execute(handle.db);
    const outcomes = await Promise.allSettled(['a', 'b', 'a', 'c'].map((name, i) => inTx(handle.db, async (trx) => {
      await insert(trx, `${name}-${i}`);
      await insert(trx, name); // the second 'a' collides here, after a write of its own
    })));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.deepEqual(await rows(), ['a', 'a-0', 'b', 'b-1', 'c', 'c-3']);
  });

  test('when the shared transaction itself fails, nothing of the batch is applied and every caller hears it', async () => {
    await sql`delete from t`.execute(handle.db);
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => inTx(handle.db, async (trx) => {
      await insert(trx, `w${i}`);
      // Ends the shared SQLite transaction underneath the batch, as an I/O error would.
      if (i === 2) await sql`rollback`.execute(trx);
    })));
    assert.deepEqual(outcomes.map((o) => o.status), Array(6).fill('rejected'));
    assert.deepEqual(await rows(), []);
    // The database is usable afterwards.
    await inTx(handle.db, (trx) => insert(trx, 'after'));
    assert.deepEqual(await rows(), ['after']);
  });

  // The edges answer the refusal 503 OVERLOADED (HTTP) or LL_CDR_ERROR=OVERLOADED (AGI): test/db/overloaded.test.ts.
  test('the wait queue is bounded: beyond it, writes are refused with OverloadedError', async () => {
    const batcher = new TransactionBatcher(handle.db, { maxPerBatch: 2, maxQueued: 3 });
    await sql`delete from t`.execute(handle.db);
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => batcher.run((trx) => insert(trx, `q${i}`))));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    const refusal = (outcomes[3] as PromiseRejectedResult).reason;
    assert.ok(refusal instanceof OverloadedError, String(refusal));
    assert.equal(refusal.code, 'OVERLOADED');
    assert.equal(refusal.toAppError().status, 503);
    assert.deepEqual(await rows(), ['q0', 'q1', 'q2']);
  });
});
