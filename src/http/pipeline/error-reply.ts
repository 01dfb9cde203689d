// The error handler of an API family's routes: every error, a service's or Fastify's own (a
// body too large, a broken Content-Length), answers in the family's envelope
// (`{"success"|"ok": false, error, code, field?}`) with a stable code. Errors that are no
// AppError are logged and answered 500 INTERNAL_ERROR, saying the request was not applied.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, OverloadedError } from '../../errors.js';
import type { ApiFamily } from './endpoint-routes.js';

/** Unique-constraint races (two creates of one login at once) are conflicts, not crashes. */
function uniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function sqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

/** The AppError an error answers as, or null when it is the server's fault (a 500). */
export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  // The storage layer's full write queue (db/tx-batch.ts): 503 OVERLOADED, retry shortly.
  if (err instanceof OverloadedError) return err.toAppError();
  // SQLite's write lock held past busy_timeout (another process writing, e.g. a bulk job):
  // nothing was applied, and the same request may succeed shortly. Never a 500.
  if (sqliteBusy(err)) return new AppError(503, 'DATABASE_BUSY', 'The database is busy; nothing was applied, retry shortly');
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

export const internalError = () => new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied');

/** The family's failure envelope. */
export function refusalBody(flag: string, err: AppError): Record<string, unknown> {
  const body: Record<string, unknown> = { [flag]: false, error: err.message, code: err.code };
  if (err.field) body.field = err.field;
  return body;
}

function sendRefusal(reply: FastifyReply, flag: string, err: AppError): FastifyReply {
  if (err.status === 405) reply.header('Allow', (err as AppError & { allow?: string }).allow ?? 'GET, POST');
  return reply.code(err.status).send(refusalBody(flag, err));
}

export function errorReply(family: ApiFamily): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const { api } = family;
  return function errorReply(caught, request, reply) {
    const call = request.apiCall;
    let err = toAppError(caught);
    if (!err) {
      request.log.error(call ? { err: caught, api: api.name, endpoint: call.name } : { err: caught }, 'request failed');
      err = internalError();
    }
    // Under strict schemas, an error `/docs` does not list for the endpoint becomes a 500 saying so.
    if (call?.route) err = call.route.runtime.checkError(err, request.method);
    // For the refusal audit, which runs as the answer is sent.
    if (call) call.failure = err;
    return sendRefusal(reply, api.flag, err);
  };
}
