// Step (preValidation, first): which endpoint the request names, by `?endpoint=NAME` or the
// path form `/client-api/index.php/NAME` that `/docs` describes. Runs once the body is read,
// so a body Fastify refuses (413) is answered before any check of the pipeline.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preValidationHookHandler } from 'fastify';
import { AppError } from '../../errors.js';
import { ApiCall } from './api-call.js';
import type { ApiFamily } from './endpoint-routes.js';

export function endpointName(params: unknown, query: unknown): string {
  const fromPath = (params as { endpoint?: string }).endpoint;
  if (fromPath) return fromPath;
  const fromQuery = (query as Record<string, unknown>).endpoint;
  return typeof fromQuery === 'string' ? fromQuery : '';
}

export function dispatch(family: ApiFamily): preValidationHookHandler {
  return function dispatch(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const name = endpointName(request.params, request.query);
    const route = family.routes.get(name) ?? null;
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD' && route?.endpoint.method !== 'GET';
    request.apiCall = new ApiCall(name, route, isWrite);
    if (route === null) {
      done(new AppError(404, 'UNKNOWN_ENDPOINT', name ? `Unknown endpoint "${name}"` : 'endpoint: query parameter is required'));
      return;
    }
    done();
  };
}
