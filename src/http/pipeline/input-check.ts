// Step (preHandler): the request's input, as one object of query and body fields (wire-input.ts),
// guarded and then validated against the endpoint's schema. The guard comes first: input no
// service may see (nested too deep, NUL characters) answers 400 naming the field before the
// schema validator, idempotency hashing, a service or the database touches it.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { AppError } from '../../errors.js';
import { findInputProblem } from '../../util/input.js';
import type { Input } from '../endpoint.js';
import { parseBody, RawBody, requestInput } from '../wire-input.js';

export function guardInput(input: Input): void {
  const problem = findInputProblem(input);
  if (problem) throw new AppError(400, problem.code, problem.message, problem.field);
}

function accept(request: FastifyRequest, bodyFields: Record<string, unknown> | null): void {
  const call = request.apiCall!;
  const input = requestInput(request.query as Record<string, unknown>, bodyFields);
  guardInput(input);
  call.route!.runtime.validate(input);
  call.input = input;
}

export function inputCheck(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const body = request.body;
  // Without a body (a read like `me`) the step stays synchronous: no promise per request.
  if (!(body instanceof RawBody)) {
    accept(request, null);
    done();
    return;
  }
  parseBody(body).then((fields) => accept(request, fields)).then(() => done(), done);
}
