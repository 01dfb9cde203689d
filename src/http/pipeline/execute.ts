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
import { idempotencyKeyOf, replayOrRun } from './idempotency.js';

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
    const answer = await runWrite(family, call, request);
    if (answer.replayed) reply.header('Idempotent-Replayed', 'true');
    // Acknowledge a write only once it is on disk.
    await ctx.durable();
    return reply.code(answer.statusCode).type(JSON_TYPE).send(route.runtime.serialize(answer.body as Record<string, unknown>));
  };
}
