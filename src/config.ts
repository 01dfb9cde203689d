// The server's environment variables (CONTRACT §1, README "Configuration"), parsed and typed
// in one place: the rest of the code takes them from Config, never from process.env. Three are
// read elsewhere on purpose: TZ by Node itself (the billing timezone util/time.ts renders in),
// LEDGERLINE_STRICT_SCHEMAS, a development switch of the answer checks (http/schema-runtime.ts),
// and LOG_LEVEL once more by the CLI, whose default is quieter (cli/main.ts).
import path from 'node:path';
import { parseAddressRules } from './net/addresses.js';

export interface Config {
  port: number;
  /** HTTP bind address. */
  host: string;
  /**
   * TRUST_PROXY=N: N reverse proxies stand in front (usually 1), so the client address is taken
   * from X-Forwarded-For, for per-address limits and the audit log: the entry N hops from the
   * right, the one the nearest trusted proxy appended. Entries further left were written by the
   * client and are never believed (a client cannot pick its address by sending the header).
   * 0 (the default): the socket's address.
   */
  trustProxyHops: number;
  /** Largest request body accepted (413 beyond); admits a full 10,000-row add-rates batch. */
  httpBodyLimitBytes: number;
  /** The whole request, headers and body, must arrive within this. */
  httpRequestTimeoutSeconds: number;
  /** The request headers must arrive within this (at most httpRequestTimeoutSeconds). */
  httpHeadersTimeoutSeconds: number;
  /** An idle keep-alive connection is closed after this. */
  httpKeepAliveTimeoutSeconds: number;
  httpMaxConnections: number;
  /** Per peer IPv4 address or IPv6 /64. */
  httpMaxConnectionsPerAddress: number;
  databaseUrl: string;
  /** PostgreSQL schema to use (tests isolate runs with it); empty = the server default. */
  databaseSchema: string;
  /** PostgreSQL: connections of the main pool (each request's transaction holds one). */
  databasePoolSize: number;
  adminApiKey: string | undefined;
  secret: string | undefined;
  dataDir: string;
  sipDomain: string;
  maxCallDurationSeconds: number;
  agiPort: number;
  /** FastAGI bind address, apart from HOST: publishing the HTTP API must not publish AGI. */
  agiHost: string;
  /** Switch addresses and CIDR blocks FastAGI serves; empty = whoever reaches agiHost (loopback only). */
  agiAllowedIps: string[];
  /** How long a FastAGI session may wait for Asterisk's next line. */
  agiIdleTimeoutSeconds: number;
  /** How long a whole FastAGI session may last. */
  agiSessionTimeoutSeconds: number;
  agiMaxConnections: number;
  agiMaxConnectionsPerAddress: number;
  janusUrl: string;
  janusTokenSecret: string | undefined;
  /** The eSIM upstream (eSIM Access style); unset: the built-in simulator (docs/esim.md). */
  esimUpstream: null | { url: string; accessCode: string; secretKey: string; timeoutMs: number };
  /** An eSIM purchase whose upstream order is unconfirmed this long is resolved by the worker. */
  esimPendingGraceSeconds: number;
  /** Minutes between refreshes of the eSIM catalog from the upstream. */
  esimCatalogRefreshMinutes: number;
  /** The built-in SMS simulator: milliseconds from a hand-over to its delivery report. */
  smsSimulatorReportMs: number;
  /** SMS_PROVIDERS: the providers messages may name, each with its adapter (docs/sms.md). */
  smsProviders: SmsProviderConfig[];
  /** SMS_DISPATCH=0: this instance sends no scheduled message or campaign (others on the database do). */
  smsDispatch: boolean;
  /**
   * A message handed over this long ago with no answer from its provider (the instance died,
   * the response never came) is marked FAILED with FATE_UNKNOWN, never sent again.
   */
  smsHandoverLeaseSeconds: number;
  demo: boolean;
  logLevel: string;
  /** Days an idempotency record (and its stored reply) is kept before the sweep deletes it. */
  idempotencyRetentionDays: number;
  /**
   * Heavy reads (history pages, reports, verify-ledger) running at once, away from the switch
   * path: worker threads on a SQLite file, connections of their own on PostgreSQL.
   */
  heavyReadWorkers: number;
  /** Heavy reads waiting for one of those; more are answered 503 OVERLOADED. */
  heavyReadQueue: number;
  /** A heavy read not answered within this (waiting included) is stopped and answered 503 OVERLOADED. */
  heavyReadTimeoutSeconds: number;
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

function addressListVar(env: NodeJS.ProcessEnv, name: string): string[] {
  const { rules, problem } = parseAddressRules(env[name] ?? '');
  if (problem) throw new ConfigError(`${name}: ${problem}; give comma-separated addresses or CIDR blocks, e.g. ${name}=10.0.0.5,10.0.1.0/24`);
  return rules;
}

/** ESIM_UPSTREAM_URL with ESIM_ACCESS_CODE and ESIM_SECRET_KEY, or none (the simulator). */
function esimUpstreamVar(env: NodeJS.ProcessEnv): Config['esimUpstream'] {
  const url = env.ESIM_UPSTREAM_URL;
  if (!url) return null;
  if (!/^https?:\/\//.test(url)) throw new ConfigError('ESIM_UPSTREAM_URL must be an http(s):// URL, e.g. https://api.esimaccess.com/api/v1/open');
  const accessCode = env.ESIM_ACCESS_CODE;
  const secretKey = env.ESIM_SECRET_KEY;
  if (!accessCode || !secretKey) throw new ConfigError('ESIM_UPSTREAM_URL needs ESIM_ACCESS_CODE and ESIM_SECRET_KEY');
  return { url, accessCode, secretKey, timeoutMs: intVar(env, 'ESIM_UPSTREAM_TIMEOUT_MS', 10_000, 100, 120_000) };
}

/** An SMS provider as SMS_PROVIDERS names it. */
export type SmsProviderConfig =
  | { code: string; name: string; adapter: 'simulator' }
  | {
    code: string; name: string; adapter: 'smpp';
    /** smpp://host:port (ssmpp:// for TLS). */
    url: string; systemId: string; password: string; systemType: string;
    /** submit_sm PDUs awaiting their response at once, per bind. */
    window: number;
    /** submit_sm PDUs per second, per bind. */
    tps: number;
    /** How long a submit_sm waits for its response before its fate counts as unknown. */
    responseTimeoutMs: number;
  }
  | {
    code: string; name: string; adapter: 'http';
    /** The provider's send URL, Kannel's `sendsms` shape (http://host:13013/cgi-bin/sendsms). */
    sendUrl: string; username: string; password: string;
    /** Ledgerline's address as the provider reaches it, for the delivery-report callback. */
    callbackBaseUrl: string;
    /** Signs the callback URL each message carries, so a forged report changes nothing. */
    dlrSecret: string;
    responseTimeoutMs: number;
  };

const DEFAULT_SMS_PROVIDERS: SmsProviderConfig[] = [{ code: 'cryptosms', name: 'CryptoSMS', adapter: 'simulator' }];

/**
 * SMS_PROVIDERS: a JSON list, e.g.
 * `[{"code":"cryptosms","name":"CryptoSMS","adapter":"smpp","url":"smpp://10.0.0.9:2775","system_id":"ll","password":"…"}]`;
 * the first is the default. Unset: `cryptosms` served by the built-in simulator.
 */
function smsProvidersVar(env: NodeJS.ProcessEnv): SmsProviderConfig[] {
  const text = env.SMS_PROVIDERS;
  if (!text) return DEFAULT_SMS_PROVIDERS;
  let list: unknown;
  try { list = JSON.parse(text); } catch { throw new ConfigError('SMS_PROVIDERS must be a JSON list of providers (see docs/sms.md)'); }
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError('SMS_PROVIDERS must be a non-empty JSON list of providers');
  const seen = new Set<string>();
  return list.map((raw, i): SmsProviderConfig => {
    const p = (raw ?? {}) as Record<string, unknown>;
    const where = `SMS_PROVIDERS[${i}]`;
    const code = typeof p.code === 'string' ? p.code.trim().toLowerCase() : '';
    if (!/^[a-z0-9_-]{1,32}$/.test(code)) throw new ConfigError(`${where}.code must be 1-32 letters, digits, - or _`);
    if (seen.has(code)) throw new ConfigError(`${where}.code ${code} is listed twice`);
    seen.add(code);
    const name = typeof p.name === 'string' && p.name.trim() !== '' ? p.name.trim() : code;
    if (p.adapter === 'simulator') return { code, name, adapter: 'simulator' };
    if (p.adapter !== 'smpp' && p.adapter !== 'http') throw new ConfigError(`${where}.adapter must be smpp, http or simulator`);
    const text = (key: string, fallback?: string) => {
      const v = p[key];
      if (typeof v === 'string' && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${where}.${key} is required for an SMPP provider`);
    };
    const int = (key: string, fallback: number, min: number, max: number) => {
      const v = p[key] ?? fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${where}.${key} must be an integer from ${min} to ${max}`);
      return v;
    };
    if (p.adapter === 'http') {
      const sendUrl = text('send_url');
      const callbackBaseUrl = text('callback_base_url').replace(/\/+$/, '');
      if (!/^https?:\/\//.test(sendUrl)) throw new ConfigError(`${where}.send_url must be an http(s):// URL`);
      if (!/^https?:\/\//.test(callbackBaseUrl)) throw new ConfigError(`${where}.callback_base_url must be an http(s):// URL`);
      const dlrSecret = text('dlr_secret');
      if (dlrSecret.length < 16) throw new ConfigError(`${where}.dlr_secret must be at least 16 characters`);
      return {
        code, name, adapter: 'http', sendUrl, username: text('username'), password: text('password'), callbackBaseUrl, dlrSecret,
        responseTimeoutMs: int('response_timeout_ms', 10_000, 100, 600_000),
      };
    }
    const url = text('url');
    if (!/^s?smpp:\/\/[^/:]+:\d+\/?$/.test(url)) throw new ConfigError(`${where}.url must be smpp://host:port or ssmpp://host:port`);
    return {
      code, name, adapter: 'smpp', url, systemId: text('system_id'), password: text('password'), systemType: text('system_type', ''),
      window: int('window', 10, 1, 1000), tps: int('tps', 100, 1, 100_000), responseTimeoutMs: int('response_timeout_ms', 10_000, 100, 600_000),
    };
  });
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
  const trustProxyHops = intVar(env, 'TRUST_PROXY', 0, 0, 10);
  const httpRequestTimeoutSeconds = intVar(env, 'HTTP_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600);
  const httpHeadersTimeoutSeconds = intVar(env, 'HTTP_HEADERS_TIMEOUT_SECONDS', Math.min(10, httpRequestTimeoutSeconds), 1, 3600);
  if (httpHeadersTimeoutSeconds > httpRequestTimeoutSeconds) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_SECONDS (${httpHeadersTimeoutSeconds}) must not exceed HTTP_REQUEST_TIMEOUT_SECONDS (${httpRequestTimeoutSeconds}): the headers are part of the request`);
  }
  const httpMaxConnections = intVar(env, 'HTTP_MAX_CONNECTIONS', 10_000, 1, 1_000_000);
  const agiMaxConnections = intVar(env, 'AGI_MAX_CONNECTIONS', 1000, 1, 1_000_000);
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '127.0.0.1',
    trustProxyHops,
    httpBodyLimitBytes: intVar(env, 'HTTP_BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    httpRequestTimeoutSeconds,
    httpHeadersTimeoutSeconds,
    httpKeepAliveTimeoutSeconds: intVar(env, 'HTTP_KEEP_ALIVE_TIMEOUT_SECONDS', 65, 1, 3600),
    httpMaxConnections,
    // A switch on the HTTP Switch API opens a connection per concurrent authorization, and
    // bursts past a few hundred; behind a reverse proxy every connection comes from the proxy.
    httpMaxConnectionsPerAddress: intVar(env, 'HTTP_MAX_CONNECTIONS_PER_ADDRESS', trustProxyHops > 0 ? httpMaxConnections : Math.min(1024, httpMaxConnections), 1, 1_000_000),
    databaseUrl,
    databaseSchema: env.DATABASE_SCHEMA || '',
    databasePoolSize: intVar(env, 'DATABASE_POOL_SIZE', 10, 1, 500),
    adminApiKey: env.ADMIN_API_KEY || undefined,
    secret: env.LEDGERLINE_SECRET || undefined,
    dataDir,
    sipDomain: env.SIP_DOMAIN || 'ledgerline.local',
    maxCallDurationSeconds: intVar(env, 'MAX_CALL_DURATION', 3600, 1, 86400),
    agiPort: intVar(env, 'AGI_PORT', 4573, 0, 65535),
    agiHost: env.AGI_HOST || '127.0.0.1',
    agiAllowedIps: addressListVar(env, 'AGI_ALLOWED_IPS'),
    agiIdleTimeoutSeconds: intVar(env, 'AGI_IDLE_TIMEOUT_SECONDS', 30, 1, 3600),
    agiSessionTimeoutSeconds: intVar(env, 'AGI_SESSION_TIMEOUT_SECONDS', 60, 1, 3600),
    agiMaxConnections,
    // Only switches reach FastAGI (loopback or the allow-list), and one switch may need every session.
    agiMaxConnectionsPerAddress: intVar(env, 'AGI_MAX_CONNECTIONS_PER_ADDRESS', agiMaxConnections, 1, 1_000_000),
    janusUrl: env.JANUS_URL || 'ws://127.0.0.1:8188/janus',
    janusTokenSecret: env.JANUS_TOKEN_SECRET || undefined,
    smsSimulatorReportMs: intVar(env, 'SMS_SIMULATOR_REPORT_MS', 1000, 0, 600_000),
    esimUpstream: esimUpstreamVar(env),
    esimCatalogRefreshMinutes: intVar(env, 'ESIM_CATALOG_REFRESH_MINUTES', 360, 1, 10_080),
    esimPendingGraceSeconds: intVar(env, 'ESIM_PENDING_GRACE_SECONDS', 60, 1, 86_400),
    smsProviders: smsProvidersVar(env),
    smsDispatch: env.SMS_DISPATCH !== '0' && env.SMS_DISPATCH !== 'false',
    smsHandoverLeaseSeconds: intVar(env, 'SMS_HANDOVER_LEASE_SECONDS', 120, 1, 86_400),
    demo: env.DEMO === '1' || env.DEMO === 'true',
    logLevel: env.LOG_LEVEL || 'info',
    idempotencyRetentionDays: intVar(env, 'IDEMPOTENCY_RETENTION_DAYS', 7, 1, 3650),
    // Two: history pages keep answering while a report runs, and two cores are left to the switch.
    heavyReadWorkers: intVar(env, 'HEAVY_READ_WORKERS', 2, 1, 32),
    heavyReadQueue: intVar(env, 'HEAVY_READ_QUEUE', 64, 0, 100_000),
    heavyReadTimeoutSeconds: intVar(env, 'HEAVY_READ_TIMEOUT_SECONDS', 30, 1, 3600),
  };
}
