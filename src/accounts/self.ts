// What a client reads and changes of its own account.
import type { Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import { badRequest, forbidden, tooManyRequests } from '../errors.js';
import { formatMoney, microsFromDb } from '../money.js';
import type { Actor } from './actor.js';
import { hashPassword, passwordWeakness, verifyPassword } from './credentials.js';
import { accountById, assertActive } from './tenancy.js';

/** Rendered from the row read with the API key: `me` is the hottest read and needs no second query. */
export function me(actor: Actor) {
  return {
    id: actor.id,
    username: actor.login,
    balance: formatMoney(microsFromDb(actor.readAtAuth.balanceMicros), 4),
    // An account of an inactive reseller reads as inactive too: it can do nothing.
    active: actor.active ? 1 : 0,
    id_plan: actor.readAtAuth.planId,
    plan_name: actor.readAtAuth.planName,
  };
}

export async function balance(ctx: Ctx, actor: Actor) {
  const a = await accountById(ctx.db, actor.id);
  return {
    username: a.login,
    balance: formatMoney(microsFromDb(a.balance_micros), 4),
    credit_limit: formatMoney(a.postpaid === 1 ? microsFromDb(a.credit_limit_micros) : 0n, 4),
  };
}

/**
 * Password checks are rate-limited per login and per address (CONTRACT §3). `address` is the end
 * user's; null when it is unknown (a portal that passes no client_ip): per login only then.
 */
export async function checkPasswordLimited(ctx: Ctx, login: string, address: string | null, password: string, stored: string | null): Promise<boolean> {
  const keys = address === null ? [`login:${login}`] : [`login:${login}`, `ip:${address}`];
  // Counted before the (slow) check, so a burst of concurrent guesses cannot outrun the limit.
  if (!(await ctx.limiter.tryAttempt(keys))) throw tooManyRequests('Too many failed password attempts; wait 15 minutes');
  const ok = await verifyPassword(password, stored);
  if (ok) {
    if (keys.length > 1) await ctx.limiter.forgive(keys.slice(1));
    await ctx.limiter.clear(keys[0]);
  }
  return ok;
}

export async function changeOwnPassword(ctx: Ctx, actor: Actor, input: { current_password?: unknown; new_password?: unknown }, ip: string) {
  assertActive(actor);
  if (typeof input.current_password !== 'string' || input.current_password === '') throw badRequest('current_password', 'is required');
  const weakness = passwordWeakness(input.new_password);
  if (weakness) throw badRequest('new_password', weakness);
  const account = await accountById(ctx.db, actor.id);
  if (!(await checkPasswordLimited(ctx, account.login, ip, input.current_password, account.password_hash))) {
    throw forbidden('INVALID_PASSWORD', 'Current password is wrong');
  }
  const hash = await hashPassword(input.new_password as string);
  await inTx(ctx.db, (trx) => trx.updateTable('accounts').set({ password_hash: hash }).where('id', '=', actor.id).execute());
  return { changed: true };
}
