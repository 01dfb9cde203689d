// The route handler: runs the endpoint's service call once every check has passed, and
// answers it in the family's envelope, serialized by the endpoint's output schema. A write
// runs with its audit row in one transaction (and, under an idempotency key, with its
// replay record), and is acknowledged only once it is on disk.
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { writeAudit } from '../../audit/audit-log.js';
import { RequestAudit } from '../../audit/request-audit.js';
import { withTrx } from '../../context.js';
import { inTxRetrying } from '../../db/locks.js';
import type { StoredResponse } from '../../idempotency/idempotency.js';
import type { ApiCall } from './api-call.js';
import { auditEntryOf } from './audit.js';
import type { ApiFamily } from './endpoint-routes.js';
import { idempotencyKeyOf, replaceStoredReply, replayOrRun } from './idempotency.js';

const JSON_TYPE = 'application/json; charset=utf-8';

type Answer = StoredResponse & { replayed?: boolean };

/** A write, in the transaction shape its endpoint needs; its audit row is written with it. */
async function runWrite(family: ApiFamily, call: ApiCall, request: FastifyRequest): Promise<Answer> {
  const { api, ctx } = family;
  const flag = api.flag;
  const endpoint = call.route!.endpoint;
  const actor = call.actor!;
  const input = call.input!;
  const info = { ip: request.ip };
  const idemKey = idempotencyKeyOf(endpoint, input, request.headers['idempotency-key']);
  // The audit row is written in the transaction of its change (not after it): a change whose
  // row cannot be written is rolled back and answered 500.
  // On PostgreSQL a transaction that meets a deadlock or serialization failure is run again
  // whole (db/locks.ts): the services inside need no savepoints of their own.
  if (idemKey !== undefined) {
    return inTxRetrying(ctx.db, ctx.dialect, async (trx) => {
      const stored = await replayOrRun(trx, family, call, idemKey, async () => (
        { statusCode: 200, body: { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), actor, input, info)) } }));
      // A replay is a request too: one row each, with the first one's status.
      await writeAudit(trx, auditEntryOf(family, call, request, stored.statusCode, null));
      return stored;
    });
  }
  if (endpoint.batched?.(ctx)) {
    const audit = auditEntryOf(family, call, request, 200, null);
    return { statusCode: 200, body: { [flag]: true, ...(await endpoint.handler(ctx, actor, input, { ...info, audit })) } };
  }
  if (endpoint.transactional) {
    return inTxRetrying(ctx.db, ctx.dialect, async (trx) => {
      // The row first, as a success: if the change fails, both roll back. Written after it, the
      // row's round trip would lengthen the time the change holds its accounts' row locks,
      // which every other call of a busy reseller waits for (PostgreSQL).
      await writeAudit(trx, auditEntryOf(family, call, request, 200, null));
      const body = { [flag]: true, ...(await endpoint.handler(withTrx(ctx, trx), actor, input, info)) };
      return { statusCode: 200, body };
    });
  }
  // The service opens its own transactions (slow work such as password hashing stays outside
  // them): the row joins the first of them that commits.
  const requestAudit = new RequestAudit(auditEntryOf(family, call, request, 200, null));
  call.requestAudit = requestAudit;
  const body = { [flag]: true, ...(await endpoint.handler(requestAudit.bind(ctx), actor, input, info)) };
  await requestAudit.succeeded(ctx.db, ctx.log);
  return { statusCode: 200, body };
}

/**
 * The work of a write that goes on after its commit (Endpoint.afterCommit), only once the write
 * is durable: its fields replace the answer's, and the reply stored under the request's
 * Idempotency-Key, so a retry replays what the first request finally answered.
 */
async function continueAfterCommit(family: ApiFamily, call: ApiCall, request: FastifyRequest, answer: Answer): Promise<Answer> {
  const { ctx } = family;
  const endpoint = call.route!.endpoint;
  const first = answer.body as Record<string, unknown>;
  const body = { ...first, ...(await endpoint.afterCommit!(ctx, first)) };
  const idemKey = idempotencyKeyOf(endpoint, call.input!, request.headers['idempotency-key']);
  if (idemKey !== undefined) await replaceStoredReply(family, call, idemKey, { statusCode: answer.statusCode, body });
  return { ...answer, body };
}

export function execute(family: ApiFamily): RouteHandlerMethod {
  const { ctx } = family;
  const flag = family.api.flag;
  return async function execute(request: FastifyRequest, reply: FastifyReply) {
    const call = request.apiCall!;
    const route = call.route!;
    if (!call.isWrite) {
      const payload = { [flag]: true, ...(await route.endpoint.handler(ctx, call.actor!, call.input!, { ip: request.ip })) };
      return reply.code(200).type(JSON_TYPE).send(route.runtime.serialize(payload));
    }
    let answer = await runWrite(family, call, request);
    if (answer.replayed) reply.header('Idempotent-Replayed', 'true');
    // Acknowledge a write only once it is on disk.
    await ctx.durable();
    if (route.endpoint.afterCommit && !answer.replayed && answer.statusCode === 200) {
      answer = await continueAfterCommit(family, call, request, answer);
      await ctx.durable();
    }
    return reply.code(answer.statusCode).type(JSON_TYPE).send(route.runtime.serialize(answer.body as Record<string, unknown>));
  };
}
