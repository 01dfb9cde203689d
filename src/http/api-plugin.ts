// Mounts one API family on its paths: dispatch by `?endpoint=`, method check, key
// authentication, role check, idempotent replay, audit log, metrics, and the family's envelope.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorByApiKey, type Actor } from '../accounts/actor.js';
import type { Ctx } from '../context.js';
import { withTrx } from '../context.js';
import { writeAudit, writeAuditLogged, type AuditEntry } from '../audit/audit-log.js';
import { inTx } from '../db/tx.js';
import { AppError, forbidden, unauthorized } from '../errors.js';
import { hashRequest, runIdempotent } from '../idempotency/idempotency.js';
import { httpLatency, httpRequests } from '../metrics.js';
import type { ApiDefinition, Endpoint, Input } from './endpoint.js';
import { compileApi } from './schema-runtime.js';

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const BOTH_METHODS = ['GET', 'POST'];

/** Unique-constraint races (two creates of one login at once) are conflicts, not crashes. */
function uniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (uniqueViolation(err)) return new AppError(409, 'CONFLICT', 'A conflicting record already exists; retry or choose another value');
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const fcode = (err as { code?: string }).code ?? '';
    if (fcode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return new AppError(400, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON with Content-Type: application/json');
    }
    if (fcode.startsWith('FST_ERR_CTP') || (err as Error).name === 'SyntaxError') {
      return new AppError(400, 'INVALID_JSON', 'body: not valid JSON', 'body');
    }
    if (status === 413) return new AppError(400, 'BODY_TOO_LARGE', 'body: too large', 'body');
    return new AppError(400, 'BAD_REQUEST', (err as Error).message);
  }
  return null;
}

