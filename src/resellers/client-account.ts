// The agent portal's account operations on a reseller's own clients: login availability,
// password reset/set/change, SIP password reset, profile. Passwords generated here are
// returned once, in the answer to the request that made them.
import type { Actor } from '../accounts/actor.js';
import { hashPassword, passwordWeakness, randomPassword } from '../accounts/credentials.js';
import { checkPasswordLimited } from '../accounts/self.js';
import { assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Account } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { accountInactive, AppError, badRequest, forbidden, notFound } from '../errors.js';
import { setSipSecret, SERVICE_KINDS } from '../sip/sip-accounts.js';
import { login as parseLogin } from '../util/input.js';
import { normalizeE164 } from '../util/phone.js';
import { nowIso } from '../util/time.js';
import { passwordCheckClient, portalAddress } from './portal-auth.js';
import { clientProfile, portalClient } from './portal-client.js';

/**
 * Whether a login is one of this reseller's clients (`exists`) and whether a new account could
 * take it (`available`: no account and no SIP account anywhere uses it). A login used by anyone
 * else reads only as not available.
 */
export async function checkClientLogin(ctx: Ctx, actor: Actor, input: { login?: unknown }) {
  if (input.login === undefined || input.login === null || input.login === '') throw badRequest('login', 'is required');
  const login = parseLogin(input.login);
  const account = await ctx.db.selectFrom('accounts').select(['id', 'role', 'parent_id']).where('login', '=', login).executeTakeFirst();
  const sip = account ? undefined : await ctx.db.selectFrom('sip_accounts').select('id').where('name', '=', login).executeTakeFirst();
  const exists = account !== undefined && account.role === 'client' && account.parent_id !== null && Number(account.parent_id) === actor.id;
  return { login, exists, available: account === undefined && sip === undefined };
}

/** Clears a login's failed-attempt count once its owner has been given a new password. */
function clearLoginFailures(ctx: Ctx, login: string): Promise<void> {
  return ctx.limiter.clear(`login:${login}`);
}

async function storePasswordHash(ctx: Ctx, client: Account, hash: string): Promise<void> {
  await inTx(ctx.db, (trx) => trx.updateTable('accounts').set({ password_hash: hash, updated_at: nowIso() })
    .where('id', '=', client.id).execute());
}

export async function resetClientPassword(ctx: Ctx, actor: Actor, input: { login?: unknown }) {
  assertActive(actor);
  const client = await portalClient(ctx, actor, input.login);
  const password = randomPassword(14);
  await storePasswordHash(ctx, client, await hashPassword(password));
  await clearLoginFailures(ctx, client.login);
  return { login: client.login, password, temporary: true };
}

export async function setClientPassword(ctx: Ctx, actor: Actor, input: { login?: unknown; password?: unknown }) {
  assertActive(actor);
  const weakness = passwordWeakness(input.password);
  if (weakness) throw badRequest('password', input.password === undefined || input.password === null ? 'is required' : weakness);
  const client = await portalClient(ctx, actor, input.login);
  await storePasswordHash(ctx, client, await hashPassword(input.password as string));
  await clearLoginFailures(ctx, client.login);
  return { login: client.login, changed: true };
}

/** The client changes its own password through the portal: the current one is checked, rate-limited like client-auth. */
export async function clientChangePassword(
  ctx: Ctx, actor: Actor, input: { login?: unknown; current_password?: unknown; new_password?: unknown; client_ip?: unknown },
) {
  assertActive(actor);
  if (typeof input.current_password !== 'string' || input.current_password === '') throw badRequest('current_password', 'is required');
  const weakness = passwordWeakness(input.new_password);
  if (weakness) throw badRequest('new_password', input.new_password === undefined || input.new_password === null ? 'is required' : weakness);
  const address = portalAddress(actor, input.client_ip);
  const client = await passwordCheckClient(ctx, actor, input.login, address);
  if (!(await checkPasswordLimited(ctx, client.login, address, input.current_password, client.password_hash))) {
    throw forbidden('INVALID_PASSWORD', 'Current password is wrong');
  }
  // A change is the client's own state-changing call: refused while the client is inactive.
  if (client.active !== 1) throw accountInactive();
  await storePasswordHash(ctx, client, await hashPassword(input.new_password as string));
  return { login: client.login, changed: true };
}

