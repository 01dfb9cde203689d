// Safe retries of money-moving POSTs: the first result under a key is stored in the same
// transaction as its effects; a repeat replays it, a repeat with other parameters is a 409.
// Stored replies are encrypted: many carry a secret shown once (a new API key, a generated
// password, a SIP secret), and a retry after a lost answer must still get it, so stripping
// them is no option. Records are deleted after the retention (see expiry.ts).
import crypto from 'node:crypto';
import type { SecretBox } from '../accounts/credentials.js';
import type { Db, Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { AppError, conflict } from '../errors.js';
import { nowIso } from '../util/time.js';

export interface IdempotencyScope {
  accountId: number;
  /** e.g. `reseller:transfer`; keys are unique per account and scope. */
  scope: string;
  key: string;
  requestHash: string;
}

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

type CanonicalWork = { text: string } | { value: unknown };

/**
 * The JSON text of `value` with every object's keys sorted: exactly what JSON.stringify writes
 * for a copy with sorted keys (so hashes of stored keys stay valid), but built with its own
 * stack, so a request nested deeper than the call stack hashes like any other.
 */
function canonicalJson(value: unknown): string {
  const out: string[] = [];
  const work: CanonicalWork[] = [{ value }];
  while (work.length > 0) {
    const item = work.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const v = item.value;
    if (Array.isArray(v)) {
      const next: CanonicalWork[] = [{ text: '[' }];
      for (let i = 0; i < v.length; i++) {
        if (i > 0) next.push({ text: ',' });
        // As JSON.stringify: what has no JSON form is null inside a list.
        next.push(isJsonless(v[i]) ? { text: 'null' } : { value: v[i] });
      }
      next.push({ text: ']' });
      for (let i = next.length - 1; i >= 0; i--) work.push(next[i]);
    } else if (v !== null && typeof v === 'object') {
      const record = v as Record<string, unknown>;
      // The key order JSON.stringify gives an object built in sorted order: index-like keys
      // first, ascending, then the others as sorted.
      const keys = Object.keys(Object.fromEntries(Object.keys(record).sort().map((k) => [k, 0])));
      const next: CanonicalWork[] = [{ text: '{' }];
      let first = true;
      for (const k of keys) {
        if (isJsonless(record[k])) continue; // omitted, as JSON.stringify omits it
        next.push({ text: `${first ? '' : ','}${JSON.stringify(k)}:` }, { value: record[k] });
        first = false;
      }
      next.push({ text: '}' });
      for (let i = next.length - 1; i >= 0; i--) work.push(next[i]);
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  }
  return out.join('');
}

const isJsonless = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

export function hashRequest(body: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(body ?? {})).digest('hex');
}

const PENDING = -1;

/** Stored replies get their own key, derived from LEDGERLINE_SECRET. */
const REPLY_PURPOSE = 'idempotent-reply-v1';

/** The reply as stored: sealed JSON. A body is a JSON object, so `{` marks a legacy clear one. */
export function sealReply(box: SecretBox, body: unknown): string {
  return box.forPurpose(REPLY_PURPOSE).encrypt(JSON.stringify(body));
}

export function isSealed(stored: string): boolean {
  return !stored.startsWith('{');
}

export function openReply(box: SecretBox, stored: string): unknown {
  return JSON.parse(isSealed(stored) ? box.forPurpose(REPLY_PURPOSE).decrypt(stored) : stored);
}

/**
 * Runs `work` once per key. Concurrent duplicates wait on the key's row (PostgreSQL) or the
 * write lock (SQLite) and then replay. A failed first attempt stores nothing: its
 * transaction rolls back, so a retry runs afresh.
 */
export async function runIdempotent(
  db: Db,
  box: SecretBox,
  scope: IdempotencyScope,
  work: (trx: Trx) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  if (scope.key.length > 200) throw new AppError(400, 'VALIDATION_ERROR', 'Idempotency key: at most 200 characters', 'external_id');
  return inTx(db, async (trx) => {
    const claimed = await trx
      .insertInto('idempotency_keys')
      .values({
        account_id: scope.accountId,
        scope: scope.scope,
        key: scope.key,
        request_hash: scope.requestHash,
        status_code: PENDING,
        response_json: '',
        created_at: nowIso(),
      })
      .onConflict((oc) => oc.columns(['account_id', 'scope', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!claimed) {
      const prior = await trx
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'status_code', 'response_json'])
        .where('account_id', '=', scope.accountId)
        .where('scope', '=', scope.scope)
        .where('key', '=', scope.key)
        .executeTakeFirstOrThrow();
      if (prior.request_hash !== scope.requestHash) {
        throw conflict('IDEMPOTENCY_MISMATCH', 'This external_id / Idempotency-Key was already used with different parameters');
      }
      return { statusCode: prior.status_code, body: openReply(box, prior.response_json), replayed: true };
    }
    const result = await work(trx);
    await trx
      .updateTable('idempotency_keys')
      .set({ status_code: result.statusCode, response_json: sealReply(box, result.body) })
      .where('account_id', '=', scope.accountId)
      .where('scope', '=', scope.scope)
      .where('key', '=', scope.key)
      .execute();
    return { ...result, replayed: false };
  });
}

/** Replaces the reply stored under a key already answered (its request hash stays). */
export async function replaceReply(db: Db, box: SecretBox, scope: Omit<IdempotencyScope, 'requestHash'>, response: StoredResponse): Promise<void> {
  await inTx(db, (trx) => trx.updateTable('idempotency_keys')
    .set({ status_code: response.statusCode, response_json: sealReply(box, response.body) })
    .where('account_id', '=', scope.accountId).where('scope', '=', scope.scope).where('key', '=', scope.key)
    .execute());
}
