// The eSIM API's `balance`: the money of the account that pays for a purchase (the client's with
// a client key, the reseller's own with a reseller key), and what of it is available (less what
// open call reservations hold, plus credit when postpaid).
import type { Actor } from '../accounts/actor.js';
import { accountById } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import { formatMoney, microsFromDb } from '../money.js';

export async function esimBalance(ctx: Ctx, actor: Actor) {
  const a = await accountById(ctx.db, actor.id);
  const balance = microsFromDb(a.balance_micros);
  const available = balance + (a.postpaid === 1 ? microsFromDb(a.credit_limit_micros) : 0n) - microsFromDb(a.reserved_micros);
  return { login: a.login, balance: formatMoney(balance, 4), available: formatMoney(available > 0n ? available : 0n, 4) };
}
