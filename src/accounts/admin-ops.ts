// Operator actions on any account: refills and adjustments, status, listing.
import type { Ctx } from '../context.js';
import { listTotal, OPERATOR_LISTS } from '../db/list-counts.js';
import type { Account, Role } from '../db/schema.js';
import { lockAccounts } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { badRequest, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { formatMoney, microsFromDb } from '../money.js';
import { bool, cursorPaging, money, optionalString, pageWithNext, requiredString } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';

export function accountView(a: Account) {
  return {
    id: Number(a.id),
    login: a.login,
    role: a.role,
    parent_id: a.parent_id === null ? null : Number(a.parent_id),
    plan_id: a.plan_id === null ? null : Number(a.plan_id),
    retail_plan_id: a.retail_plan_id === null ? null : Number(a.retail_plan_id),
    balance: formatMoney(microsFromDb(a.balance_micros), 4),
    credit_limit: formatMoney(microsFromDb(a.credit_limit_micros), 4),
    postpaid: a.postpaid,
    active: a.active,
    markup_percent: a.markup_micro_percent === null ? null : formatMoney(microsFromDb(a.markup_micro_percent), 2),
    name: a.name,
    email: a.email,
    created_at: formatLocal(a.created_at),
  };
}

/** Any account by login, for the operator; 404 when there is none. */
export async function accountByLogin(db: Ctx['db'], login: unknown): Promise<Account> {
  const l = requiredString(login, 'login', 64);
  const a = await db.selectFrom('accounts').selectAll().where('login', '=', l).executeTakeFirst();
  if (!a) throw notFound('Account');
  return a;
}

/**
 * Credits (positive) or corrects (negative) a balance by a ledger posting. A correction leaves
 * at least what open call reservations hold (balance + postpaid credit - reserved >= 0), else
 * 402 INSUFFICIENT_BALANCE: a call already under way must still be paid for.
 */
export async function refill(ctx: Ctx, input: { login?: unknown; amount?: unknown; description?: unknown }) {
  const amount = money(input.amount, 'amount', { min: -(10n ** 18n) });
  if (amount === 0n) throw badRequest('amount', 'must not be 0');
  const description = optionalString(input.description, 'description', 255);
  return inTx(ctx.db, async (trx) => {
    const account = await accountByLogin(trx, input.login);
    if (account.role === 'admin' || account.role === 'switch') throw badRequest('login', 'has no balance');
    // Locked (one account, so in the global order) to check the posting against what it read.
    const locked = (await lockAccounts(trx, ctx.dialect, [Number(account.id)])).get(Number(account.id))!;
    const p = await post(trx, {
      accountId: account.id, amountMicros: amount, kind: amount > 0n ? 'refill' : 'adjustment',
      refType: 'admin', description: description ?? (amount > 0n ? 'Refill' : 'Adjustment'), requireFunds: amount < 0n,
      balanceBeforeMicros: microsFromDb(locked.balance_micros),
    });
    return { login: account.login, amount: formatMoney(amount, 4), balance: formatMoney(p.balanceAfterMicros, 4), posting_id: p.postingId };
  });
}

export async function setAccountStatus(ctx: Ctx, input: { login?: unknown; active?: unknown }) {
  const active = bool(input.active, 'active');
  return inTx(ctx.db, async (trx) => {
    const account = await accountByLogin(trx, input.login);
    if (account.role === 'admin') throw badRequest('login', 'the admin account cannot be deactivated');
    await trx.updateTable('accounts').set({ active: active ? 1 : 0, updated_at: nowIso() }).where('id', '=', account.id).execute();
    // SIP endpoints stay projected; authorization refuses calls of inactive accounts.
    return { login: account.login, active: active ? 1 : 0 };
  });
}

const ROLES: Role[] = ['admin', 'reseller', 'client', 'switch'];

/** Every account, or those of one role, oldest first; the total is the maintained count. */
export async function listAccounts(ctx: Ctx, query: { role?: unknown; limit?: unknown; offset?: unknown; after?: unknown }) {
  const page = cursorPaging(query);
  let role: Role | undefined;
  if (query.role !== undefined && query.role !== '') {
    if (!ROLES.includes(query.role as Role)) throw badRequest('role', `must be one of ${ROLES.join(', ')}`);
    role = query.role as Role;
  }
  let base = ctx.db.selectFrom('accounts');
  if (role) base = base.where('role', '=', role);
  if (page.afterId !== null) base = base.where('id', '>', page.afterId);
  const [total, found] = await Promise.all([
    listTotal(ctx.reads, ctx.db, OPERATOR_LISTS, role ? `accounts:${role}` : 'accounts'),
    ctx.reads.all(base.selectAll().orderBy('id').limit(page.limit + 1).offset(page.offset)),
  ]);
  const { rows, next } = pageWithNext(found, page.limit, (r) => Number(r.id));
  return { total, limit: page.limit, offset: page.offset, next, accounts: rows.map(accountView) };
}

export async function getAccount(ctx: Ctx, login: unknown) {
  const account = await accountByLogin(ctx.db, login);
  const keys = await ctx.db.selectFrom('api_keys').select(['key_prefix', 'label', 'created_at', 'revoked_at'])
    .where('account_id', '=', account.id).orderBy('id').execute();
  // A key rotated with a grace period has its end set ahead: it is revoked once that has passed.
  const now = nowIso();
  return {
    account: accountView(account),
    api_keys: keys.map((k) => ({
      prefix: k.key_prefix, label: k.label, created_at: formatLocal(k.created_at), revoked: k.revoked_at !== null && k.revoked_at <= now,
    })),
  };
}
