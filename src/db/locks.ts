// Account locks and transient-conflict retries of money transactions. How each dialect locks
// (SQLite's BEGIN IMMEDIATE holds the database; PostgreSQL locks rows) is in dialect.ts.
//
// The global lock order (PostgreSQL): a transaction that changes money locks every account it
// will touch first, all in one statement, in ascending id, and only then touches any other row
// another money transaction may lock (reservations, calls, postings). Two such transactions
// then never wait on each other in a cycle. Every multi-account transaction follows it: call
// authorization, CDR settlement, the reservation expiry worker, the release of an abandoned
// call. Single-account ones (refill, voucher, transfer, payment) lock one account and so
// cannot close a cycle. withTransientRetry is the safety net should one happen anyway.
import { CompiledQuery } from 'kysely';
import type { Db, Trx } from './connect.js';
import { forUpdate, hasTransientConflicts, type Dialect } from './dialect.js';
import { preparedQuery } from './prepared.js';
import { inTx } from './tx.js';
import { AppError } from '../errors.js';
import { transactionRetries } from '../metrics.js';

export interface LockedAccount {
  id: number;
  balance_micros: number;
  credit_limit_micros: number;
  reserved_micros: number;
  postpaid: number;
  active: number;
}

function lockQuery(db: Db | Trx, dialect: Dialect, ids: readonly number[]) {
  // ORDER BY below FOR UPDATE: PostgreSQL locks the rows as the sort returns them, in id order.
  return forUpdate(db.selectFrom('accounts')
    .select(['id', 'balance_micros', 'credit_limit_micros', 'reserved_micros', 'postpaid', 'active'])
    .where('id', 'in', [...ids]).orderBy('id'), dialect);
}
// A call has one or two payers (client, reseller): one prepared statement for each count.
const lockOne = preparedQuery<{ id: number }>()((db, p, dialect) => lockQuery(db, dialect, [p.id]));
const lockTwo = preparedQuery<{ lowerId: number; higherId: number }>()((db, p, dialect) => lockQuery(db, dialect, [p.lowerId, p.higherId]));

/** Most accounts one statement locks (the expiry worker's batch). */
export const MAX_LOCKED_ACCOUNTS = 1000;

/** Reads and locks the accounts, always in ascending id so two transactions never deadlock. */
export async function lockAccounts(trx: Trx, dialect: Dialect, ids: number[]): Promise<Map<number, LockedAccount>> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  if (sorted.length > MAX_LOCKED_ACCOUNTS) throw new RangeError(`at most ${MAX_LOCKED_ACCOUNTS} accounts per lock`);
  let rows: LockedAccount[];
  if (sorted.length === 0) rows = [];
  else if (sorted.length === 1) rows = await lockOne(trx, { id: sorted[0] });
  else if (sorted.length === 2) rows = await lockTwo(trx, { lowerId: sorted[0], higherId: sorted[1] });
  else rows = await lockQuery(trx, dialect, sorted).execute();
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id) }]));
}

/** PostgreSQL's serialization failure and deadlock victim: the work may simply be done again. */
const TRANSIENT_CODES = new Set(['40001', '40P01']);

export function isTransientConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && TRANSIENT_CODES.has((err as { code?: string }).code ?? '');
}

/** Attempts of one money operation before the caller is told to retry (503 RETRY_LATER). */
export const TRANSIENT_ATTEMPTS = 4;

const SAVEPOINT = CompiledQuery.raw('savepoint money_op');
const RELEASE = CompiledQuery.raw('release savepoint money_op');
const ROLLBACK_TO = CompiledQuery.raw('rollback to savepoint money_op');

export const retryLater = (operation: string) => new AppError(503, 'RETRY_LATER',
  `The ${operation} collided with concurrent updates and was not applied; send it again`);

/** Transactions whose opener runs the whole of them again on a transient conflict (inTxRetrying). */
const retriedWhole = new WeakSet<Trx>();
/** The operation a transient conflict broke off, for the opener's metric and answer. */
const operationOf = new WeakMap<object, string>();

/** A short, jittered pause that lets the transaction that won finish first. */
const backOff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, attempt * (5 + Math.random() * 20)));

/**
 * Runs `fn` in a transaction (or in the caller's, when `db` is one) and, on PostgreSQL, runs the
 * whole transaction again, a bounded number of times, when it is chosen as a deadlock victim or
 * fails to serialize; then 503 RETRY_LATER. For a request's own transaction (http pipeline):
 * everything it did is redone, its audit row included, and the money operations inside need no
 * savepoint of their own (two round trips each, withTransientRetry).
 */
export async function inTxRetrying<T>(db: Db | Trx, dialect: Dialect, fn: (trx: Trx) => Promise<T>): Promise<T> {
  if ((db as Trx).isTransaction || !hasTransientConflicts(dialect)) return inTx(db, fn);
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTx(db, (trx) => {
        retriedWhole.add(trx);
        return fn(trx);
      });
    } catch (err) {
      if (!isTransientConflict(err)) throw err;
      const operation = (typeof err === 'object' && err !== null && operationOf.get(err)) || 'transaction';
      transactionRetries.inc({ operation });
      if (attempt >= TRANSIENT_ATTEMPTS) throw retryLater(operation);
      await backOff(attempt);
    }
  }
}

/**
 * Runs `fn` in a savepoint of the transaction (PostgreSQL) and runs it again, a bounded number
 * of times, when it is chosen as a deadlock victim or fails to serialize. A savepoint rather
 * than a new transaction, so it works whether the service owns the transaction or joins the
 * request's (which also holds its audit row). Inside a transaction its opener retries whole
 * (inTxRetrying), no savepoint: the conflict goes up to it, named. SQLite has one writer:
 * nothing to retry.
 */
export async function withTransientRetry<T>(trx: Trx, dialect: Dialect, operation: string, fn: () => Promise<T>): Promise<T> {
  if (!hasTransientConflicts(dialect)) return fn();
  if (retriedWhole.has(trx)) {
    try {
      return await fn();
    } catch (err) {
      if (isTransientConflict(err) && !operationOf.has(err as object)) operationOf.set(err as object, operation);
      throw err;
    }
  }
  for (let attempt = 1; ; attempt++) {
    await trx.executeQuery(SAVEPOINT);
    try {
      const value = await fn();
      await trx.executeQuery(RELEASE);
      return value;
    } catch (err) {
      // Back to where the operation started: its locks are released, the transaction lives on.
      try {
        await trx.executeQuery(ROLLBACK_TO);
        await trx.executeQuery(RELEASE);
      } catch {
        throw err; // the connection itself failed: the original error says why
      }
      if (!isTransientConflict(err)) throw err;
      transactionRetries.inc({ operation });
      if (attempt >= TRANSIENT_ATTEMPTS) throw retryLater(operation);
      await backOff(attempt);
    }
  }
}
