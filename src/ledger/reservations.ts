// Reserved money: the only code that changes accounts.reserved_micros. A reservation row and
// the account's reserved total move together, in the caller's transaction, so that
// reserved = sum(open reservations) and reserved >= 0 for every account at all times
// (findLedgerMismatches checks it; migration 0006 backs `reserved >= 0` with the database).
//
// Callers hold the accounts' row locks (db/locks.ts lockAccounts, ascending id) before they
// call any of these, so reservation rows are only ever locked after their accounts.
import { sql } from 'kysely';
import type { Trx } from '../db/connect.js';
import { preparedQuery } from '../db/prepared.js';
import { microsFromDb, type Micros } from '../money.js';
import type { RateMatch } from '../rating/rate-table.js';
import { nowIso } from '../util/time.js';
import { assertLedger } from './ledger.js';

export interface ReservationRequest {
  /** The switch's call id, within the switch that sent it (see calls/switch-ref.ts). */
  uniqueid: string;
  switchRef: string;
  /** The client placing the call; the payer is the client itself or its reseller. */
  callerAccountId: number;
  accountId: number;
  amountMicros: Micros;
  maxDurationSeconds: number;
  expiresAt: string;
  /** The payer's matched rate row: the CDR is charged at it, whatever the rates are by then. */
  rate: RateMatch;
}

/** The columns of a reservation that releasing it needs. */
export interface HeldAmount {
  id: number | string;
  account_id: number | string;
  amount_micros: number | string | bigint;
}

const insertReservation = preparedQuery((db) => db.insertInto('reservations').values({
  uniqueid: '', switch_ref: '', caller_account_id: 0, account_id: 0, amount_micros: 0n, max_duration: 0, expires_at: '', created_at: '',
  rate_prefix: '', rate_destination: '', rate_micros: 0n, connect_charge_micros: 0n, initblock: 0, billingblock: 0, minimal_time: 0,
}));
// Reserving never takes `available` (balance + postpaid credit - reserved) below zero.
const addReserved = preparedQuery((db) => db.updateTable('accounts')
  .set({ reserved_micros: sql`reserved_micros + ${0n}` })
  .where('id', '=', 0)
  .where(sql<boolean>`balance_micros + (case when postpaid = 1 then credit_limit_micros else 0 end) - reserved_micros - ${0n} >= 0`)
  .returning('id'));
const deleteReservation = preparedQuery((db) => db.deleteFrom('reservations').where('id', '=', 0).returning('id'));
// Releasing never takes reserved below zero.
const subtractReserved = preparedQuery((db) => db.updateTable('accounts')
  .set({ reserved_micros: sql`reserved_micros - ${0n}` })
  .where('id', '=', 0)
  .where('reserved_micros', '>=', sql<number>`${0n}`)
  .returning('id'));

/** Holds `amountMicros` of the payer's available money for a call until it is released. */
export async function reserve(trx: Trx, req: ReservationRequest): Promise<void> {
  assertLedger(req.amountMicros >= 0n, `reservation of ${req.amountMicros} on account ${req.accountId}`);
  const t = req.rate.tariff;
  // Kept even when free: the CDR is charged at this tariff.
  await insertReservation(trx, [
    req.uniqueid, req.switchRef, req.callerAccountId, req.accountId, req.amountMicros, req.maxDurationSeconds, req.expiresAt, nowIso(),
    req.rate.prefix, req.rate.destination, t.rateMicrosPerMinute, t.connectChargeMicros, t.initblockSeconds, t.billingblockSeconds, t.minimalTimeSeconds,
  ]);
  if (req.amountMicros === 0n) return;
  const updated = await addReserved(trx, [req.amountMicros, req.accountId, req.amountMicros]);
  assertLedger(updated.length === 1, `account ${req.accountId} cannot hold ${req.amountMicros} more`);
}

/**
 * Frees one reservation; returns whether this transaction did (another one — the CDR, the
 * expiry worker — may have freed it first, and then the amount is not given back twice).
 */
export async function release(trx: Trx, held: HeldAmount): Promise<boolean> {
  const deleted = await deleteReservation(trx, [held.id]);
  if (deleted.length !== 1) return false;
  const amount = microsFromDb(held.amount_micros);
  if (amount > 0n) {
    const accountId = Number(held.account_id);
    const updated = await subtractReserved(trx, [amount, accountId, amount]);
    assertLedger(updated.length === 1, `account ${accountId} holds less than the ${amount} its reservation ${held.id} released`);
  }
  return true;
}
