// The Fastify application: health, docs, metrics, and one plugin per API family.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { registry } from '../metrics.js';
import { adminApi } from './admin-api.js';
import { registerApi } from './api-plugin.js';
import { clientApi } from './client-api.js';
import type { ApiDefinition } from './endpoint.js';
import { openApiDocument } from './openapi.js';
import { resellerApi } from './reseller-api.js';
import { RawBody } from './wire-input.js';
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
  app.get('/docs', async () => docs);
  app.get('/docs/openapi.json', async () => docs);
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', registry.contentType);
    return registry.metrics();
  });
  for (const api of apis) registerApi(app, api, ctx);
  // A path under an API family answers in that family's envelope (the Reseller API's `ok`, every
  // other family's `success`), so a client reading its flag always finds one.
  app.setNotFoundHandler((request, reply) => {
    const family = /^\/([a-z]+)-api(?:[/?]|$)/.exec(request.url)?.[1];
    const flag = family === undefined || family === 'reseller' ? 'ok' : 'success';
    return reply.code(404).send({ [flag]: false, error: `Not found: ${request.method} ${request.url.split('?')[0]}`, code: 'NOT_FOUND' });
  });
  return app;
}
