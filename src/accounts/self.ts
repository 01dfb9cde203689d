// What a client reads and changes of its own account.
import type { Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import { badRequest, forbidden, tooManyRequests } from '../errors.js';
import { formatMoney, microsFromDb } from '../money.js';
import type { Actor } from './actor.js';
import { hashPassword, passwordWeakness, verifyPassword } from './credentials.js';
import { accountById, assertActive } from './tenancy.js';

export async function me(ctx: Ctx, actor: Actor) {
  const row = await ctx.db.selectFrom('accounts as a')
    .leftJoin('plans as p', 'p.id', 'a.plan_id')
    .select(['a.id', 'a.login', 'a.balance_micros', 'a.active', 'a.plan_id', 'p.name as plan_name'])
    .where('a.id', '=', actor.id)
    .executeTakeFirstOrThrow();
  return {
    id: Number(row.id),
    username: row.login,
    balance: formatMoney(microsFromDb(row.balance_micros), 4),
    // An account of an inactive reseller reads as inactive too: it can do nothing.
    active: actor.active ? 1 : 0,
    id_plan: row.plan_id === null ? null : Number(row.plan_id),
    plan_name: row.plan_name ?? null,
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

/** Password checks are rate-limited per login and per address (CONTRACT §3). */
export async function checkPasswordLimited(ctx: Ctx, login: string, ip: string, password: string, stored: string | null): Promise<boolean> {
  const keys = [`login:${login}`, `ip:${ip}`];
  if (ctx.limiter.isBlocked(keys)) throw tooManyRequests('Too many failed password attempts; wait 15 minutes');
  const ok = await verifyPassword(password, stored);
  if (ok) ctx.limiter.recordSuccess(keys[0]);
  else ctx.limiter.recordFailure(keys);
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
