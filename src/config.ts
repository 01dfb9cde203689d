// Every environment variable Ledgerline reads, parsed and typed in one place (CONTRACT §1).
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  /** PostgreSQL schema to use (tests isolate runs with it); empty = the server default. */
  databaseSchema: string;
  adminApiKey: string | undefined;
  secret: string | undefined;
  dataDir: string;
  sipDomain: string;
  maxCallDurationSeconds: number;
  agiPort: number;
  janusUrl: string;
  janusTokenSecret: string | undefined;
  demo: boolean;
  logLevel: string;
  /** Days an idempotency record (and its stored reply) is kept before the sweep deletes it. */
  idempotencyRetentionDays: number;
}

export class ConfigError extends Error {}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || 'sqlite:./data/ledgerline.db';
  if (!databaseUrl.startsWith('sqlite:') && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be sqlite:PATH or postgres://user:pass@host:port/db, got "${databaseUrl}"`);
  }
  const dataDir = env.LEDGERLINE_DATA_DIR
    || (databaseUrl.startsWith('sqlite:') && databaseUrl !== 'sqlite::memory:'
      ? path.dirname(path.resolve(databaseUrl.slice('sqlite:'.length)))
      : path.resolve('./data'));
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseSchema: env.DATABASE_SCHEMA || '',
    adminApiKey: env.ADMIN_API_KEY || undefined,
    secret: env.LEDGERLINE_SECRET || undefined,
    dataDir,
    sipDomain: env.SIP_DOMAIN || 'ledgerline.local',
    maxCallDurationSeconds: intVar(env, 'MAX_CALL_DURATION', 3600, 1, 86400),
    agiPort: intVar(env, 'AGI_PORT', 4573, 0, 65535),
    janusUrl: env.JANUS_URL || 'ws://127.0.0.1:8188/janus',
    janusTokenSecret: env.JANUS_TOKEN_SECRET || undefined,
    demo: env.DEMO === '1' || env.DEMO === 'true',
    logLevel: env.LOG_LEVEL || 'info',
    idempotencyRetentionDays: intVar(env, 'IDEMPOTENCY_RETENTION_DAYS', 7, 1, 3650),
  };
}
