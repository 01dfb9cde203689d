// One Kysely instance per dialect: opening, pragmas, pools and type parsing. What else differs
// between SQLite and PostgreSQL (transaction start, row locks, bulk writes) is in dialect.ts,
// schema differences in migrations.ts.
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { PostgresDialect } from 'kysely';
import type { Logger } from 'pino';
import { ImmediateSqliteDialect, type Dialect } from './dialect.js';
import { DEFAULT_HEAVY_READ_LIMITS, InlineReads, PostgresReads, type HeavyReadLimits, type HeavyReads } from './heavy-reads.js';
import { SqliteReadWorkers } from './read-workers.js';
import type { Database, Db } from './schema.js';
import { WalCheckpointer } from './checkpointer.js';
import { statementName } from './statement-names.js';
import { batchTransactionsOf, guardedDatabase } from './tx.js';
import { TransactionBatcher } from './tx-batch.js';
import { WalSync } from './wal-sync.js';

export type { Dialect };
// Declared beside the tables, which tx.ts also needs without importing this file (it builds on tx.ts).
export type { Db, Trx } from './schema.js';

export interface DbHandle {
  db: Db;
  dialect: Dialect;
  /** Resolves once every transaction committed so far is on disk (group commit on SQLite). */
  durable(): Promise<void>;
  /** SQLite only: the connection under Kysely, for bulk paths where the query builder costs too much. */
  sqlite?: SqliteDatabase.Database;
  /**
   * SQLite only: a second, read-only connection for hot reads (API key lookups). It sees only
   * committed data and never waits behind a transaction holding the main connection.
   */
  sqliteReader?: SqliteDatabase.Database;
  /**
   * PostgreSQL only: a small pool of its own for statements that must commit on their own, never
   * inside a request's transaction nor waiting for a connection of the main pool.
   */
  pgSidePool?: pg.Pool;
  /** Where list and report queries run, away from the switch path (heavy-reads.ts). */
  reads: HeavyReads;
  /** SQLite file only: the thread that checkpoints the WAL, so that no commit of `sqlite` does (checkpointer.ts). */
  checkpointer?: WalCheckpointer;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** SQLite file: how often the WAL is checkpointed, off the event loop (checkpointer.ts). */
  checkpointIntervalMs?: number;
  heavyReads?: HeavyReadLimits;
  /** PostgreSQL: connections of the main pool (DATABASE_POOL_SIZE). */
  poolSize?: number;
  /** Told when a heavy read worker dies. */
  log?: Logger;
}

