// SIP accounts of a client: the main one (named after the login), additional ones, and
// service accounts (`_webN` web phone, `_ipaN` IP-auth peers) that normal lists hide.
import type { Actor } from '../accounts/actor.js';
import { passwordWeakness, randomPassword, sipDigests } from '../accounts/credentials.js';
import { accountById, assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import type { Account, SipAccount, SipKind } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { formatLocal, nowIso } from '../util/time.js';
import { projectIpMatches, projectSipAccount, removeEndpoint, removeSubscriber } from './projection.js';

/**
 * Upper bound of SIP accounts per client, service accounts included. A call centre is one
 * client with a line per seat: a few hundred lines (names stem02..stem999 leave room for it).
 */
export const MAX_SIP_ACCOUNTS_PER_CLIENT = 500;
export const SERVICE_KINDS: SipKind[] = ['web', 'ipa'];

export interface SipView {
  id: number;
  name: string;
  username: string;
  password: string | null;
  host: string;
  callerid: string | null;
  type: 'main' | 'additional' | 'webphone' | 'ip-auth';
  active: number;
  created_at: string | null;
}

const TYPE_NAMES: Record<SipKind, SipView['type']> = { main: 'main', extra: 'additional', web: 'webphone', ipa: 'ip-auth' };

export async function activeCallerId(db: Ctx['db'], accountId: number): Promise<string | null> {
  const row = await db.selectFrom('callerids').select('cid').where('account_id', '=', accountId).where('active', '=', 1).executeTakeFirst();
  return row?.cid ?? null;
}

/** Creates a digest SIP account and projects it, in the caller's transaction. */
export async function insertSipAccount(
  ctx: Ctx, trx: Trx, account: Pick<Account, 'id' | 'login'>, name: string, kind: SipKind, password: string,
): Promise<SipAccount> {
  const taken = await trx.selectFrom('sip_accounts').select('id').where('name', '=', name).executeTakeFirst();
  if (taken) throw conflict('SIP_LOGIN_TAKEN', `SIP login ${name} is already in use`);
  const realm = ctx.config.sipDomain;
  const { ha1, ha1b } = sipDigests(name, realm, password);
  const row = await trx.insertInto('sip_accounts').values({
    account_id: account.id,
    name,
    kind,
    secret_enc: ctx.secrets.encrypt(password),
    ha1,
    ha1b,
    active: 1,
    created_at: nowIso(),
  }).returningAll().executeTakeFirstOrThrow();
  await projectSipAccount(trx, {
    name, accountLogin: account.login, ha1, ha1b, realm,
    callerId: await activeCallerId(trx, account.id), webrtc: kind === 'web',
  });
  return row;
}

/** Changes the secret of an existing digest account and re-projects it. */
export async function setSipSecret(ctx: Ctx, trx: Trx, sip: SipAccount, accountLogin: string, password: string): Promise<void> {
  const realm = ctx.config.sipDomain;
  const { ha1, ha1b } = sipDigests(sip.name, realm, password);
  await trx.updateTable('sip_accounts').set({ secret_enc: ctx.secrets.encrypt(password), ha1, ha1b }).where('id', '=', sip.id).execute();
  await projectSipAccount(trx, {
    name: sip.name, accountLogin, ha1, ha1b, realm,
    callerId: await activeCallerId(trx, sip.account_id), webrtc: sip.kind === 'web',
  });
}

/** The next free additional SIP login: `1234567801` → `1234567802`, `alice` → `alice02`. */
async function nextSipName(trx: Trx, login: string): Promise<string> {
  const stem = /^\d+01$/.test(login) ? login.slice(0, -2) : login;
  const existing = new Set(
    (await trx.selectFrom('sip_accounts').select('name').where('name', 'like', `${stem}%`).execute()).map((r) => r.name),
  );
  for (let n = 2; n < 1000; n++) {
    const candidate = stem + String(n).padStart(2, '0');
    if (!existing.has(candidate)) return candidate;
  }
  throw conflict('SIP_LIMIT', 'No free SIP login left for this account');
}

export function sipView(ctx: Ctx, sip: SipAccount, callerId: string | null, withPassword: boolean): SipView {
  return {
    id: Number(sip.id),
    name: sip.name,
    username: sip.name,
    password: withPassword && sip.secret_enc ? ctx.secrets.decrypt(sip.secret_enc) : null,
    host: ctx.config.sipDomain,
    callerid: callerId,
    type: TYPE_NAMES[sip.kind],
    active: sip.active,
    created_at: formatLocal(sip.created_at),
  };
}

export async function listSipAccounts(
  ctx: Ctx, accountId: number, opts: { includeService: boolean; withPassword: boolean },
): Promise<SipView[]> {
  let q = ctx.db.selectFrom('sip_accounts').selectAll().where('account_id', '=', accountId);
  if (!opts.includeService) q = q.where('kind', 'not in', SERVICE_KINDS);
  const rows = await q.orderBy('id').execute();
  const callerId = await activeCallerId(ctx.db, accountId);
  return rows.map((r) => sipView(ctx, r, callerId, opts.withPassword));
}

/** A client's own digest SIP account by name (service accounts are not reachable here). */
async function ownSipAccount(trx: Trx, actor: Actor, nameInput: unknown): Promise<SipAccount> {
  // A SIP login is a login: an all-digit one may come as a JSON number (CONTRACT §2).
  const name = typeof nameInput === 'number' && Number.isSafeInteger(nameInput) && nameInput >= 0 ? String(nameInput) : nameInput;
  if (typeof name !== 'string' || name === '') throw badRequest('name', 'is required');
  const sip = await trx.selectFrom('sip_accounts').selectAll()
    .where('name', '=', name).where('account_id', '=', actor.id).executeTakeFirst();
  if (!sip || SERVICE_KINDS.includes(sip.kind)) throw notFound('SIP account');
  return sip;
}

export async function createAdditionalSip(ctx: Ctx, actor: Actor, password: string | undefined): Promise<SipView & { password: string }> {
  assertActive(actor);
  if (password !== undefined) {
    const weakness = passwordWeakness(password);
    if (weakness) throw badRequest('password', weakness);
  }
  const secret = password ?? randomPassword(16);
  return inTx(ctx.db, async (trx) => {
    const account = await accountById(trx, actor.id);
    const count = await trx.selectFrom('sip_accounts').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', actor.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_SIP_ACCOUNTS_PER_CLIENT) {
      throw conflict('SIP_LIMIT', `At most ${MAX_SIP_ACCOUNTS_PER_CLIENT} SIP accounts per client`);
    }
    const name = await nextSipName(trx, account.login);
    const sip = await insertSipAccount(ctx, trx, account, name, 'extra', secret);
    return { ...sipView(ctx, sip, await activeCallerId(trx, actor.id), false), password: secret };
  });
}

