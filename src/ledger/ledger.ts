// The only code that changes a balance. Every change is a posting written in the caller's
// transaction, together with the thing that caused it, so balance = sum(postings) always.
import { sql } from 'kysely';
import type { Db, Trx } from '../db/connect.js';
import type { HeavyReads } from '../db/heavy-reads.js';
import { preparedQuery } from '../db/prepared.js';
import { AppError, insufficientBalance, notFound } from '../errors.js';
import { ledgerPostings } from '../metrics.js';
import { formatMoney, MAX_AMOUNT_MICROS, microsFromDb, type Micros } from '../money.js';
import { nowIso } from '../util/time.js';

// Only kinds something posts today: each new money path adds its own kind with the code that posts it.
export type PostingKind = 'refill' | 'voucher' | 'transfer' | 'payment' | 'call' | 'adjustment' | 'sms' | 'esim' | 'refund';

/** Kinds that are credits a client sees in its refill history. */
export const REFILL_KINDS: PostingKind[] = ['refill', 'voucher', 'transfer', 'payment'];

export interface PostingRequest {
  accountId: number;
  amountMicros: Micros;
  kind: PostingKind;
  refType?: string;
  refId?: string | number;
  description?: string;
  /**
   * Debits only: refuse (402) unless balance plus postpaid credit still covers the open
   * reservations afterwards. Implied for every debit but a call's settlement (a call already
   * happened, and its reservation made sure the money was there).
   */
  requireFunds?: boolean;
  /**
   * The balance read from the account row this transaction has locked (db/locks.ts), when the
   * caller has one: post() then asserts balance_after = before + amount.
   */
  balanceBeforeMicros?: Micros;
}

export interface Posting {
  postingId: number;
  balanceAfterMicros: Micros;
}

// The two statements of a posting run on every call and charge: built once (db/prepared.ts).
type BalanceChange = { accountId: number; amountMicros: bigint; now: string };
const addToBalance = preparedQuery<BalanceChange>()((db, p) => db.updateTable('accounts')
  .set({ balance_micros: sql`balance_micros + ${p.amountMicros}`, updated_at: p.now })
  .where('id', '=', p.accountId)
  .returning('balance_micros'));
// Money held by open call reservations is not available to any other debit.
const addToBalanceIfFunded = preparedQuery<BalanceChange>()((db, p) => db.updateTable('accounts')
  .set({ balance_micros: sql`balance_micros + ${p.amountMicros}`, updated_at: p.now })
  .where('id', '=', p.accountId)
  .where(sql<boolean>`balance_micros + (case when postpaid = 1 then credit_limit_micros else 0 end) - reserved_micros + ${p.amountMicros} >= 0`)
  .returning(['balance_micros', 'reserved_micros', 'credit_limit_micros', 'postpaid']));
const insertPosting = preparedQuery<{
  accountId: number; amountMicros: bigint; balanceAfterMicros: bigint; kind: PostingKind;
  refType: string | null; refId: string | null; description: string | null; createdAt: string;
}>()((db, p) => db.insertInto('ledger_postings')
  .values({
    account_id: p.accountId, amount_micros: p.amountMicros, balance_after_micros: p.balanceAfterMicros, kind: p.kind,
    ref_type: p.refType, ref_id: p.refId, description: p.description, created_at: p.createdAt,
  })
  .returning('id'));

export const balanceOutOfRange = () => new AppError(409, 'BALANCE_OUT_OF_RANGE',
  `The balance would leave the range Ledgerline keeps (±${formatMoney(MAX_AMOUNT_MICROS, 6)}); move a smaller amount`);

/** A broken ledger rule: the transaction must not commit (the request fails with 500). */
export class LedgerInvariantError extends Error {}

export function assertLedger(condition: boolean, message: string): asserts condition {
  if (!condition) throw new LedgerInvariantError(`ledger invariant violated: ${message}`);
}

