// Creating accounts and their keys: logins, passwords, the admin at first start, switch keys,
// API keys. Clients and resellers, which also get a SIP account or a retail plan, are created
// on top of this by onboarding/ (this folder sits below plans/ and sip/, which build on it).
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import type { Account, Role } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { MoneyRangeError, parseMoney } from '../money.js';
import { login as parseLogin } from '../util/input.js';
import { nowIso } from '../util/time.js';
import type { Actor } from './actor.js';
import { ADOPTED_KEY_PREFIX_LENGTH, generateApiKey, hashApiKey, hashPassword, passwordWeakness, randomDigits, randomPassword } from './credentials.js';

/** A new key for the account: the key itself (to show once) and its stored row. */
export async function issueApiKeyRow(trx: Trx, accountId: number, label: string | null = null) {
  const { key, hash, prefix } = generateApiKey();
  const row = await trx.insertInto('api_keys').values({
    account_id: accountId, key_hash: hash, key_prefix: prefix, label, created_at: nowIso(), revoked_at: null, last_used_at: null,
  }).returning(['id', 'key_prefix', 'label', 'created_at', 'last_used_at', 'revoked_at']).executeTakeFirstOrThrow();
  return { key, row };
}

export async function issueApiKey(trx: Trx, accountId: number, label: string | null = null): Promise<string> {
  return (await issueApiKeyRow(trx, accountId, label)).key;
}

async function loginTaken(trx: Trx, login: string): Promise<boolean> {
  const a = await trx.selectFrom('accounts').select('id').where('login', '=', login).executeTakeFirst();
  if (a) return true;
  const s = await trx.selectFrom('sip_accounts').select('id').where('name', '=', login).executeTakeFirst();
  return s !== undefined;
}

/** A free login: the one asked for (409 when taken), or 8 random digits + `01`. */
export async function chooseLogin(trx: Trx, requested: string | undefined): Promise<string> {
  if (requested !== undefined) {
    if (await loginTaken(trx, requested)) throw conflict('LOGIN_TAKEN', `Login ${requested} is already in use`);
    return requested;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = `${randomDigits(1).replace('0', '1')}${randomDigits(7)}01`;
    if (!(await loginTaken(trx, candidate))) return candidate;
  }
  throw conflict('LOGIN_TAKEN', 'Could not find a free login; give one explicitly');
}

export interface NewAccount {
  role: Role;
  login: string;
  parentId: number | null;
  planId: number | null;
  passwordHash: string | null;
  markupMicroPercent?: bigint | null;
}

export async function insertAccount(trx: Trx, a: NewAccount): Promise<Account> {
  const now = nowIso();
  return trx.insertInto('accounts').values({
    login: a.login, role: a.role, parent_id: a.parentId, plan_id: a.planId,
    balance_micros: 0n, credit_limit_micros: 0n, postpaid: 0, active: 1,
    password_hash: a.passwordHash, name: null, email: null, phone: null, language: null,
    markup_micro_percent: a.markupMicroPercent ?? null, retail_plan_id: null,
    created_at: now, updated_at: now,
  }).returningAll().executeTakeFirstOrThrow();
}

export interface PasswordChoice { hash: string; generated: string | null }

/** Hashes (outside any transaction: scrypt is slow) the given password or a generated one. */
export async function choosePassword(password: unknown): Promise<PasswordChoice> {
  if (password !== undefined && password !== null) {
    const weakness = passwordWeakness(password);
    if (weakness) throw badRequest('password', weakness);
    return { hash: await hashPassword(password as string), generated: null };
  }
  const generated = randomPassword(14);
  return { hash: await hashPassword(generated), generated };
}

export function parseMarkupPercent(value: unknown, fallback: bigint, field = 'markup_percent'): bigint {
  if (value === undefined || value === null || value === '') return fallback;
  let micro: bigint;
  try {
    micro = parseMoney(value);
  } catch (err) {
    throw badRequest(field, err instanceof MoneyRangeError ? 'must be from 0 to 1000' : 'must be a decimal number');
  }
  if (micro < 0n || micro > 1000n * 1_000_000n) throw badRequest(field, 'must be from 0 to 1000');
  return micro;
}

export async function createSwitchKey(ctx: Ctx, name: unknown) {
  const login = `switch-${parseLogin(name, 'name')}`;
  return inTx(ctx.db, async (trx) => {
    const existing = await trx.selectFrom('accounts').selectAll().where('login', '=', login).executeTakeFirst();
    if (existing && existing.role !== 'switch') throw conflict('LOGIN_TAKEN', `Login ${login} is already in use`);
    const account = existing ?? await insertAccount(trx, { role: 'switch', login, parentId: null, planId: null, passwordHash: null });
    return { login, apiKey: await issueApiKey(trx, account.id, String(name)) };
  });
}

export async function createApiKeyFor(ctx: Ctx, actor: Actor, loginInput: unknown) {
  if (typeof loginInput !== 'string' || loginInput === '') throw badRequest('login', 'is required');
  return inTx(ctx.db, async (trx) => {
    const account = await trx.selectFrom('accounts').selectAll().where('login', '=', loginInput).executeTakeFirst();
    if (!account) throw notFound('Account');
    return { login: account.login, apiKey: await issueApiKey(trx, account.id, `issued by ${actor.login}`) };
  });
}

/** Ensures the admin account exists; returns the key to print when one was generated. */
export async function bootstrapAdmin(ctx: Ctx, adoptKey: string | undefined): Promise<{ created: boolean; apiKey: string | null }> {
  return inTx(ctx.db, async (trx) => {
    const admin = await trx.selectFrom('accounts').select('id').where('role', '=', 'admin').executeTakeFirst();
    if (admin) return { created: false, apiKey: null };
    const account = await insertAccount(trx, { role: 'admin', login: 'admin', parentId: null, planId: null, passwordHash: null });
    if (adoptKey) {
      await trx.insertInto('api_keys').values({
        account_id: account.id, key_hash: hashApiKey(adoptKey), key_prefix: adoptKey.slice(0, ADOPTED_KEY_PREFIX_LENGTH),
        label: 'ADMIN_API_KEY', created_at: nowIso(), revoked_at: null, last_used_at: null,
      }).execute();
      return { created: true, apiKey: null };
    }
    return { created: true, apiKey: await issueApiKey(trx, account.id, 'first start') };
  });
}


