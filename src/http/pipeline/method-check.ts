// Step (preValidation): the method the endpoint answers, before the key is looked at. Reads
// answer GET and POST; a write by GET is refused (405 with Allow), so a crawler or a prefetch
// never writes.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../../errors.js';

/** A 405 carries the methods to use, for its Allow header. */
export class MethodNotAllowedError extends AppError {
  constructor(readonly allow: string, message: string) {
    super(405, 'METHOD_NOT_ALLOWED', message);
  }
}

export function methodCheck(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const call = request.apiCall!;
  const allowed = call.route!.allowedMethods;
  if (!allowed.includes(request.method === 'HEAD' ? 'GET' : request.method)) {
    done(new MethodNotAllowedError(allowed.join(', '), `Use ${allowed.join(' or ')} for ${call.name}`));
    return;
  }
  done();
}