export async function post(trx: Trx, req: PostingRequest): Promise<Posting> {
  if (req.amountMicros === 0n) throw new RangeError('a posting of zero moves nothing');
  const funded = req.amountMicros < 0n && (req.requireFunds === true || req.kind !== 'call');
  const now = nowIso();
  const [row] = funded
    ? await addToBalanceIfFunded(trx, { accountId: req.accountId, amountMicros: req.amountMicros, now })
    : await addToBalance(trx, { accountId: req.accountId, amountMicros: req.amountMicros, now });
  if (!row) {
    if (funded) {
      const exists = await trx.selectFrom('accounts').select('id').where('id', '=', req.accountId).executeTakeFirst();
      if (exists) throw insufficientBalance();
    }
    throw notFound('Account');
  }
  const balanceAfterMicros = microsFromDb(row.balance_micros);
  // Balances stay in the money range, so every later read and sum of them stays exact. The
  // transaction rolls back with this error: nothing is posted.
  if ((req.amountMicros > 0n && balanceAfterMicros > MAX_AMOUNT_MICROS) || (req.amountMicros < 0n && balanceAfterMicros < -MAX_AMOUNT_MICROS)) {
    throw balanceOutOfRange();
  }
  // Postconditions: what the statement did is what was asked.
  if (req.balanceBeforeMicros !== undefined) {
    assertLedger(balanceAfterMicros === req.balanceBeforeMicros + req.amountMicros,
      `account ${req.accountId}: ${req.balanceBeforeMicros} + ${req.amountMicros} gave ${balanceAfterMicros}`);
  }
  if (funded) {
    const r = row as unknown as { reserved_micros: number; credit_limit_micros: number; postpaid: number };
    const credit = r.postpaid === 1 ? microsFromDb(r.credit_limit_micros) : 0n;
    assertLedger(balanceAfterMicros + credit - microsFromDb(r.reserved_micros) >= 0n,
      `account ${req.accountId}: a debit left less than its open reservations`);
  }
  const [inserted] = await insertPosting(trx, {
    accountId: req.accountId, amountMicros: req.amountMicros, balanceAfterMicros, kind: req.kind, refType: req.refType ?? null,
    refId: req.refId === undefined ? null : String(req.refId), description: req.description ?? null, createdAt: now,
  });
  // Counted when written; a rolled-back transaction may overcount, which a rate metric tolerates.
  ledgerPostings.inc({ kind: req.kind });
  return { postingId: Number(inserted.id), balanceAfterMicros };
}

export interface LedgerMismatch {
  accountId: number;
  login: string;
  balanceMicros: Micros;
  postingsSumMicros: Micros;
  reservedMicros: Micros;
  openReservationsMicros: Micros;
}

/**
 * Every account that breaks a ledger invariant (empty = ledger sound): balance = sum(postings),
 * reserved = sum(open reservations), reserved >= 0. One statement, so it compares balances and
 * postings of one snapshot. It sums every posting: given `reads` (the Admin API, the CLI), it
 * runs there, away from the switch path.
 */
export async function findLedgerMismatches(db: Db, reads?: HeavyReads): Promise<{ accountsChecked: number; mismatches: LedgerMismatch[] }> {
  const query = db
    .selectFrom('accounts as a')
    .leftJoin(
      db.selectFrom('ledger_postings')
        .select(['account_id', sql<number>`sum(amount_micros)`.as('total')])
        .groupBy('account_id')
        .as('p'),
      'p.account_id', 'a.id',
    )
    .leftJoin(
      db.selectFrom('reservations')
        .select(['account_id', sql<number>`sum(amount_micros)`.as('held')])
        .groupBy('account_id')
        .as('r'),
      'r.account_id', 'a.id',
    )
    .select(['a.id', 'a.login', 'a.balance_micros', 'a.reserved_micros', 'p.total', 'r.held']);
  const rows = reads ? await reads.all(query) : await query.execute();
  const mismatches: LedgerMismatch[] = [];
  for (const r of rows) {
    const balanceMicros = microsFromDb(r.balance_micros);
    const postingsSumMicros = microsFromDb(r.total as number | string | null);
    const reservedMicros = microsFromDb(r.reserved_micros);
    const openReservationsMicros = microsFromDb(r.held as number | string | null);
    if (balanceMicros !== postingsSumMicros || reservedMicros !== openReservationsMicros || reservedMicros < 0n) {
      mismatches.push({ accountId: Number(r.id), login: r.login, balanceMicros, postingsSumMicros, reservedMicros, openReservationsMicros });
    }
  }
  return { accountsChecked: rows.length, mismatches };
}
