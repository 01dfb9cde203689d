// One API request on its way through the pipeline: what each step found, for the steps after
// it (a Fastify request decoration). Created by dispatch, the first step; a request Fastify
// refused before the pipeline took it (a body too large to read) has none, and is answered
// by the error reply alone: not audited, not counted.
import type { Actor } from '../../accounts/actor.js';
import type { RequestAudit } from '../../audit/request-audit.js';
import type { AppError } from '../../errors.js';
import type { Input } from '../endpoint.js';
import type { EndpointRoute } from './endpoint-routes.js';

export class ApiCall {
  /** When the pipeline took the request (its body read): the start of its latency. */
  readonly startedNs = process.hrtime.bigint();
  /** Set by authentication. */
  actor: Actor | null = null;
  /** Set by the input check: query and body fields, guarded and validated. */
  input: Input | null = null;
  /** A write whose service opens its own transactions: its audit row joins the first that commits. */
  requestAudit: RequestAudit | null = null;
  /** The error answered, once the error reply has rendered it: what the refusal audit records. */
  failure: AppError | null = null;

  constructor(
    /** The endpoint name as the request gave it ('' when it gave none). */
    readonly name: string,
    /** Null when the family has no endpoint of that name. */
    readonly route: EndpointRoute | null,
    /** A read may be POSTed (CONTRACT §2): it stays a read, neither audited nor replayed. */
    readonly isWrite: boolean,
  ) {}
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The API pipeline's state of this request: null on an API route until dispatch has run;
     * absent on other routes (health, docs, metrics), which are not decorated with it.
     */
    apiCall?: ApiCall | null;
  }
}
