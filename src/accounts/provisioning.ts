// Creating accounts: clients (with their main SIP account), resellers (with their retail
// plan), switch keys, API keys. Shared by the Admin API, the CLI and the Reseller API.
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import type { Account, Plan, Role } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { microsFromDb, MoneyRangeError, parseMoney } from '../money.js';
import { DEFAULT_MARKUP_MICRO_PERCENT, rebuildRetailPlan } from '../plans/plans.js';
import { insertSipAccount } from '../sip/sip-accounts.js';
import { login as parseLogin, optionalMoney, positiveInt } from '../util/input.js';
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
async function chooseLogin(trx: Trx, requested: string | undefined): Promise<string> {
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

interface NewAccount {
  role: Role;
  login: string;
  parentId: number | null;
  planId: number | null;
  passwordHash: string | null;
  markupMicroPercent?: bigint | null;
}

async function insertAccount(trx: Trx, a: NewAccount): Promise<Account> {
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

export interface CreateClientInput { login?: unknown; password?: unknown; plan_id?: unknown; balance?: unknown }
export interface CreatedClient {
  client: Account;
  plan: Plan;
  apiKey: string;
  password: string | null;
  sip: { name: string; password: string };
}

/**
 * Creates a client under `owner` (null: the admin's direct client; else a reseller) on one of
 * the owner's plans, with its main SIP account and an API key. An opening balance (admin
 * only) and the plan's initial credit are ledger postings in the same transaction.
 */
export async function createClient(ctx: Ctx, ownerResellerId: number | null, input: CreateClientInput): Promise<CreatedClient> {
  const requestedLogin = input.login === undefined || input.login === null ? undefined : parseLogin(input.login);
  const planId = positiveInt(input.plan_id, 'plan_id');
  const openingMicros = ownerResellerId === null ? optionalMoney(input.balance, 'balance', 0n) : 0n;
  const password = await choosePassword(input.password);
  const sipPassword = randomPassword(16);
  return inTx(ctx.db, async (trx) => {
    let planQuery = trx.selectFrom('plans').selectAll().where('id', '=', planId);
    planQuery = ownerResellerId === null ? planQuery.where('owner_id', 'is', null) : planQuery.where('owner_id', '=', ownerResellerId);
    const plan = await planQuery.executeTakeFirst();
    if (!plan) throw notFound('Plan');
    const login = await chooseLogin(trx, requestedLogin);
    let client = await insertAccount(trx, {
      role: 'client', login, parentId: ownerResellerId, planId, passwordHash: password.hash,
    });
    const initialCredit = microsFromDb(plan.initial_credit_micros);
    if (initialCredit > 0n) {
      await post(trx, { accountId: client.id, amountMicros: initialCredit, kind: 'refill', refType: 'plan', refId: plan.id, description: 'Initial credit of plan' });
    }
    if (openingMicros > 0n) {
      await post(trx, { accountId: client.id, amountMicros: openingMicros, kind: 'refill', refType: 'admin', description: 'Opening balance' });
    }
    client = await trx.selectFrom('accounts').selectAll().where('id', '=', client.id).executeTakeFirstOrThrow();
    await insertSipAccount(ctx, trx, client, login, 'main', sipPassword);
    const apiKey = await issueApiKey(trx, client.id, 'created with account');
    return { client, plan, apiKey, password: password.generated, sip: { name: login, password: sipPassword } };
  });
}

export interface CreateResellerInput { login?: unknown; password?: unknown; plan_id?: unknown; balance?: unknown; markup_percent?: unknown }

export function parseMarkupPercent(value: unknown, fallback: bigint): bigint {
  if (value === undefined || value === null || value === '') return fallback;
  let micro: bigint;
  try {
    micro = parseMoney(value);
  } catch (err) {
    throw badRequest('markup_percent', err instanceof MoneyRangeError ? 'must be from 0 to 1000' : 'must be a decimal number');
  }
  if (micro < 0n || micro > 1000n * 1_000_000n) throw badRequest('markup_percent', 'must be from 0 to 1000');
  return micro;
}

/** A reseller on an admin (wholesale) plan, with its retail plan at +markup (20% by default). */
export async function createReseller(ctx: Ctx, input: CreateResellerInput) {
  const requestedLogin = input.login === undefined || input.login === null ? undefined : parseLogin(input.login);
  const planId = positiveInt(input.plan_id, 'plan_id');
  const openingMicros = optionalMoney(input.balance, 'balance', 0n);
  const markup = parseMarkupPercent(input.markup_percent, DEFAULT_MARKUP_MICRO_PERCENT);
  const password = await choosePassword(input.password);
  return inTx(ctx.db, async (trx) => {
    const wholesale = await trx.selectFrom('plans').selectAll().where('id', '=', planId).where('owner_id', 'is', null).executeTakeFirst();
    if (!wholesale) throw notFound('Plan');
    const login = await chooseLogin(trx, requestedLogin);
    const reseller = await insertAccount(trx, {
      role: 'reseller', login, parentId: null, planId, passwordHash: password.hash, markupMicroPercent: markup,
    });
    const retail = await trx.insertInto('plans').values({
      owner_id: reseller.id, name: `${login}-RETAIL`, signup: 1, initial_credit_micros: 0n, selectable: 1,
      tariff_limit: wholesale.tariff_limit, wholesale_plan_id: planId, created_at: nowIso(),
    }).returningAll().executeTakeFirstOrThrow();
    const retailRates = await rebuildRetailPlan(trx, Number(retail.id), planId, markup);
    await trx.updateTable('accounts').set({ retail_plan_id: retail.id }).where('id', '=', reseller.id).execute();
    if (openingMicros > 0n) {
      await post(trx, { accountId: reseller.id, amountMicros: openingMicros, kind: 'refill', refType: 'admin', description: 'Opening balance' });
    }
    const apiKey = await issueApiKey(trx, reseller.id, 'created with account');
    const fresh = await trx.selectFrom('accounts').selectAll().where('id', '=', reseller.id).executeTakeFirstOrThrow();
    return { reseller: fresh, retailPlan: retail, retailRates, apiKey, password: password.generated };
  });
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