/** better-sqlite3 prepares a statement per query in Kysely; a bounded cache makes repeats free. */
function withStatementCache(sqlite: SqliteDatabase.Database, maxStatements = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

/** int8 (counts, ids, money micros) as exact JS numbers; refuses anything past 2^53. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value out of exact range: ${text}`);
  return n;
}

/**
 * The database holds SIP digests (`ha1`) and key hashes: like secret.key it is the operator's
 * alone. A new file is created 0600 (SQLite gives its -wal and -shm files the mode of the
 * database file), directories Ledgerline creates 0700. An existing file loses other users'
 * access but keeps its group's, which an Asterisk on the same host may need to read it.
 */
function createPrivately(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const mode = fs.statSync(f).mode & 0o777;
      if (mode & 0o007) fs.chmodSync(f, mode & 0o770);
    } catch (err) {
      // Absent (-wal/-shm between runs) is fine; a file of another user is left as it is.
      if (!['ENOENT', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
}

/**
 * node-pg writes each message of a query (Parse, Bind, Describe, Execute, Sync) to the socket
 * on its own: five write syscalls a query, and with TCP_NODELAY five segments, each waking the
 * PostgreSQL backend to read a fraction of the query (on a small machine where both share
 * the cores, each wake-up can preempt the event loop). Corking the socket until the end of the
 * tick sends a query's messages in one write. Reaches into node-pg's connection (pinned
 * version; checked by test/db/pg-writes.test.ts).
 */
function coalesceWrites(client: pg.PoolClient): void {
  const connection = (client as unknown as { connection?: { stream?: { cork(): void; uncork(): void }; _send?: (buffer: Buffer) => boolean } }).connection;
  const stream = connection?.stream;
  const send = connection?._send?.bind(connection);
  if (!connection || !stream || !send) return;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  connection._send = (buffer: Buffer) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return send(buffer);
  };
}

/** Main pool connections on PostgreSQL when not configured (DATABASE_POOL_SIZE). */
const DEFAULT_POOL_SIZE = 10;

export function openDatabase(databaseUrl: string, schema = '', opts: OpenOptions = {}): DbHandle {
  const readLimits = opts.heavyReads ?? DEFAULT_HEAVY_READ_LIMITS;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== ':memory:') createPrivately(path.resolve(file));
    const sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL: commits do not fsync; WalSync.durable() fsyncs the WAL for a whole batch of them
    // before any of their requests is answered (group commit), so acknowledged writes survive
    // power loss as with FULL.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('cache_size = -65536'); // 64 MiB page cache: rates, accounts and indexes stay hot
    sqlite.pragma('foreign_keys = ON');
    const onDisk = file !== ':memory:' && file !== '';
    // Commits on this connection never checkpoint (they run on the event loop); a thread does.
    if (onDisk) sqlite.pragma('wal_autocheckpoint = 0');
    const checkpointer = onDisk ? new WalCheckpointer(path.resolve(file), opts.checkpointIntervalMs) : undefined;
    const db = guardedDatabase(new ImmediateSqliteDialect({ database: withStatementCache(sqlite) as never }));
    // Transactions run through inTx() share BEGIN/COMMIT with those arriving alongside them.
    batchTransactionsOf(db, new TransactionBatcher(db, undefined, sqlite));
    const sqliteReader = file === ':memory:' ? undefined : new SqliteDatabase(file, { readonly: true });
    sqliteReader?.pragma('busy_timeout = 5000');
    const wal = new WalSync(file === ':memory:' ? '/dev/null' : `${path.resolve(file)}-wal`);
    // An in-memory database lives in this thread alone: its heavy reads run in place.
    const reads: HeavyReads = file === ':memory:' || file === ''
      ? new InlineReads()
      : new SqliteReadWorkers(path.resolve(file), readLimits, { log: opts.log });
    return {
      db, dialect: 'sqlite', sqlite, sqliteReader, reads, checkpointer, durable: () => wal.durable(),
      // The checkpointer closes last: the last connection to close folds the WAL into the file.
      close: async () => { await reads.close(); await db.destroy(); sqliteReader?.close(); await checkpointer?.close(); wal.close(); },
    };
  }
  const types = {
    getTypeParser(oid: number, format?: string) {
      if (oid === 20) return parseInt8;
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  // Pools connect only when first used.
  const newPool = (max: number, settings: string[] = []) => {
    const options = [...(schema ? [`-c search_path=${schema}`] : []), ...settings].join(' ');
    const p = new pg.Pool({
      connectionString: databaseUrl,
      max,
      types: types as never,
      ...(options ? { options } : {}),
    });
    // An idle connection dropped by the server (restart, idle timeout) is replaced on next use;
    // without a listener its 'error' event would end the process.
    p.on('error', () => {});
    return p;
  };
  // The main pool runs short statements (the switch path, the APIs' writes): starting a parallel
  // plan's workers costs more than any of them takes. A table whose statistics are missing or old
  // (autovacuum off, a reservations table full of dead rows) made the planner pick parallel
  // scans for the switch batch's reads, at a third of the throughput.
  const pool = newPool(opts.poolSize ?? DEFAULT_POOL_SIZE, ['-c max_parallel_workers_per_gather=0']);
  // The hot path's queries as named statements, planned once per connection (statement-names.ts).
  pool.on('connect', (client) => {
    coalesceWrites(client);
    const query = client.query.bind(client) as (config: unknown, values?: unknown) => Promise<unknown>;
    (client as { query: unknown }).query = (text: unknown, values?: unknown) => {
      const name = typeof text === 'string' ? statementName(text) : undefined;
      return name === undefined ? query(text, values) : query({ name, text, values });
    };
  });
  const db = guardedDatabase(new PostgresDialect({ pool }));
  const pgSidePool = newPool(2);
  // Heavy reads on connections of their own; the server stops one that outlives its deadline.
  const reads = new PostgresReads(
    newPool(readLimits.concurrency, [`-c statement_timeout=${readLimits.timeoutMs}`]),
    readLimits,
  );
  // PostgreSQL commits are durable when they return (synchronous_commit = on).
  return {
    db, dialect: 'postgres', pgSidePool, reads, durable: async () => {},
    close: async () => { await reads.close(); await db.destroy(); await pgSidePool.end(); },
  };
}