export async function updateSipPassword(ctx: Ctx, actor: Actor, name: unknown, password: unknown): Promise<{ name: string }> {
  assertActive(actor);
  const weakness = passwordWeakness(password);
  if (weakness) throw badRequest('password', weakness);
  return inTx(ctx.db, async (trx) => {
    const sip = await ownSipAccount(trx, actor, name);
    await setSipSecret(ctx, trx, sip, actor.login, password as string);
    return { name: sip.name };
  });
}

export async function deleteSip(ctx: Ctx, actor: Actor, name: unknown): Promise<{ name: string }> {
  assertActive(actor);
  return inTx(ctx.db, async (trx) => {
    const sip = await ownSipAccount(trx, actor, name);
    if (sip.kind === 'main') throw forbidden('MAIN_SIP_ACCOUNT', 'The main SIP account cannot be deleted');
    // Its IP-auth peers go with it.
    const peers = await trx.selectFrom('ip_auth').select(['id', 'peer_name', 'ip']).where('sip_account_id', '=', sip.id).execute();
    for (const peer of peers) {
      await removeEndpoint(trx, peer.peer_name);
      await trx.deleteFrom('ip_auth').where('id', '=', peer.id).execute();
      await trx.deleteFrom('sip_accounts').where('name', '=', peer.peer_name).execute();
      // The client's other peers on that address may match it whole again.
      await projectIpMatches(trx, peer.ip);
    }
    await removeEndpoint(trx, sip.name);
    await removeSubscriber(trx, sip.name, ctx.config.sipDomain);
    await trx.deleteFrom('sip_accounts').where('id', '=', sip.id).execute();
    return { name: sip.name };
  });
}
