// The white-label portal's password checks, of a reseller's client and of the reseller (agent)
// itself: counted per login and, when the portal passes the end user's address, per that address
// within the reseller, so a portal can neither be used to guess passwords nor to probe which
// logins exist.
import { isIP } from 'node:net';
import type { Actor } from '../accounts/actor.js';
import { checkPasswordLimited } from '../accounts/self.js';
import { accountById } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Account } from '../db/schema.js';
import { accountInactive, AppError, badRequest, forbidden, tooManyRequests } from '../errors.js';
import { agentProfile, clientProfile, portalClient } from './portal-client.js';

/**
 * The address a portal password check is counted under (CONTRACT §3): the end user's, as the
 * portal passes it in `client_ip`, counted within this reseller, so nothing one reseller's
 * visitors do limits another reseller's clients. Null when the portal passes none: the request
 * then comes from the portal's own server, shared by all of its visitors, and counting it would
 * let one visitor's typos (or one attacker) lock every client of the portal out; such checks
 * get the per-login limit only.
 */
export function portalAddress(actor: Actor, clientIp: unknown): string | null {
  if (clientIp === undefined || clientIp === null || clientIp === '') return null;
  if (typeof clientIp !== 'string' || clientIp.length > 64 || isIP(clientIp.trim()) === 0) {
    throw badRequest('client_ip', 'must be the end user\'s IPv4 or IPv6 address');
  }
  return `reseller-${actor.id}/${clientIp.trim().toLowerCase()}`;
}

/**
 * The client whose password is about to be checked. A login that is not one of this reseller's
 * clients counts as a failed attempt of the address (never of that login: a reseller must not be
 * able to lock out another tenant's client), so a portal cannot be used to probe logins freely.
 * Without an address nothing is counted: the answer (404) tells nothing a reseller's own client
 * list does not.
 */
export async function passwordCheckClient(ctx: Ctx, actor: Actor, login: unknown, address: string | null): Promise<Account> {
  const addressKey = address === null ? [] : [`ip:${address}`];
  if (addressKey.length > 0 && await ctx.limiter.isBlocked(addressKey)) {
    throw tooManyRequests('Too many failed password attempts; wait 15 minutes');
  }
  try {
    return await portalClient(ctx, actor, login);
  } catch (err) {
    if (addressKey.length > 0 && err instanceof AppError && err.status === 404) await ctx.limiter.recordFailure(addressKey);
    throw err;
  }
}

/** The password a portal login sends: 400 when absent or past any password's length. */
function portalPassword(password: unknown): string {
  if (typeof password !== 'string' || password === '') throw badRequest('password', 'is required');
  if (password.length > 1024) throw badRequest('password', 'is too long');
  return password;
}

/**
 * Checks an account's password under the portal limits: per login and, when the portal passes
 * the end user's `client_ip`, per that address within this reseller (see portalAddress). A wrong
 * password, or none stored, is INVALID_CREDENTIALS; only a caller who knows the password learns
 * that the account is inactive.
 */
async function checkPortalPassword(ctx: Ctx, account: Account, address: string | null, password: string, active: boolean): Promise<void> {
  if (!(await checkPasswordLimited(ctx, account.login, address, password, account.password_hash))) {
    throw forbidden('INVALID_CREDENTIALS', 'Login or password is wrong');
  }
  if (!active) throw accountInactive();
}

/** Checks a client's portal password (see checkPortalPassword). */
export async function clientAuth(ctx: Ctx, actor: Actor, input: { login?: unknown; password?: unknown; client_ip?: unknown }) {
  if (typeof input.login !== 'string' || input.login.trim() === '') throw badRequest('login', 'is required');
  const password = portalPassword(input.password);
  const address = portalAddress(actor, input.client_ip);
  const client = await passwordCheckClient(ctx, actor, input.login, address);
  await checkPortalPassword(ctx, client, address, password, client.active === 1 && actor.active);
  return { authenticated: true, client: await clientProfile(ctx, actor, client) };
}

/**
 * Checks the agent's own password, for the login to the agent's pages of its portal: the portal
 * holds only the agent's API key, and this is the account that key belongs to. Counted under
 * the agent's login and the visitor's address like a client's check, so the agent's login page
 * is no easier to guess through than its clients'.
 */
export async function agentAuth(ctx: Ctx, actor: Actor, input: { password?: unknown; client_ip?: unknown }) {
  const password = portalPassword(input.password);
  const address = portalAddress(actor, input.client_ip);
  const agent = await accountById(ctx.db, actor.id);
  await checkPortalPassword(ctx, agent, address, password, actor.active);
  return { agent: agentProfile(actor, agent) };
}
