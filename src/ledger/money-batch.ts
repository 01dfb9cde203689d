// The money rows of a batch of calls (calls/switch-batch.ts, PostgreSQL), written with one
// statement per kind: the reservations made and released, the call charges posted, and each
// account's balance and reserved total moved by their sums. The same rules as one call's
// reserve(), release() and post() (reservations.ts, ledger.ts), checked over the set: the
// accounts' totals move by exactly what the rows say, every released reservation existed, and
// the database's CHECKs (reserved >= 0, amount >= 0) hold at COMMIT.
import { sql } from 'kysely';
import type { Trx } from '../db/connect.js';
import type { Micros } from '../money.js';
import { assertLedger } from './ledger.js';
import type { ReservationRequest } from './reservations.js';

/** A reservation the batch makes: what reserve() takes for one (reservations.ts). */
export type BatchReservation = ReservationRequest;

/** A reservation the batch frees, as it read it under its account's lock. */
export interface BatchRelease {
  id: number;
  accountId: number;
  amountMicros: Micros;
}

/** A call's charge (negative): kind `call`, its calls row as the reference. */
export interface BatchCharge {
  accountId: number;
  amountMicros: Micros;
  balanceAfterMicros: Micros;
  callId: number;
  description: string;
}

/** An account's totals as the batch leaves them, and as it found them under its lock. */
export interface BatchAccount {
  id: number;
  balanceBeforeMicros: Micros;
  balanceAfterMicros: Micros;
  reservedBeforeMicros: Micros;
  reservedAfterMicros: Micros;
}

export interface MoneyBatch {
  reserve: BatchReservation[];
  release: BatchRelease[];
  charges: BatchCharge[];
  accounts: BatchAccount[];
}

const text = (values: Array<string | number | bigint | null>) => values.map((v) => (v === null ? null : String(v)));

function sumsByAccount<T>(rows: T[], accountOf: (r: T) => number, amountOf: (r: T) => Micros): Map<number, Micros> {
  const sums = new Map<number, Micros>();
  for (const r of rows) sums.set(accountOf(r), (sums.get(accountOf(r)) ?? 0n) + amountOf(r));
  return sums;
}

/** Writes the batch's money rows, in its caller's transaction, the accounts already locked. */
export async function writeMoneyBatch(trx: Trx, batch: MoneyBatch, createdAt: string): Promise<void> {
  // The totals must move by what the rows say, before anything is written.
  const reserved = sumsByAccount(batch.reserve, (r) => r.accountId, (r) => r.amountMicros);
  for (const [id, amount] of sumsByAccount(batch.release, (r) => r.accountId, (r) => r.amountMicros)) {
    reserved.set(id, (reserved.get(id) ?? 0n) - amount);
  }
  const charged = sumsByAccount(batch.charges, (r) => r.accountId, (r) => r.amountMicros);
  const moved = new Set([...reserved.keys(), ...charged.keys()]);
  for (const a of batch.accounts) {
    assertLedger(a.reservedAfterMicros - a.reservedBeforeMicros === (reserved.get(a.id) ?? 0n), `account ${a.id}: reserved moved unlike its reservations`);
    assertLedger(a.balanceAfterMicros - a.balanceBeforeMicros === (charged.get(a.id) ?? 0n), `account ${a.id}: balance moved unlike its postings`);
    assertLedger(a.reservedAfterMicros >= 0n, `account ${a.id}: reserved below zero`);
    moved.delete(a.id);
  }
  assertLedger(moved.size === 0, `accounts ${[...moved].join(', ')} have rows but no totals`);
  for (const r of batch.reserve) assertLedger(r.amountMicros >= 0n, `reservation of ${r.amountMicros} on account ${r.accountId}`);

  if (batch.release.length > 0) {
    const deleted = await sql<{ id: number }>`delete from reservations r using unnest(${batch.release.map((x) => x.id)}::bigint[]) as u(id)
      where r.id = u.id returning r.id`.execute(trx);
    assertLedger(deleted.rows.length === batch.release.length, `${batch.release.length - deleted.rows.length} released reservations were gone`);
  }
  if (batch.reserve.length > 0) {
    const r = batch.reserve;
    await sql`insert into reservations (uniqueid, switch_ref, caller_account_id, account_id, amount_micros, max_duration, expires_at,
        rate_prefix, rate_destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time, created_at)
      select t.*, ${createdAt} from unnest(${r.map((x) => x.uniqueid)}::text[], ${r.map((x) => x.switchRef)}::text[],
        ${r.map((x) => x.callerAccountId)}::bigint[], ${r.map((x) => x.accountId)}::bigint[], ${text(r.map((x) => x.amountMicros))}::bigint[],
        ${r.map((x) => x.maxDurationSeconds)}::int[], ${r.map((x) => x.expiresAt)}::text[],
        ${r.map((x) => x.rate.prefix)}::text[], ${r.map((x) => x.rate.destination)}::text[],
        ${text(r.map((x) => x.rate.tariff.rateMicrosPerMinute))}::bigint[], ${text(r.map((x) => x.rate.tariff.connectChargeMicros))}::bigint[],
        ${r.map((x) => x.rate.tariff.initblockSeconds)}::int[], ${r.map((x) => x.rate.tariff.billingblockSeconds)}::int[],
        ${r.map((x) => x.rate.tariff.minimalTimeSeconds)}::int[]) as t`.execute(trx);
  }
  if (batch.accounts.length > 0) {
    const a = batch.accounts;
    const updated = await sql<{ id: number; balance_micros: number | string; reserved_micros: number | string }>`update accounts
      set balance_micros = accounts.balance_micros + d.balance_delta, reserved_micros = accounts.reserved_micros + d.reserved_delta,
        updated_at = case when d.balance_delta <> 0 then ${createdAt} else accounts.updated_at end
      from unnest(${a.map((x) => x.id)}::bigint[], ${text(a.map((x) => x.balanceAfterMicros - x.balanceBeforeMicros))}::bigint[],
        ${text(a.map((x) => x.reservedAfterMicros - x.reservedBeforeMicros))}::bigint[]) d(id, balance_delta, reserved_delta)
      where accounts.id = d.id returning accounts.id, accounts.balance_micros, accounts.reserved_micros`.execute(trx);
    // Postconditions: what the statement did is what the batch computed under its locks.
    const after = new Map(updated.rows.map((row) => [Number(row.id), row]));
    for (const x of a) {
      const row = after.get(x.id);
      assertLedger(row !== undefined, `account ${x.id} was not updated`);
      assertLedger(BigInt(row.balance_micros) === x.balanceAfterMicros && BigInt(row.reserved_micros) === x.reservedAfterMicros,
        `account ${x.id}: the batch computed ${x.balanceAfterMicros}/${x.reservedAfterMicros}, the row holds ${row.balance_micros}/${row.reserved_micros}`);
    }
  }
  if (batch.charges.length > 0) {
    const c = batch.charges;
    await sql`insert into ledger_postings (account_id, amount_micros, balance_after_micros, kind, ref_type, ref_id, description, created_at)
      select account_id, amount, balance_after, 'call', 'call', ref_id, description, ${createdAt}
      from unnest(${c.map((x) => x.accountId)}::bigint[], ${text(c.map((x) => x.amountMicros))}::bigint[],
        ${text(c.map((x) => x.balanceAfterMicros))}::bigint[], ${c.map((x) => String(x.callId))}::text[], ${c.map((x) => x.description)}::text[])
        as t(account_id, amount, balance_after, ref_id, description)`.execute(trx);
  }
}
