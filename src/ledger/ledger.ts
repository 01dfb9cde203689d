// The only code that changes a balance. Every change is a posting written in the caller's
// transaction, together with the thing that caused it, so balance = sum(postings) always.
import { sql } from 'kysely';
import type { Db, Trx } from '../db/connect.js';
import { preparedQuery } from '../db/prepared.js';
import { AppError, insufficientBalance, notFound } from '../errors.js';
import { ledgerPostings } from '../metrics.js';
import { formatMoney, MAX_AMOUNT_MICROS, microsFromDb, type Micros } from '../money.js';
import { nowIso } from '../util/time.js';

export type PostingKind =
  | 'refill' | 'voucher' | 'transfer' | 'payment' | 'call' | 'sms' | 'esim' | 'refund' | 'adjustment';

/** Kinds that are credits a client sees in its refill history. */
export const REFILL_KINDS: PostingKind[] = ['refill', 'voucher', 'transfer', 'payment'];

export interface PostingRequest {
  accountId: number;
  amountMicros: Micros;
  kind: PostingKind;
  refType?: string;
  refId?: string | number;
  description?: string;
  /** Debits only: refuse (402) when balance plus postpaid credit would go below zero. */
  requireFunds?: boolean;
}

export interface Posting {
  postingId: number;
  balanceAfterMicros: Micros;
}

// The two statements of a posting run on every call and charge: built once (db/prepared.ts).
const addToBalance = preparedQuery((db) => db.updateTable('accounts')
  .set({ balance_micros: sql`balance_micros + ${0n}`, updated_at: '' })
  .where('id', '=', 0)
  .returning('balance_micros'));
const addToBalanceIfFunded = preparedQuery((db) => db.updateTable('accounts')
  .set({ balance_micros: sql`balance_micros + ${0n}`, updated_at: '' })
  .where('id', '=', 0)
  .where(sql<boolean>`balance_micros + (case when postpaid = 1 then credit_limit_micros else 0 end) + ${0n} >= 0`)
  .returning('balance_micros'));
const insertPosting = preparedQuery((db) => db.insertInto('ledger_postings')
  .values({
    account_id: 0, amount_micros: 0n, balance_after_micros: 0n, kind: '', ref_type: '', ref_id: '', description: '', created_at: '',
  })
  .returning('id'));

const balanceOutOfRange = () => new AppError(409, 'BALANCE_OUT_OF_RANGE',
  `The balance would leave the range Ledgerline keeps (±${formatMoney(MAX_AMOUNT_MICROS, 6)}); move a smaller amount`);

export async function post(trx: Trx, req: PostingRequest): Promise<Posting> {
  if (req.amountMicros === 0n) throw new RangeError('a posting of zero moves nothing');
  const now = nowIso();
  const [row] = req.requireFunds
    ? await addToBalanceIfFunded(trx, [req.amountMicros, now, req.accountId, req.amountMicros])
    : await addToBalance(trx, [req.amountMicros, now, req.accountId]);
  if (!row) {
    if (req.requireFunds) throw insufficientBalance();
    throw notFound('Account');
  }
  const balanceAfterMicros = microsFromDb(row.balance_micros);
  // Balances stay in the money range, so every later read and sum of them stays exact. The
  // transaction rolls back with this error: nothing is posted.
  if ((req.amountMicros > 0n && balanceAfterMicros > MAX_AMOUNT_MICROS) || (req.amountMicros < 0n && balanceAfterMicros < -MAX_AMOUNT_MICROS)) {
    throw balanceOutOfRange();
  }
  const [inserted] = await insertPosting(trx, [
    req.accountId, req.amountMicros, balanceAfterMicros, req.kind, req.refType ?? null,
    req.refId === undefined ? null : String(req.refId), req.description ?? null, now,
  ]);
  // Counted when written; a rolled-back transaction may overcount, which a rate metric tolerates.
  ledgerPostings.inc({ kind: req.kind });
  return { postingId: Number(inserted.id), balanceAfterMicros };
}

export interface LedgerMismatch {
  accountId: number;
  login: string;
  balanceMicros: Micros;
  postingsSumMicros: Micros;
}

/** Every account whose balance differs from the sum of its postings (empty = ledger sound). */
export async function findLedgerMismatches(db: Db): Promise<{ accountsChecked: number; mismatches: LedgerMismatch[] }> {
  const rows = await db
    .selectFrom('accounts as a')
    .leftJoin(
      db.selectFrom('ledger_postings')
        .select(['account_id', sql<number>`sum(amount_micros)`.as('total')])
        .groupBy('account_id')
        .as('p'),
      'p.account_id', 'a.id',
    )
    .select(['a.id', 'a.login', 'a.balance_micros', 'p.total'])
    .execute();
  const mismatches: LedgerMismatch[] = [];
  for (const r of rows) {
    const balanceMicros = microsFromDb(r.balance_micros);
    const postingsSumMicros = microsFromDb(r.total as number | string | null);
    if (balanceMicros !== postingsSumMicros) {
      mismatches.push({ accountId: Number(r.id), login: r.login, balanceMicros, postingsSumMicros });
    }
  }
  return { accountsChecked: rows.length, mismatches };
}
