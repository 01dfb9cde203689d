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

interface ReservationRow {
  uniqueid: string;
  switchRef: string;
  callerAccountId: number;
  accountId: number;
  amountMicros: bigint;
  maxDurationSeconds: number;
  expiresAt: string;
  createdAt: string;
  ratePrefix: string;
  rateDestination: string;
  rateMicros: bigint;
  connectChargeMicros: bigint;
  initblockSeconds: number;
  billingblockSeconds: number;
  minimalTimeSeconds: number;
}
const insertReservation = preparedQuery<ReservationRow>()((db, p) => db.insertInto('reservations').values({
  uniqueid: p.uniqueid, switch_ref: p.switchRef, caller_account_id: p.callerAccountId, account_id: p.accountId,
  amount_micros: p.amountMicros, max_duration: p.maxDurationSeconds, expires_at: p.expiresAt, created_at: p.createdAt,
  rate_prefix: p.ratePrefix, rate_destination: p.rateDestination, rate_micros: p.rateMicros, connect_charge_micros: p.connectChargeMicros,
  initblock: p.initblockSeconds, billingblock: p.billingblockSeconds, minimal_time: p.minimalTimeSeconds,
}));
type ReservedChange = { accountId: number; amountMicros: bigint };
// Reserving never takes `available` (balance + postpaid credit - reserved) below zero.
const addReserved = preparedQuery<ReservedChange>()((db, p) => db.updateTable('accounts')
  .set({ reserved_micros: sql`reserved_micros + ${p.amountMicros}` })
  .where('id', '=', p.accountId)
  .where(sql<boolean>`balance_micros + (case when postpaid = 1 then credit_limit_micros else 0 end) - reserved_micros - ${p.amountMicros} >= 0`)
  .returning('id'));
const deleteReservation = preparedQuery<{ id: number | string }>()((db, p) => db.deleteFrom('reservations').where('id', '=', p.id as number).returning('id'));
// Releasing never takes reserved below zero.
const subtractReserved = preparedQuery<ReservedChange>()((db, p) => db.updateTable('accounts')
  .set({ reserved_micros: sql`reserved_micros - ${p.amountMicros}` })
  .where('id', '=', p.accountId)
  .where('reserved_micros', '>=', sql<number>`${p.amountMicros}`)
  .returning('id'));

/** Holds `amountMicros` of the payer's available money for a call until it is released. */
export async function reserve(trx: Trx, req: ReservationRequest): Promise<void> {
  assertLedger(req.amountMicros >= 0n, `reservation of ${req.amountMicros} on account ${req.accountId}`);
  const t = req.rate.tariff;
  // Kept even when free: the CDR is charged at this tariff.
  await insertReservation(trx, {
    uniqueid: req.uniqueid, switchRef: req.switchRef, callerAccountId: req.callerAccountId, accountId: req.accountId,
    amountMicros: req.amountMicros, maxDurationSeconds: req.maxDurationSeconds, expiresAt: req.expiresAt, createdAt: nowIso(),
    ratePrefix: req.rate.prefix, rateDestination: req.rate.destination, rateMicros: t.rateMicrosPerMinute,
    connectChargeMicros: t.connectChargeMicros, initblockSeconds: t.initblockSeconds, billingblockSeconds: t.billingblockSeconds,
    minimalTimeSeconds: t.minimalTimeSeconds,
  });
  if (req.amountMicros === 0n) return;
  const updated = await addReserved(trx, { accountId: req.accountId, amountMicros: req.amountMicros });
  assertLedger(updated.length === 1, `account ${req.accountId} cannot hold ${req.amountMicros} more`);
}

/**
 * Frees one reservation; returns whether this transaction did (another one — the CDR, the
 * expiry worker — may have freed it first, and then the amount is not given back twice).
 */
export async function release(trx: Trx, held: HeldAmount): Promise<boolean> {
  const deleted = await deleteReservation(trx, { id: held.id });
  if (deleted.length !== 1) return false;
  const amount = microsFromDb(held.amount_micros);
  if (amount > 0n) {
    const accountId = Number(held.account_id);
    const updated = await subtractReserved(trx, { accountId, amountMicros: amount });
    assertLedger(updated.length === 1, `account ${accountId} holds less than the ${amount} its reservation ${held.id} released`);
  }
  return true;
}
