// Start-up: config -> database (migrated) -> secrets -> admin bootstrap -> HTTP server.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { warmPasswordHashing } from './accounts/credentials.js';
import { bootstrapAdmin } from './accounts/provisioning.js';
import type { Config } from './config.js';
import type { Ctx } from './context.js';
import { createLogger, openContext, StartupError } from './open-context.js';
import { buildApp } from './http/app.js';
import { startReservationExpiry } from './calls/reservation-expiry.js';
import { startIdempotencyExpiry } from './idempotency/expiry.js';
import { SmsGateway } from './sms/gateway.js';
import { startEsimCatalogRefresh } from './esim/catalog.js';
import { startEsimWorker } from './esim/worker.js';
import { startFastAgiServer, type FastAgiServer } from './agi/fastagi-server.js';
import { isLoopbackHost } from './net/addresses.js';
import type { FastifyInstance } from 'fastify';

export { createLogger, openContext, StartupError } from './open-context.js';

export interface RunningServer {
  app: FastifyInstance;
  ctx: Ctx;
  url: string;
  adminKeyCreated: string | null;
  /** The FastAGI port, or null when AGI_PORT=0 turned it off. */
  agiPort: number | null;
  close(): Promise<void>;
}

/** The web phone's gateway address is handed to browsers: a loopback one works only on this host. */
function janusUrlIsLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/**
 * FastAGI has no authentication: whoever reaches it can authorize calls and charge CDRs. Off
 * this machine it may listen only behind an allow-list of the switches' addresses.
 */
function checkAgiExposure(config: Config): void {
  if (config.agiPort === 0 || isLoopbackHost(config.agiHost) || config.agiAllowedIps.length > 0) return;
  throw new StartupError(
    `FastAGI would listen on ${config.agiHost}, reachable from the network, and FastAGI has no authentication. `
    + 'Set AGI_ALLOWED_IPS to your Asterisk servers\' addresses (e.g. AGI_ALLOWED_IPS=10.0.0.5,10.0.1.0/24), '
    + 'or set AGI_HOST=127.0.0.1 when Asterisk runs on this machine (or AGI_PORT=0 to turn FastAGI off).',
  );
}

/** Linux: the soft limit on open files, or null where it cannot be read. */
function openFileLimit(): number | null {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

/** Connection caps above the open-file limit would fail as EMFILE, taking /healthz and the database down with them. */
function warnIfCapsExceedFileLimit(config: Config, log: Logger): void {
  const limit = openFileLimit();
  // Database files, pools, logs and the listeners themselves need descriptors too.
  const needed = config.httpMaxConnections + (config.agiPort === 0 ? 0 : config.agiMaxConnections) + 100;
  if (limit !== null && needed > limit) {
    log.warn({ openFileLimit: limit, httpMaxConnections: config.httpMaxConnections, agiMaxConnections: config.agiMaxConnections },
      'the connection limits exceed the open-file limit: raise it (systemd LimitNOFILE=, ulimit -n) or lower HTTP_MAX_CONNECTIONS/AGI_MAX_CONNECTIONS');
  }
}

export async function startServer(config: Config, log: Logger = createLogger(config)): Promise<RunningServer> {
  if (config.adminApiKey !== undefined && config.adminApiKey.length < 24) {
    throw new StartupError('ADMIN_API_KEY must be at least 24 characters; generate one with: openssl rand -base64 32');
  }
  checkAgiExposure(config);
  warnIfCapsExceedFileLimit(config, log);
  const { ctx, handle, secretCreated } = await openContext(config, log);
  if (secretCreated) log.warn({ dataDir: config.dataDir }, 'generated LEDGERLINE_SECRET into data/secret.key; back it up');
  const admin = await bootstrapAdmin(ctx, config.adminApiKey);
  const app = buildApp(ctx);
  await app.listen({ port: config.port, host: config.host });
  let agi: FastAgiServer | null = null;
  if (config.agiPort !== 0) {
    try {
      agi = await startFastAgiServer(ctx, {
        host: config.agiHost,
        port: config.agiPort,
        allowedIps: config.agiAllowedIps,
        idleTimeoutMs: config.agiIdleTimeoutSeconds * 1000,
        sessionTimeoutMs: config.agiSessionTimeoutSeconds * 1000,
        maxConnections: config.agiMaxConnections,
        maxConnectionsPerAddress: config.agiMaxConnectionsPerAddress,
      });
    } catch (err) {
      await app.close();
      await handle.close();
      throw new StartupError(`FastAGI could not listen on ${config.agiHost}:${config.agiPort} (${(err as Error).message}); set AGI_PORT to a free port (or AGI_HOST to an address of this machine), or AGI_PORT=0 to turn it off`);
    }
  }
  if (agi && !isLoopbackHost(config.host) && isLoopbackHost(config.agiHost)) {
    // Before AGI_HOST, FastAGI followed HOST: a switch on another machine now needs AGI_HOST.
    log.info({ host: config.host, agiHost: config.agiHost }, 'HTTP is published but FastAGI listens on this machine only; for a switch elsewhere set AGI_HOST and AGI_ALLOWED_IPS');
  }
  if (config.janusTokenSecret && janusUrlIsLoopback(config.janusUrl)) {
    log.warn({ janusUrl: config.janusUrl }, 'JANUS_URL points at this machine: web phones on other machines cannot reach it; set JANUS_URL to the gateway\'s public wss:// address');
  }
  // Every plan's rate table, loaded in the background once the server listens: `/readyz` says
  // when all are in memory, and a call for one still loading waits for that one alone.
  const preloadStarted = performance.now();
  void ctx.rates.preload().then(
    () => log.info({ plans: ctx.rates.readiness().loaded, ms: Math.round(performance.now() - preloadStarted) }, 'rate tables loaded'),
    (err: unknown) => log.warn({ err }, 'rate table preload stopped'),
  );
  void warmPasswordHashing().catch((err: unknown) => log.warn({ err }, 'password hashing warm-up failed'));
  const smsGateway = new SmsGateway(ctx);
  ctx.sms = smsGateway;
  smsGateway.start();
  const stopEsimCatalog = startEsimCatalogRefresh(ctx);
  const stopEsimWorker = startEsimWorker(ctx);
  const stopExpiry = startReservationExpiry(ctx);
  const stopIdempotencyExpiry = startIdempotencyExpiry(ctx);
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  return {
    app, ctx, url, adminKeyCreated: admin.apiKey, agiPort: agi?.port ?? null,
    async close() {
      stopExpiry();
      stopEsimCatalog();
      await stopEsimWorker();
      await ctx.sms?.close();
      await ctx.rates.close();
      await stopIdempotencyExpiry();
      await agi?.close();
      await app.close();
      await handle.close();
    },
  };
}
