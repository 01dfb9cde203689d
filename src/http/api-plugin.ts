// Mounts one API family on its paths: dispatch by `?endpoint=`, method check, key
// authentication, role check, idempotent replay, audit log, metrics, and the family's envelope.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorByApiKey, type Actor } from '../accounts/actor.js';
import type { Ctx } from '../context.js';
import { withTrx } from '../context.js';
import { writeAudit, writeAuditLogged, type AuditEntry } from '../audit/audit-log.js';
import { RequestAudit } from '../audit/request-audit.js';
import { inTx } from '../db/tx.js';
import { AppError, forbidden, OverloadedError, unauthorized } from '../errors.js';
import { hashRequest, runIdempotent } from '../idempotency/idempotency.js';
import { httpLatency, httpRequests } from '../metrics.js';
import { findInputProblem } from '../util/input.js';
import type { ApiDefinition, Endpoint, Input } from './endpoint.js';
import { parseBody, RawBody, requestInput } from './wire-input.js';
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
  if (err instanceof OverloadedError) return err.toAppError();
  if (uniqueViolation(err)) return new AppError(409, 'CONFLICT', 'A conflicting record already exists; retry or choose another value');
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const fcode = (err as { code?: string }).code ?? '';
    // Checked first: Fastify's FST_ERR_CTP_BODY_TOO_LARGE would otherwise read as bad JSON.
    if (status === 413) {
      return new AppError(413, 'BODY_TOO_LARGE', 'body: larger than this server accepts; send it in smaller parts', 'body');
    }
    if (fcode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return new AppError(400, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON with Content-Type: application/json');
    }
    if (fcode.startsWith('FST_ERR_CTP') || (err as Error).name === 'SyntaxError') {
      return new AppError(400, 'INVALID_JSON', 'body: not valid JSON', 'body');
    }
    return new AppError(400, 'BAD_REQUEST', (err as Error).message);
  }
  return null;
}

/**
 * The request-input guard: input no service may see (too deep, NUL characters) answers 400
 * naming the field, before idempotency hashing, the services or the database touch it.
 */
function guardInput(input: Input): void {
  const problem = findInputProblem(input);
  if (problem) throw new AppError(400, problem.code, problem.message, problem.field);
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
    let requestAudit: RequestAudit | null = null;
    // A read may be POSTed (CONTRACT §2): it stays a read, neither audited nor replayed.
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD' && endpoint?.method !== 'GET';
    try {
      if (!endpoint) throw new AppError(404, 'UNKNOWN_ENDPOINT', name ? `Unknown endpoint "${name}"` : 'endpoint: query parameter is required');
      // Reads answer GET and POST; a write by GET is refused, so a crawler or a prefetch never writes.
      const allowed = endpoint.method === 'POST' ? ['POST'] : BOTH_METHODS;
      if (request.method !== endpoint.method && !allowed.includes(request.method === 'HEAD' ? 'GET' : request.method)) {
        const err = new AppError(405, 'METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} for ${name}`) as AppError & { allow?: string };
        err.allow = allowed.join(', ');
        throw err;
      }
      const key = request.headers['x-api-key'];
      if (typeof key !== 'string' || key === '') throw unauthorized('Missing X-API-Key header');
      actor = await actorByApiKey(ctx.db as never, key, ctx.sqliteReader, ctx.log);
      if (!actor) throw unauthorized('Unknown API key');
      if (!endpoint.roles.includes(actor.role)) throw forbidden('FORBIDDEN', `This API key may not use ${api.name}-api ${name}`);

      const body = request.body instanceof RawBody ? await parseBody(request.body) : null;
      const input: Input = requestInput(query, body);
      guardInput(input);
      schemas.get(name)!.validate(input);
      const info = { ip: request.ip };
      const idemHeader = request.headers['idempotency-key'];
      const fieldKey = endpoint.idempotencyField ? input[endpoint.idempotencyField] : undefined;
      const idemKey = fieldKey !== undefined && fieldKey !== null && fieldKey !== ''
        ? String(fieldKey)
        : (typeof idemHeader === 'string' && idemHeader !== '' && isWrite ? `header:${idemHeader}` : undefined);

      let statusCode = 200;
      let payload: unknown;
      const who = actor;
      // A write's audit row is written in the transaction of its change (not after it): a
      // change whose row cannot be written is rolled back and answered 500.
      if (idemKey !== undefined && isWrite) {
        const result = await inTx(ctx.db, async (trx) => {
          const stored = await runIdempotent(trx as never, ctx.secrets, {
            accountId: who.id, scope: `${api.name}:${name}`, key: idemKey, requestHash: hashRequest(input),
          }, async () => ({ statusCode: 200, body: { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), who, input, info)) } }));
          // A replay is a request too: one row each, with the first one's status.
          await writeAudit(trx, auditEntry(who, name, request.method, request.ip, stored.statusCode, null));
          return stored;
        });
        statusCode = result.statusCode;
        payload = result.body;
        if (result.replayed) reply.header('Idempotent-Replayed', 'true');
      } else if (endpoint.transactional && isWrite) {
        payload = await inTx(ctx.db, async (trx) => {
          const out = { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), who, input, info)) };
          await writeAudit(trx, auditEntry(who, name, request.method, request.ip, 200, null));
          return out;
        });
      } else if (isWrite) {
        // The service opens its own transactions (slow work such as password hashing stays
        // outside them): the row joins the first of them that commits.
        requestAudit = new RequestAudit(auditEntry(who, name, request.method, request.ip, 200, null));
        payload = { [flag]: true, ...(await endpoint.handler(requestAudit.bind(ctx), who, input, info)) };
        await requestAudit.succeeded(ctx.db, ctx.log);
      } else {
        payload = { [flag]: true, ...(await endpoint.handler(ctx, actor, input, info)) };
      }
      // Acknowledge a write only once it is on disk.
      if (isWrite) await ctx.durable();
      return reply.code(statusCode).type('application/json; charset=utf-8').send(schemas.get(name)!.serialize(payload as Record<string, unknown>));
    } catch (caught) {
      let err = toAppError(caught);
      if (!err) {
        request.log.error({ err: caught, api: api.name, endpoint: name }, 'request failed');
        err = new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied');
      }
      if (endpoint) err = schemas.get(name)!.checkError(err, request.method);
      // Refusals are audited after the rollback, on their own (404 and 405 are not: nothing
      // was reached). A request that committed part of its work before failing says so in
      // the row written with that part.
      const partlyCommitted = requestAudit !== null && await requestAudit.failedAfterCommit(ctx.db, ctx.log, err.status, err.code);
      if (!partlyCommitted && isWrite && err.status !== 404 && err.status !== 405) {
        await audit(actor, name, request.method, request.ip, err.status, err.code);
      }
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
