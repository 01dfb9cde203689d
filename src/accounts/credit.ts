// Postpaid credit (CONTRACT §4): an account marked postpaid may spend up to its credit limit
// beyond its balance, `available = balance + credit_limit − open reservations`. Call
// authorization, reservations and every funded debit (ledger/) already count it; this is where
// the operator gives or withdraws it.
import type { Ctx } from '../context.js';
import { lockAccounts } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { badRequest } from '../errors.js';
import { formatMoney, microsFromDb } from '../money.js';
import { bool, money } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { accountByLogin } from './admin-ops.js';

export interface SetCreditInput { login?: unknown; postpaid?: unknown; credit_limit?: unknown }

/**
 * Admin `set-credit`: makes a direct client or a reseller postpaid with a credit limit, or
 * prepaid again (limit 0). A reseller's clients stay prepaid to it: their credit would be the
 * reseller's money, not the operator's to give.
 *
 * Lowering the limit (or ending postpaid) below what the account already uses is allowed, as a
 * bank lowers a credit line: nothing is taken back, calls under way settle as reserved, and the
 * account starts nothing new it cannot pay from what is left. The answer shows `available`,
 * negative when the account owes more than its new limit.
 */
export async function setCredit(ctx: Ctx, input: SetCreditInput) {
  const postpaid = bool(input.postpaid, 'postpaid');
  const limitGiven = input.credit_limit !== undefined && input.credit_limit !== null && input.credit_limit !== '';
  // Required when postpaid (money() says so); 0 or absent when not.
  const creditLimitMicros = postpaid || limitGiven ? money(input.credit_limit, 'credit_limit') : 0n;
  if (!postpaid && creditLimitMicros !== 0n) {
    throw badRequest('credit_limit', 'must be 0 or absent when postpaid is false: a prepaid account has no credit');
  }
  return inTx(ctx.db, async (trx) => {
    const account = await accountByLogin(trx, input.login);
    if (account.role !== 'client' && account.role !== 'reseller') throw badRequest('login', 'has no balance');
    if (account.role === 'client' && account.parent_id !== null) {
      throw badRequest('login', 'is a client of a reseller, and those are prepaid to their reseller; give the reseller credit instead');
    }
    // Locked like every money transaction (db/locks.ts): an authorization running now sees the
    // old limit or the new one, never a mix.
    const locked = (await lockAccounts(trx, ctx.dialect, [Number(account.id)])).get(Number(account.id))!;
    await trx.updateTable('accounts')
      .set({ postpaid: postpaid ? 1 : 0, credit_limit_micros: creditLimitMicros, updated_at: nowIso() })
      .where('id', '=', account.id).execute();
    const balanceMicros = microsFromDb(locked.balance_micros);
    return {
      login: account.login,
      postpaid: postpaid ? 1 : 0,
      credit_limit: formatMoney(creditLimitMicros, 4),
      balance: formatMoney(balanceMicros, 4),
      available: formatMoney(balanceMicros + creditLimitMicros - microsFromDb(locked.reserved_micros), 4),
    };
  });
}
