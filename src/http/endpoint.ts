// The shape every API endpoint shares: one entry per `?endpoint=NAME`, mapped to one service call.
import type { TObject } from '@sinclair/typebox';
import type { Actor } from '../accounts/actor.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { Ctx } from '../context.js';
import type { Role } from '../db/schema.js';

/** The API families this server serves. */
export type ApiName = 'client' | 'reseller' | 'admin' | 'switch' | 'sms' | 'esim';

export interface RequestInfo {
  ip: string;
  /** The request's audit row, for a `batched` endpoint's handler to write with its change. */
  audit?: AuditEntry;
}

export type Input = Record<string, unknown>;

/** Error statuses an endpoint may answer, each with its stable codes. */
export type ErrorCodes = Partial<Record<400 | 401 | 402 | 403 | 404 | 409 | 429 | 503, string[]>>;

export interface Endpoint {
  name: string;
  /** GET reads with query parameters, POST writes with a JSON body; BOTH accepts either. */
  method: 'GET' | 'POST' | 'BOTH';
  roles: Role[];
  summary: string;
  /**
   * Query (GET) or body (POST) fields. Validates every request before the handler runs (a
   * refusal answers 400 VALIDATION_ERROR naming the field) and describes it in `/docs`.
   */
  input?: TObject;
  /**
   * The handler's answer, without the family's flag. Serializes every success (fields not
   * declared here are never sent) and describes it in `/docs`.
   */
  output?: TObject;
  /** Error codes this endpoint may answer beyond the ones every endpoint shares, by status. */
  errors?: ErrorCodes;
  /** Money-moving endpoints whose body field (e.g. `external_id`) makes a retry replay the first result. */
  idempotencyField?: string;
  /**
   * Run the handler and its audit row in one transaction (one commit per request): for the
   * high-rate switch endpoints, whose handlers do only database work.
   */
  transactional?: boolean;
  /**
   * With `transactional`: true where the server batches the switch path (PostgreSQL,
   * calls/switch-batch.ts). The handler then runs outside a transaction of its own and is handed
   * the audit row (`req.audit`), which the shared transaction of its batch writes with its change.
   */
  batched?: (ctx: Ctx) => boolean;
  handler(ctx: Ctx, actor: Actor, input: Input, req: RequestInfo): Promise<Record<string, unknown>>;
  /**
   * A write whose work goes on once its transaction is committed and durable (an SMS handed to
   * its provider): the fields it answers replace the handler's, in the answer and in the reply
   * stored for a retry under the same Idempotency-Key. A retry that replays runs none of it.
   */
  afterCommit?(ctx: Ctx, answer: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export interface ApiDefinition {
  name: ApiName;
  /** `/client-api`: served at `/client-api/index.php`, `/client-api/` and `/client-api`. */
  basePath: string;
  title: string;
  /** The success/failure flag of this API family: `success` or `ok`. */
  flag: 'success' | 'ok';
  endpoints: Endpoint[];
}
