// The Fastify application: health, docs, metrics, and one plugin per API family.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { registry } from '../metrics.js';
import { ConnectionGuard } from '../net/connection-guard.js';
import { adminApi } from './admin-api.js';
import { registerApi } from './api-plugin.js';
import { clientApi } from './client-api.js';
import type { ApiDefinition } from './endpoint.js';
import { registerFallbackReplies } from './fallback-replies.js';
import { openApiDocument } from './openapi.js';
import { resellerApi } from './reseller-api.js';
import { RawBody } from './wire-input.js';
import { switchApi } from './switch-api.js';
import { smsApi } from './sms-api.js';
import { esimApi } from './esim-api.js';
import { registerSmsCallbacks } from './sms-callbacks.js';

export const VERSION = '0.1.0';
export const APIS: ApiDefinition[] = [clientApi, resellerApi, adminApi, switchApi, smsApi, esimApi];

/** Node checks request and header deadlines on this beat: a timeout fires within a second of its bound. */
const DEADLINE_CHECK_INTERVAL_MS = 1000;

export function buildApp(ctx: Ctx, opts: { apis?: ApiDefinition[] } = {}): FastifyInstance {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    // Per-request access lines cost a third of the throughput; the audit log and metrics cover it.
    logController: new LogController({ disableRequestLogging: true }),
    // A child logger per request costs more than the rest of a `me` call; errors are logged
    // with their API and endpoint instead of a request id.
    childLoggerFactory: (logger) => logger,
    // A full add-rates batch (10,000 rows) fits the default; bigger rate tables go through the CSV import.
    bodyLimit: config.httpBodyLimitBytes,
    // Slow senders (a byte every few seconds) must not hold a connection: the whole request,
    // body included, has to arrive within the request timeout, its headers within theirs.
    requestTimeout: config.httpRequestTimeoutSeconds * 1000,
    keepAliveTimeout: config.httpKeepAliveTimeoutSeconds * 1000,
    http: {
      headersTimeout: config.httpHeadersTimeoutSeconds * 1000,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    },
    // A hop count, never `true`: with `true` the leftmost X-Forwarded-For entry, which the
    // client wrote, would be its address.
    trustProxy: config.trustProxyHops > 0 ? (_address: string, hop: number) => hop < config.trustProxyHops : false,
  });
  const guard = new ConnectionGuard({
    listener: 'http',
    maxConnections: config.httpMaxConnections,
    maxConnectionsPerAddress: config.httpMaxConnectionsPerAddress,
    log: ctx.log,
  });
  guard.attach(app.server);
  app.server.on('connection', (socket) => guard.admit(socket));
  // Every body reaches the API pipeline as it arrived, whatever its Content-Type (or none), and
  // is parsed there (wire-input.ts): JSON, form or multipart, errors in the API's envelope.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    done(null, new RawBody(request.headers['content-type'] ?? null, body as Buffer));
  });
  const apis = opts.apis ?? APIS;
  const docs = openApiDocument(apis, VERSION);

  app.get('/healthz', async (_req, reply) => {
    try {
      await sql`select 1`.execute(ctx.db);
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false, error: 'database unreachable', code: 'DB_UNAVAILABLE' });
    }
  });
  // Readiness, beside liveness: 200 once every plan's rate table is in memory (loaded in the
  // background at start), 503 naming the plans still loading. A balancer that waits for it
  // sends no call that would wait for a load.
  app.get('/readyz', async (_req, reply) => {
    const { ready, loading, loaded } = ctx.rates.readiness();
    if (ready) return { ok: true, plans_loaded: loaded };
    return reply.code(503).send({ ok: false, error: 'rate tables are loading', code: 'NOT_READY', plans_loaded: loaded, plans_loading: loading });
  });
  app.get('/docs', async () => docs);
  app.get('/docs/openapi.json', async () => docs);
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', registry.contentType);
    return registry.metrics();
  });
  for (const api of apis) registerApi(app, api, ctx);
  registerSmsCallbacks(app, ctx);
  registerFallbackReplies(app, apis);
  return app;
}
