import type { Logger } from 'pino';
import type { AttemptLimiter } from './accounts/attempt-limiter.js';
import type { SecretBox } from './accounts/credentials.js';
import type { Config } from './config.js';
import type { Db, Dialect, Trx } from './db/connect.js';
import type { HeavyReads } from './db/heavy-reads.js';
import type { RateCache } from './plans/rate-cache.js';
import type { SmsHandOff } from './sms/providers/adapter.js';

/** What every service function is given: storage, configuration and shared helpers. */
export interface Ctx {
  db: Db | Trx;
  dialect: Dialect;
  config: Config;
  secrets: SecretBox;
  log: Logger;
  limiter: AttemptLimiter;
  /** In-memory rate tables of plans, for rating calls. */
  rates: RateCache;
  /** Runs list and report queries away from the switch path (db/heavy-reads.ts). */
  reads: HeavyReads;
  /** Resolves once all committed writes are on disk; await it before acknowledging a write. */
  durable(): Promise<void>;
  /** The SMS providers' adapters (a running server's; the CLI has none). */
  sms?: SmsHandOff;
  /** SQLite: the read-only connection for hot lookups (see DbHandle.sqliteReader). */
  sqliteReader?: import('better-sqlite3').Database;
}

/**
 * A context bound to an open transaction. A helper that must run inside its caller's
 * transaction takes a TxCtx: handing it a plain ctx (the base database) does not compile.
 */
export interface TxCtx extends Ctx {
  db: Trx;
}

/** The same context bound to an open transaction. */
export const withTrx = (ctx: Ctx, trx: Trx): TxCtx => ({ ...ctx, db: trx });
