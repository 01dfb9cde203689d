// The audit log of API requests (CONTRACT §3): one row per state-changing request. A change
// and its row commit together (the execute step writes the row in the change's transaction);
// a refusal, whose transaction rolled back, is audited here on its own, before the answer
// leaves. A write refused 404 by its service (another tenant's or an unknown object) is
// audited like any refusal, so probing for other tenants' objects leaves a trace; an unknown
// endpoint (404 before any endpoint) and a wrong method (405) are not: nothing was reached.
import type { FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import type { AuditEntry } from '../../audit/audit-log.js';
import { writeAuditLogged } from '../../audit/audit-log.js';
import type { ApiCall } from './api-call.js';
import type { ApiFamily } from './endpoint-routes.js';

export function auditEntryOf(family: ApiFamily, call: ApiCall, request: FastifyRequest, status: number, errorCode: string | null): AuditEntry {
  return { actor: call.actor, api: family.api.name, endpoint: call.name, method: request.method, ip: request.ip, status, errorCode };
}

async function auditRefusal(family: ApiFamily, call: ApiCall, request: FastifyRequest): Promise<void> {
  const err = call.failure!;
  const { ctx } = family;
  // A request that committed part of its work before failing says so in the row written
  // with that part, rather than in a second row.
  const partlyCommitted = call.requestAudit !== null && await call.requestAudit.failedAfterCommit(ctx.db, ctx.log, err.status, err.code);
  if (!partlyCommitted && call.isWrite && call.route !== null && err.status !== 405) {
    await writeAuditLogged(ctx.db, auditEntryOf(family, call, request, err.status, err.code), ctx.log);
  }
}

/** Step (onSend): audits a refused write. A success was audited in its transaction; a read never is. */
export function refusalAudit(family: ApiFamily): onSendHookHandler {
  return function refusalAudit(request: FastifyRequest, _reply: FastifyReply, payload, done) {
    const call = request.apiCall;
    if (call == null || call.failure === null) {
      done(null, payload);
      return;
    }
    auditRefusal(family, call, request).then(() => done(null, payload), done);
  };
}
