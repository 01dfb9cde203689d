// Idempotent replay of a write (CONTRACT §3): a retry under the same key answers the first
// result (with `Idempotent-Replayed: true`) instead of doing the work again. The key is the
// endpoint's own field where it has one (`external_id` of a payment), else the
// Idempotency-Key header. The record is claimed in the transaction of the work, so it cannot
// outlive a rolled-back change.
import type { Trx } from '../../db/connect.js';
import { hashRequest, replaceReply, runIdempotent, type StoredResponse } from '../../idempotency/idempotency.js';
import type { Endpoint, Input } from '../endpoint.js';
import type { ApiCall } from './api-call.js';
import type { ApiFamily } from './endpoint-routes.js';

/** The key a retry of this write is known by, or undefined when the request gives none. */
export function idempotencyKeyOf(endpoint: Endpoint, input: Input, header: unknown): string | undefined {
  const fieldKey = endpoint.idempotencyField ? input[endpoint.idempotencyField] : undefined;
  if (fieldKey !== undefined && fieldKey !== null && fieldKey !== '') return String(fieldKey);
  return typeof header === 'string' && header !== '' ? `header:${header}` : undefined;
}

/** Runs `work` in `trx` unless a first request under `key` already did: then its stored answer. */
export function replayOrRun(
  trx: Trx, family: ApiFamily, call: ApiCall, key: string, work: () => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  // Keys are unique per account and endpoint: one caller's key never replays another's answer.
  return runIdempotent(trx, family.ctx.secrets, {
    accountId: call.actor!.id, scope: `${family.api.name}:${call.name}`, key, requestHash: hashRequest(call.input),
  }, work);
}

/** The reply stored under `key` becomes `response` (a write that went on after its commit). */
export function replaceStoredReply(family: ApiFamily, call: ApiCall, key: string, response: StoredResponse): Promise<void> {
  return replaceReply(family.ctx.db, family.ctx.secrets, { accountId: call.actor!.id, scope: `${family.api.name}:${call.name}`, key }, response);
}
