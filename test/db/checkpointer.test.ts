// WAL checkpoints off the event loop: the connection the server commits on never checkpoints
// (a commit that met a large WAL used to copy it into the file on the event loop), and the
// checkpointer thread keeps the WAL bounded all the same, without costing durability.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-ckpt-'));
const PAGE_BYTES = 4096;
/** A transaction of ~1 MB: 256 pages, a quarter of SQLite's default auto-checkpoint threshold. */
const BLOB = Buffer.alloc(1 << 20, 7);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const walBytes = (file: string) => fs.statSync(`${file}-wal`).size;

const count = (file: string) => {
  const check = new SqliteDatabase(file, { readonly: true });
  try {
    return (check.prepare('select count(*) as n from t').get() as { n: number }).n;
  } finally {
    check.close();
  }
};

after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('WAL checkpoints run in a thread, not in the committing connection', () => {
  let handle: DbHandle;
  const file = path.join(dir, 'commit.db');
  before(() => {
    // A checkpointer that does not tick during the test: what checkpoints is only what we ask.
    handle = openDatabase(`sqlite:${file}`, '', { checkpointIntervalMs: 3_600_000 });
    handle.sqlite!.exec('create table t (id integer primary key, b blob)');
  });
  after(() => handle.close());

  test('the connection commits never checkpoint: wal_autocheckpoint is 0 on it', () => {
    assert.equal(handle.sqlite!.pragma('wal_autocheckpoint', { simple: true }), 0);
  });

  test('a commit past the auto-checkpoint threshold copies nothing in the committing thread', () => {
    // 8 MB in one transaction is 2,000 pages, twice SQLite's default threshold: with automatic
    // checkpoints on, this commit would have copied them into the main file before returning.
    const insert = handle.sqlite!.prepare('insert into t (b) values (?)');
    handle.sqlite!.transaction(() => { for (let i = 0; i < 8; i++) insert.run(BLOB); })();
    const mainBytes = fs.statSync(file).size;
    assert.ok(mainBytes < 1024 * 1024, `the main file grew to ${mainBytes} bytes in the commit: it checkpointed`);
    assert.ok(walBytes(file) > 8 * 1024 * 1024, 'the commit is in the WAL');
    assert.equal(count(file), 8);
  });

  test('the checkpointer thread copies the WAL into the file', async () => {
    await handle.checkpointer!.checkpointNow();
    const stats = handle.checkpointer!.stats;
    assert.equal(stats.lastError, null);
    assert.ok(stats.framesCopied >= 2000, `copied ${stats.framesCopied} frames`);
    assert.equal(stats.lastCheckpointedFrames, stats.lastLogFrames, 'the whole WAL was copied');
    assert.ok(fs.statSync(file).size > 8 * 1024 * 1024, 'the rows are in the main file');
  });
});

describe('the checkpointer keeps the WAL bounded', () => {
  const file = path.join(dir, 'steady.db');

  test('steady writes: the WAL holds what is written between two checkpoints, not all of it', async () => {
    const handle = openDatabase(`sqlite:${file}`, '', { checkpointIntervalMs: 20 });
    try {
      handle.sqlite!.exec('create table t (id integer primary key, b blob)');
      const insert = handle.sqlite!.prepare('insert into t (b) values (?)');
      // 40 MB over ~2 s in 1 MB commits: without checkpoints the WAL would hold all of it.
      for (let i = 0; i < 40; i++) {
        insert.run(BLOB);
        await sleep(50);
      }
      const bytes = walBytes(file);
      assert.ok(bytes < 12 * 1024 * 1024, `the WAL is ${bytes} bytes after 40 MB written`);
      await handle.checkpointer!.checkpointNow();
      assert.equal(handle.checkpointer!.stats.lastError, null);
      assert.ok(handle.checkpointer!.stats.lastLogFrames * PAGE_BYTES < 12 * 1024 * 1024);
    } finally {
      await handle.close();
    }
    // Closed: the last connection folded the WAL into the file; another one reads every row.
    assert.equal(count(file), 40);
  });
});
