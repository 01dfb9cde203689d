// Vouchers: codes issued by the admin (for its direct clients) or a reseller (for its own
// clients). Redeeming is one conditional update, so a code is used once however many race.
import type { Actor } from '../accounts/actor.js';
import { randomDigits } from '../accounts/credentials.js';
import { assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import { lockAccounts } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound, tooManyRequests } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { formatMoney, microsFromDb } from '../money.js';
import { intInRange, money } from '../util/input.js';
import { nowIso } from '../util/time.js';

export const VOUCHER_CODE_DIGITS = 12;
export const MAX_VOUCHERS_PER_REQUEST = 10_000;

export async function createVouchers(ctx: Ctx, issuerId: number | null, input: { value?: unknown; count?: unknown }) {
  const valueMicros = money(input.value, 'value', { allowZero: false });
  const count = intInRange(input.count, 'count', 1, MAX_VOUCHERS_PER_REQUEST, 1);
  return inTx(ctx.db, async (trx) => {
    const codes: string[] = [];
    const now = nowIso();
    while (codes.length < count) {
      const code = randomDigits(VOUCHER_CODE_DIGITS);
      const inserted = await trx.insertInto('vouchers').values({
        code, value_micros: valueMicros, issuer_id: issuerId, used_by: null, used_at: null, created_at: now,
      }).onConflict((oc) => oc.column('code').doNothing()).returning('id').executeTakeFirst();
      if (inserted) codes.push(code);
    }
    return { vouchers: codes, value: formatMoney(valueMicros, 4), count };
  });
}

export async function redeemVoucher(ctx: Ctx, actor: Actor, voucherInput: unknown) {
  assertActive(actor);
  const code = typeof voucherInput === 'number' ? String(voucherInput) : voucherInput;
  if (typeof code !== 'string' || !/^\d{4,32}$/.test(code.trim())) throw badRequest('voucher', 'must be a voucher code (digits)');
  const limiterKey = [`voucher:${actor.id}`];
  const trimmed = code.trim();
  return inTx(ctx.db, async (trx) => {
    // A client's redemptions run one at a time (its account row is locked first), so a burst of
    // concurrent wrong codes cannot outrun the check of its failure count.
    await lockAccounts(trx, ctx.dialect, [actor.id]);
    if (await ctx.limiter.isBlocked(limiterKey)) throw tooManyRequests('Too many failed voucher attempts; wait 15 minutes');
    const now = nowIso();
    let claim = trx.updateTable('vouchers').set({ used_by: actor.id, used_at: now })
      .where('code', '=', trimmed).where('used_at', 'is', null);
    claim = actor.parentId === null ? claim.where('issuer_id', 'is', null) : claim.where('issuer_id', '=', actor.parentId);
    const claimed = await claim.returning(['id', 'value_micros']).executeTakeFirst();
    if (!claimed) {
      const v = await trx.selectFrom('vouchers').select(['issuer_id', 'used_by']).where('code', '=', trimmed).executeTakeFirst();
      const issuer = v?.issuer_id === null || v?.issuer_id === undefined ? null : Number(v.issuer_id);
      if (!v || issuer !== actor.parentId) {
        // A guess: counted where this transaction's rollback cannot undo it, before the lock goes.
        await ctx.limiter.recordFailure(limiterKey);
        throw notFound('Voucher');
      }
      throw conflict('VOUCHER_USED', 'Voucher has already been used');
    }
    const valueMicros = microsFromDb(claimed.value_micros);
    const p = await post(trx, {
      accountId: actor.id, amountMicros: valueMicros, kind: 'voucher', refType: 'voucher', refId: claimed.id,
      description: `Voucher ${trimmed.slice(0, 3)}…${trimmed.slice(-3)}`,
    });
    return { voucher: trimmed, amount: formatMoney(valueMicros, 4), balance: formatMoney(p.balanceAfterMicros, 4) };
  });
}
