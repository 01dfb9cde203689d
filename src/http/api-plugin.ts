// Mounts one API family on its paths as a pipeline of small steps (src/http/pipeline/), each
// a Fastify hook with one job. The order below is the order of the checks a client sees:
//   preValidation  dispatch        404 UNKNOWN_ENDPOINT (the body has been read: 413 comes first)
//                  methodCheck     405 METHOD_NOT_ALLOWED, with Allow
//                  authentication  401 UNAUTHORIZED
//                  roleCheck       403 FORBIDDEN
//   preHandler     inputCheck      400: query and body as one input, guarded, then schema-validated
//   handler        execute         the service call; a write with its audit row (and replay record)
//                                  in one transaction, durable before it is answered
//   onSend         refusalAudit    a refused write's audit row, after its rollback
//                  requestMetrics  count and latency by API, endpoint and status
//   errorHandler   errorReply      every error, Fastify's own included, in the family's envelope
// A step that has nothing to wait for calls `done` synchronously: an async hook costs a promise
// per request on the `me` path.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../context.js';
import type { ApiDefinition } from './endpoint.js';
import { refusalAudit } from './pipeline/audit.js';
import { authentication } from './pipeline/authentication.js';
import { dispatch } from './pipeline/dispatch.js';
import { compileFamily } from './pipeline/endpoint-routes.js';
import { errorReply } from './pipeline/error-reply.js';
import { execute } from './pipeline/execute.js';
import { inputCheck } from './pipeline/input-check.js';
import { requestMetrics } from './pipeline/metrics.js';
import { methodCheck } from './pipeline/method-check.js';
import { roleCheck } from './pipeline/role-check.js';

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** `/client-api/index.php`, `/client-api/`, `/client-api`, and the path form `/client-api/index.php/NAME`. */
export function familyPaths(api: ApiDefinition): string[] {
  return [`${api.basePath}/index.php`, `${api.basePath}/`, api.basePath, `${api.basePath}/index.php/:endpoint`];
}

export function registerApi(app: FastifyInstance, api: ApiDefinition, ctx: Ctx): void {
  const family = compileFamily(api, ctx);
  const pipeline = {
    preValidation: [dispatch(family), methodCheck, authentication(family), roleCheck(family)],
    preHandler: [inputCheck],
    handler: execute(family),
    onSend: [refusalAudit(family), requestMetrics(family)],
    errorHandler: errorReply(family),
  };
  app.register(async (scope) => {
    scope.decorateRequest('apiCall', null);
    // Every method reaches the pipeline, so an unsupported one answers 405 in the family's envelope.
    for (const url of familyPaths(api)) scope.route({ method: ALL_METHODS, url, ...pipeline });
  });
}
