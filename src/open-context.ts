// The service context without the HTTP server: the database (migrated), the master secret and
// the caches. The server builds on it; the CLI opens it alone, and starts without loading the
// HTTP stack.
import fs from 'node:fs';
import pino, { type Logger } from 'pino';
import { batchSwitchCalls, SwitchBatch } from './calls/switch-batch.js';
import { MemoryAttemptLimiter, SharedAttemptLimiter } from './accounts/attempt-limiter.js';
import { loadMasterSecret, SecretBox } from './accounts/credentials.js';
import type { Config } from './config.js';
import type { Ctx } from './context.js';
import { openDatabase, type DbHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrations.js';
import { reportStrayQueriesTo } from './db/tx.js';
import { RateCache } from './plans/rate-cache.js';

export class StartupError extends Error {}

async function checkSecretFingerprint(handle: DbHandle, secrets: SecretBox): Promise<void> {
  const row = await handle.db.selectFrom('settings').select('value').where('key', '=', 'secret_fingerprint').executeTakeFirst();
  if (!row) {
    await handle.db.insertInto('settings').values({ key: 'secret_fingerprint', value: secrets.fingerprint })
      .onConflict((oc) => oc.column('key').doNothing()).execute();
    return;
  }
  if (row.value !== secrets.fingerprint) {
    throw new StartupError(
      'LEDGERLINE_SECRET does not match the secret this database was created with, so stored SIP secrets could not be read. '
      + 'Set LEDGERLINE_SECRET to the original value (or restore data/secret.key).',
    );
  }
}

/** Opens the database, migrates it and builds the service context. */
export async function openContext(config: Config, log: Logger): Promise<{ ctx: Ctx; handle: DbHandle; secretCreated: boolean }> {
  const handle = openDatabase(config.databaseUrl, config.databaseSchema, {
    heavyReads: {
      concurrency: config.heavyReadWorkers,
      maxQueued: config.heavyReadQueue,
      timeoutMs: config.heavyReadTimeoutSeconds * 1000,
    },
    poolSize: config.databasePoolSize,
    log,
  });
  reportStrayQueriesTo(handle.db, log);
  await migrateToLatest(handle.db, handle.dialect);
  // The data directory holds secret.key (and by default the database): the operator's alone.
  if (!config.secret) fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { secret, created } = loadMasterSecret(config.secret, config.dataDir);
  const secrets = new SecretBox(secret);
  await checkSecretFingerprint(handle, secrets);
  const ctx: Ctx = {
    db: handle.db, dialect: handle.dialect, config, secrets, log,
    // Several instances may share a PostgreSQL database, and must share the failure counts.
    limiter: handle.pgSidePool
      ? new SharedAttemptLimiter(handle.pgSidePool, (err) => log.warn({ err }, 'attempt counter take-back failed'))
      : new MemoryAttemptLimiter(),
    rates: new RateCache(handle.db, {
      // A file database is read by load threads of their own; an in-memory one only through its connection.
      sqliteFile: handle.sqlite && !handle.sqlite.memory ? handle.sqlite.name : undefined,
      postgres: handle.dialect === 'postgres',
      log,
    }),
    reads: handle.reads,
    durable: () => handle.durable(),
    sqliteReader: handle.sqliteReader,
  };
  // The switch path shares transactions among the calls that arrive together (docs/postgres.md).
  if (handle.dialect === 'postgres') batchSwitchCalls(handle.db, new SwitchBatch(ctx));
  return { ctx, handle, secretCreated: created };
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { service: 'ledgerline' } });
}