export function registerApi(app: FastifyInstance, api: ApiDefinition, ctx: Ctx): void {
  const byName = new Map<string, Endpoint>(api.endpoints.map((e) => [e.name, e]));
  const schemas = compileApi(api);
  const flag = api.flag;

  const fail = (reply: FastifyReply, err: AppError) => {
    const body: Record<string, unknown> = { [flag]: false, error: err.message, code: err.code };
    if (err.field) body.field = err.field;
    if (err.status === 405) reply.header('Allow', (err as AppError & { allow?: string }).allow ?? 'GET, POST');
    return reply.code(err.status).send(body);
  };

  const auditEntry = (actor: Actor | null, endpoint: string, method: string, ip: string, status: number, code: string | null): AuditEntry => ({
    actor, api: api.name, endpoint, method, ip, status, errorCode: code,
  });
  const audit = (actor: Actor | null, endpoint: string, method: string, ip: string, status: number, code: string | null) =>
    writeAuditLogged(ctx.db, auditEntry(actor, endpoint, method, ip, status, code), ctx.log);

  // Labelled metric children, resolved once per endpoint and status rather than per request.
  const metricChildren = new Map<string, { observe(seconds: number): void }>();
  const metricsFor = (label: string, status: number) => {
    const key = `${label} ${status}`;
    let child = metricChildren.get(key);
    if (!child) {
      const counter = httpRequests.labels(api.name, label, String(status));
      const histogram = httpLatency.labels(api.name, label);
      child = { observe: (seconds) => { counter.inc(); histogram.observe(seconds); } };
      // Bounded: endpoints × statuses of one API.
      if (metricChildren.size < 1000) metricChildren.set(key, child);
    }
    return child;
  };

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const started = process.hrtime.bigint();
    const query = request.query as Record<string, unknown>;
    // `?endpoint=NAME`, or the path form `/client-api/index.php/NAME` that `/docs` describes.
    const name = (request.params as { endpoint?: string }).endpoint || (typeof query.endpoint === 'string' ? query.endpoint : '');
    const endpoint = byName.get(name);
    const label = endpoint ? name : 'unknown';
    let actor: Actor | null = null;
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD';
    try {
      if (!endpoint) throw new AppError(404, 'UNKNOWN_ENDPOINT', name ? `Unknown endpoint "${name}"` : 'endpoint: query parameter is required');
      const allowed = endpoint.method === 'BOTH' ? BOTH_METHODS : [endpoint.method];
      if (request.method !== endpoint.method && !allowed.includes(request.method === 'HEAD' ? 'GET' : request.method)) {
        const err = new AppError(405, 'METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} for ${name}`) as AppError & { allow?: string };
        err.allow = allowed.join(', ');
        throw err;
      }
      const key = request.headers['x-api-key'];
      if (typeof key !== 'string' || key === '') throw unauthorized('Missing X-API-Key header');
      actor = await actorByApiKey(ctx.db as never, key, ctx.sqliteReader);
      if (!actor) throw unauthorized('Unknown API key');
      if (!endpoint.roles.includes(actor.role)) throw forbidden('FORBIDDEN', `This API key may not use ${api.name}-api ${name}`);

      let input: Input;
      if (request.method === 'GET' || request.method === 'HEAD') {
        input = { ...query };
        delete input.endpoint;
      } else {
        const body = request.body ?? {};
        if (typeof body !== 'object' || Array.isArray(body)) throw new AppError(400, 'INVALID_JSON', 'body: must be a JSON object', 'body');
        input = body as Input;
      }
      schemas.get(name)!.validate(input);
      const info = { ip: request.ip };
      const idemHeader = request.headers['idempotency-key'];
      const fieldKey = endpoint.idempotencyField ? input[endpoint.idempotencyField] : undefined;
      const idemKey = fieldKey !== undefined && fieldKey !== null && fieldKey !== ''
        ? String(fieldKey)
        : (typeof idemHeader === 'string' && idemHeader !== '' && isWrite ? `header:${idemHeader}` : undefined);

      let statusCode = 200;
      let payload: unknown;
      if (idemKey !== undefined && isWrite) {
        const who = actor;
        const result = await runIdempotent(ctx.db as never, {
          accountId: who.id, scope: `${api.name}:${name}`, key: idemKey, requestHash: hashRequest(input),
        }, async (trx) => ({ statusCode: 200, body: { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), who, input, info)) } }));
        statusCode = result.statusCode;
        payload = result.body;
        if (result.replayed) reply.header('Idempotent-Replayed', 'true');
      } else if (endpoint.transactional && isWrite) {
        const who = actor;
        payload = await inTx(ctx.db, async (trx) => {
          const out = { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), who, input, info)) };
          await writeAudit(trx, auditEntry(who, name, request.method, request.ip, 200, null));
          return out;
        });
      } else {
        payload = { [flag]: true, ...(await endpoint.handler(ctx, actor, input, info)) };
      }
      if (isWrite) {
        if (!endpoint.transactional || idemKey !== undefined) await audit(actor, name, request.method, request.ip, statusCode, null);
        // Acknowledge a write only once it is on disk.
        await ctx.durable();
      }
      return reply.code(statusCode).type('application/json; charset=utf-8').send(schemas.get(name)!.serialize(payload as Record<string, unknown>));
    } catch (caught) {
      let err = toAppError(caught);
      if (!err) {
        request.log.error({ err: caught, api: api.name, endpoint: name }, 'request failed');
        err = new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied');
      }
      if (endpoint) err = schemas.get(name)!.checkError(err, request.method);
      if (isWrite && err.status !== 404 && err.status !== 405) await audit(actor, name, request.method, request.ip, err.status, err.code);
      return fail(reply, err);
    } finally {
      metricsFor(label, reply.statusCode).observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  app.register(async (scope) => {
    scope.setErrorHandler((err, request, reply) => {
      const appErr = toAppError(err);
      if (appErr) return fail(reply, appErr);
      request.log.error({ err }, 'request failed');
      return fail(reply, new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied'));
    });
    for (const url of [`${api.basePath}/index.php`, `${api.basePath}/`, api.basePath, `${api.basePath}/index.php/:endpoint`]) {
      scope.route({ method: [...ALL_METHODS], url, handler: handle });
    }
  });
}
