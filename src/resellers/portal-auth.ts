// The white-label portal's password check of a reseller's client: counted per login and, when
// the portal passes the end user's address, per that address within the reseller, so a portal
// can neither be used to guess passwords nor to probe which logins exist.
import { isIP } from 'node:net';
import type { Actor } from '../accounts/actor.js';
import { checkPasswordLimited } from '../accounts/self.js';
import type { Ctx } from '../context.js';
import type { Account } from '../db/schema.js';
import { accountInactive, AppError, badRequest, forbidden, tooManyRequests } from '../errors.js';
import { clientProfile, portalClient } from './portal-client.js';

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

/**
 * Checks a client's portal password, rate-limited per login and, when the portal passes the end
 * user's `client_ip`, per that address within this reseller (see portalAddress).
 */
export async function clientAuth(ctx: Ctx, actor: Actor, input: { login?: unknown; password?: unknown; client_ip?: unknown }) {
  if (typeof input.login !== 'string' || input.login.trim() === '') throw badRequest('login', 'is required');
  if (typeof input.password !== 'string' || input.password === '') throw badRequest('password', 'is required');
  if (input.password.length > 1024) throw badRequest('password', 'is too long');
  const address = portalAddress(actor, input.client_ip);
  const client = await passwordCheckClient(ctx, actor, input.login, address);
  if (!(await checkPasswordLimited(ctx, client.login, address, input.password, client.password_hash))) {
    throw forbidden('INVALID_CREDENTIALS', 'Login or password is wrong');
  }
  // Only a caller who knows the password learns that the account is inactive.
  if (client.active !== 1 || !actor.active) throw accountInactive();
  return { authenticated: true, client: await clientProfile(ctx, actor, client) };
}
