// API key life-cycle: listing (by prefix, never the key or its hash), revocation by the
// operator, and rotation of its own key by a client or reseller. A revoked key answers 401 on
// the next request on every instance: the key lookup reads `revoked_at` from the database on
// PostgreSQL each time, and on SQLite re-reads whenever any connection has committed.
import type { Ctx } from '../context.js';
import type { ApiKeysTable, Role } from '../db/schema.js';
import { forUpdate } from '../db/dialect.js';
import { inTx } from '../db/tx.js';
import { conflict, notFound, unauthorized } from '../errors.js';
import { intInRange, paging, positiveInt, requiredString } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';
import type { Actor } from './actor.js';
import { assertActive } from './tenancy.js';
import { issueApiKeyRow } from './provisioning.js';

/** Longest grace a rotated key may keep working: time enough to roll the new key out. */
export const MAX_ROTATION_GRACE_SECONDS = 86_400;

type KeyRow = Pick<ApiKeysTable, 'key_prefix' | 'label' | 'created_at' | 'last_used_at' | 'revoked_at'> & { id: unknown };

const stillValid = (revokedAt: string | null, nowText: string) => revokedAt === null || revokedAt > nowText;

export function apiKeyView(k: KeyRow, role: Role, nowText = nowIso()) {
  return {
    id: Number(k.id),
    prefix: k.key_prefix,
    role,
    label: k.label,
    created_at: formatLocal(k.created_at),
    last_used_at: formatLocal(k.last_used_at),
    /** When it stopped (or, in a rotation's grace period, will stop) working. */
    revoked_at: formatLocal(k.revoked_at),
    active: stillValid(k.revoked_at, nowText),
  };
}

const KEY_COLUMNS = ['id', 'key_prefix', 'label', 'created_at', 'last_used_at', 'revoked_at'] as const;

/** Admin: the keys of one account, oldest first. */
export async function listApiKeys(ctx: Ctx, input: { login?: unknown; limit?: unknown; offset?: unknown }) {
  const login = requiredString(input.login, 'login', 64);
  const { limit, offset } = paging(input);
  const account = await ctx.db.selectFrom('accounts').select(['id', 'login', 'role']).where('login', '=', login).executeTakeFirst();
  if (!account) throw notFound('Account');
  const base = ctx.db.selectFrom('api_keys').where('account_id', '=', account.id);
  const total = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base.select([...KEY_COLUMNS]).orderBy('id').limit(limit).offset(offset).execute();
  const now = nowIso();
  return {
    login: account.login, role: account.role, total: Number(total.n), limit, offset,
    api_keys: rows.map((k) => apiKeyView(k, account.role, now)),
  };
}

/**
 * Admin: revokes a key at once (also one still in a rotation's grace period). Revoking a
 * revoked key changes nothing and says so. The last admin key without an end cannot be
 * revoked: that would lock the operator out of the Admin API.
 */
export async function revokeApiKey(ctx: Ctx, input: { id?: unknown }) {
  const id = positiveInt(input.id, 'id');
  return inTx(ctx.db, async (trx) => {
    const key = await trx.selectFrom('api_keys as k').innerJoin('accounts as a', 'a.id', 'k.account_id')
      .select(['k.id', 'k.account_id', 'k.key_prefix', 'k.label', 'k.created_at', 'k.last_used_at', 'k.revoked_at', 'a.login', 'a.role'])
      .where('k.id', '=', id).executeTakeFirst();
    if (!key) throw notFound('API key');
    const now = nowIso();
    if (!stillValid(key.revoked_at, now)) {
      return { login: key.login, api_key: apiKeyView(key, key.role, now), already_revoked: true };
    }
    if (key.role === 'admin') {
      // Serializes concurrent revocations of admin keys on PostgreSQL (SQLite writes one at a time).
      await forUpdate(trx.selectFrom('accounts').select('id').where('id', '=', key.account_id), ctx.dialect).execute();
      // A key in a grace period does not count: it stops working on its own soon.
      const others = await trx.selectFrom('api_keys').select('id')
        .where('account_id', '=', key.account_id).where('id', '<>', key.id).where('revoked_at', 'is', null)
        .limit(1).execute();
      if (others.length === 0) {
        throw conflict('LAST_ADMIN_KEY', 'This is the last working admin key; issue another (create-api-key --login admin) before revoking it');
      }
    }
    const revoked = await trx.updateTable('api_keys').set({ revoked_at: now })
      .where('id', '=', key.id).returning([...KEY_COLUMNS]).executeTakeFirstOrThrow();
    ctx.log.info({ keyId: id, prefix: key.key_prefix, login: key.login }, 'API key revoked');
    return { login: key.login, api_key: apiKeyView(revoked, key.role, now), already_revoked: false };
  });
}

/**
 * A client or reseller replaces the key it calls with: a new key (shown once) and the calling
 * key revoked, at once or, with `grace_seconds`, after that many seconds so that the systems
 * using it can be switched over. A retry with the same Idempotency-Key within the grace
 * period gets the same new key again.
 */
export async function rotateOwnApiKey(ctx: Ctx, actor: Actor, input: { grace_seconds?: unknown }) {
  assertActive(actor);
  const graceSeconds = intInRange(input.grace_seconds, 'grace_seconds', 0, MAX_ROTATION_GRACE_SECONDS, 0);
  if (actor.keyId === null) throw unauthorized('Rotation needs the API key to replace; call with X-API-Key');
  const keyId = actor.keyId;
  return inTx(ctx.db, async (trx) => {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const revokeAt = new Date(nowMs + graceSeconds * 1000).toISOString();
    // Only a key still working moves; a grace already running is never lengthened. On
    // PostgreSQL a concurrent rotation of the same key waits here and then finds it revoked.
    const previous = await trx.updateTable('api_keys')
      .set((eb) => ({
        revoked_at: eb.case().when('revoked_at', 'is', null).then(revokeAt)
          .when('revoked_at', '>', revokeAt).then(revokeAt).else(eb.ref('revoked_at')).end(),
      }))
      .where('id', '=', keyId).where('account_id', '=', actor.id)
      .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '>', now)]))
      .returning([...KEY_COLUMNS]).executeTakeFirst();
    if (!previous) throw unauthorized('This API key was revoked meanwhile; use the key it was rotated to');
    const issued = await issueApiKeyRow(trx, actor.id, `rotated from ${previous.key_prefix}`);
    ctx.log.info({ login: actor.login, previousKeyId: keyId, keyId: issued.row.id, graceSeconds }, 'API key rotated');
    return {
      apiKey: issued.key,
      key: apiKeyView(issued.row, actor.role, now),
      previous: { ...apiKeyView(previous, actor.role, now), grace_seconds: graceSeconds },
    };
  });
}
