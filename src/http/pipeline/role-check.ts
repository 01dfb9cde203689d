// Step (preValidation): whether the key's role may use the endpoint (403 FORBIDDEN), before
// its input is read: a key of the wrong family learns nothing about the endpoint's fields.
// Tenancy (whose objects the caller may touch) is the services' concern, not this step's.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preValidationHookHandler } from 'fastify';
import { forbidden } from '../../errors.js';
import type { ApiFamily } from './endpoint-routes.js';

export function roleCheck(family: ApiFamily): preValidationHookHandler {
  const apiName = family.api.name;
  return function roleCheck(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const call = request.apiCall!;
    if (!call.route!.endpoint.roles.includes(call.actor!.role)) {
      done(forbidden('FORBIDDEN', `This API key may not use ${apiName}-api ${call.name}`));
      return;
    }
    done();
  };
}