/**
 * A new random secret for one of the client's normal SIP accounts (the main one unless
 * `sip_login` names another), re-projected into the switch tables in the same transaction.
 * Service accounts (`_webN`, `_ipaN`) are never reset here.
 */
export async function resetClientSipPassword(ctx: Ctx, actor: Actor, input: { login?: unknown; sip_login?: unknown }) {
  assertActive(actor);
  let sipLogin: string | undefined;
  if (input.sip_login !== undefined && input.sip_login !== null && input.sip_login !== '') {
    if (typeof input.sip_login !== 'string' || input.sip_login.length > 64) throw badRequest('sip_login', 'must be a SIP login of the client');
    sipLogin = input.sip_login.trim();
  }
  const client = await portalClient(ctx, actor, input.login);
  const password = randomPassword(16);
  return inTx(ctx.db, async (trx) => {
    let q = trx.selectFrom('sip_accounts').selectAll().where('account_id', '=', client.id);
    q = sipLogin === undefined ? q.where('kind', '=', 'main') : q.where('name', '=', sipLogin);
    const sip = await q.orderBy('id').executeTakeFirst();
    if (!sip) throw notFound('SIP account');
    if (SERVICE_KINDS.includes(sip.kind)) {
      throw new AppError(400, 'SERVICE_ACCOUNT', 'sip_login: service SIP accounts (_webN, _ipaN) are not reset here', 'sip_login');
    }
    await setSipSecret(ctx, trx, sip, client.login, password);
    return { login: client.login, sip: { name: sip.name, username: sip.name, password, host: ctx.config.sipDomain } };
  });
}

const EMAIL_RE = /^[^\s@"'<>()[\],;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const LANGUAGE_RE = /^([A-Za-z]{2})(?:[-_]([A-Za-z]{2}))?$/;

/** `undefined`: leave the field; `null` (JSON null or ""): clear it; else the validated value. */
function profileField(value: unknown, field: string, parse: (text: string) => string | null, rule: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string' && !(field === 'phone' && typeof value === 'number')) throw badRequest(field, `must be ${rule}`);
  const parsed = parse(String(value).trim());
  if (parsed === null) throw badRequest(field, `must be ${rule}`);
  return parsed;
}

export function parseProfile(input: { name?: unknown; email?: unknown; phone?: unknown; language?: unknown }) {
  const changes = {
    name: profileField(input.name, 'name', (t) => (t.length >= 1 && t.length <= 100 && !/\p{Cc}/u.test(t) ? t : null),
      'a text of 1-100 characters without control characters'),
    email: profileField(input.email, 'email', (t) => (t.length <= 254 && EMAIL_RE.test(t) ? t : null),
      'an e-mail address like client@example.com'),
    phone: profileField(input.phone, 'phone', normalizeE164, 'an E.164 number like +123456789'),
    language: profileField(input.language, 'language', (t) => {
      const m = LANGUAGE_RE.exec(t);
      return m ? (m[2] ? `${m[1].toLowerCase()}-${m[2].toUpperCase()}` : m[1].toLowerCase()) : null;
    }, 'a 2-letter language code like en, or with a region like en-GB'),
  };
  const set = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as
    Partial<Record<'name' | 'email' | 'phone' | 'language', string | null>>;
  if (Object.keys(set).length === 0) throw badRequest('body', 'give at least one of name, email, phone, language');
  return set;
}

export async function clientProfileUpdate(
  ctx: Ctx, actor: Actor, input: { login?: unknown; name?: unknown; email?: unknown; phone?: unknown; language?: unknown },
) {
  assertActive(actor);
  const set = parseProfile(input);
  const client = await portalClient(ctx, actor, input.login);
  const updated = await inTx(ctx.db, async (trx) => {
    await trx.updateTable('accounts').set({ ...set, updated_at: nowIso() }).where('id', '=', client.id).execute();
    return reachableClient(trx, actor, client.login);
  });
  return { client: await clientProfile(ctx, actor, updated), updated: Object.keys(set) };
}
