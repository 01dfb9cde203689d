// The shape every API endpoint shares: one entry per `?endpoint=NAME`, mapped to one service call.
import type { TSchema } from '@sinclair/typebox';
import type { Actor } from '../accounts/actor.js';
import type { Ctx } from '../context.js';
import type { Role } from '../db/schema.js';

export type ApiName = 'client' | 'reseller' | 'sms' | 'esim' | 'admin' | 'switch';

export interface RequestInfo {
  ip: string;
}

export type Input = Record<string, unknown>;

export interface Endpoint {
  name: string;
  /** GET reads with query parameters, POST writes with a JSON body; BOTH accepts either. */
  method: 'GET' | 'POST' | 'BOTH';
  roles: Role[];
  summary: string;
  /** Query (GET) or body (POST) fields, for the OpenAPI description. */
  input?: TSchema;
  /** Money-moving endpoints whose body field (e.g. `external_id`) makes a retry replay the first result. */
  idempotencyField?: string;
  /**
   * Run the handler and its audit row in one transaction (one commit per request): for the
   * high-rate switch endpoints, whose handlers do only database work.
   */
  transactional?: boolean;
  handler(ctx: Ctx, actor: Actor, input: Input, req: RequestInfo): Promise<Record<string, unknown>>;
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
