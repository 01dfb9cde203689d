// The Fastify application: health, docs, metrics, and one plugin per API family.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { AppError } from '../errors.js';
import { registry } from '../metrics.js';
import { adminApi } from './admin-api.js';
import { registerApi, toAppError } from './api-plugin.js';
import { clientApi } from './client-api.js';
import type { ApiDefinition } from './endpoint.js';
import { openApiDocument } from './openapi.js';
import { resellerApi } from './reseller-api.js';
import { switchApi } from './switch-api.js';

export const VERSION = '0.1.0';
export const APIS: ApiDefinition[] = [clientApi, resellerApi, adminApi, switchApi];

export function buildApp(ctx: Ctx, opts: { apis?: ApiDefinition[] } = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    // Per-request access lines cost a third of the throughput; the audit log and metrics cover it.
    logController: new LogController({ disableRequestLogging: true }),
    // A child logger per request costs more than the rest of a `me` call; errors are logged
    // with their API and endpoint instead of a request id.
    childLoggerFactory: (logger) => logger,
    bodyLimit: 8 * 1024 * 1024,
    trustProxy: process.env.TRUST_PROXY === '1',
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
  app.get('/docs', async () => docs);
  app.get('/docs/openapi.json', async () => docs);
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', registry.contentType);
    return registry.metrics();
  });
  for (const api of apis) registerApi(app, api, ctx);
  // An unknown path or method under an API's path answers in that API's envelope (CONTRACT §2),
  // and so does a body refused before any route ran (a malformed body sent to such a path).
  const familyOf = (url: string) => apis.find((a) => url === a.basePath || url.startsWith(`${a.basePath}/`) || url.startsWith(`${a.basePath}?`));
  const refusal = (url: string, err: AppError) => ({
    [familyOf(url)?.flag ?? 'ok']: false, error: err.message, code: err.code, ...(err.field ? { field: err.field } : {}),
  });
  app.setNotFoundHandler((req, reply) => {
    const api = familyOf(req.url);
    const message = api ? `Not found; call ${api.basePath}/index.php?endpoint=NAME with GET or POST` : 'Not found';
    return reply.code(404).send(refusal(req.url, new AppError(404, 'NOT_FOUND', message)));
  });
  app.setErrorHandler((err, req, reply) => {
    let appErr = toAppError(err);
    if (!appErr) {
      req.log.error({ err, url: req.url }, 'request failed');
      appErr = new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied');
    }
    return reply.code(appErr.status).send(refusal(req.url, appErr));
  });
  return app;
}
