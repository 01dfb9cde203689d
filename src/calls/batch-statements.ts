// The statements of a batch of calls on PostgreSQL (switch-batch.ts): each runs once for the
// whole batch, with its values as arrays (one statement text, whatever the batch's size).
import { sql } from 'kysely';
import type { Trx } from '../db/connect.js';
import type { LockedAccount } from '../db/locks.js';
import { MAX_LOCKED_ACCOUNTS } from '../db/locks.js';
import type { CallRows, HeldReservation, NewCall, SettledCall } from './call-decisions.js';

/**
 * Reads and locks the accounts in ascending id (the global lock order, db/locks.ts), in one
 * statement, leaving out those another transaction holds (SKIP LOCKED): it never waits.
 */
export async function lockFreeAccounts(trx: Trx, ids: number[]): Promise<Map<number, LockedAccount>> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  if (sorted.length === 0) return new Map();
  if (sorted.length > MAX_LOCKED_ACCOUNTS) throw new RangeError(`at most ${MAX_LOCKED_ACCOUNTS} accounts per lock`);
  // ORDER BY below FOR UPDATE: PostgreSQL locks the rows as the sort returns them, in id order.
  const { rows } = await sql<LockedAccount>`select a.id, a.balance_micros, a.credit_limit_micros, a.reserved_micros, a.postpaid, a.active
    from unnest(${sorted}::bigint[]) as u(id) join accounts a on a.id = u.id order by a.id
    for update of a skip locked`.execute(trx);
  return new Map(rows.map((r) => [Number(r.id), { ...r, id: Number(r.id) }]));
}

/** A uniqueid has a row per switch (and per payer); reused across a thousand switches, its batch runs call by call. */
const ROWS_PER_UNIQUEID = 1000;

/** The reservations and calls rows of every uniqueid, every switch's, by uniqueid. */
export async function readBatchRows(trx: Trx, uniqueids: string[]): Promise<Map<string, CallRows>> {
  const byId = new Map<string, CallRows>();
  if (uniqueids.length === 0) return byId;
  const rowsOf = (uniqueid: string) => {
    let rows = byId.get(uniqueid);
    if (!rows) byId.set(uniqueid, rows = { reservations: [], calls: [] });
    return rows;
  };
  // One index lookup per uniqueid (LATERAL ... LIMIT keeps the planner from joining otherwise).
  // Without statistics (a table never analyzed) PostgreSQL takes `uniqueid = any(list)`, or a
  // plain join to the list, for much of the table and scans all of it.
  const reservations = await sql<HeldReservation & { uniqueid: string }>`select r.uniqueid, r.id, r.switch_ref, r.caller_account_id,
      r.account_id, r.amount_micros, r.max_duration, r.rate_prefix, r.rate_destination, r.rate_micros, r.connect_charge_micros,
      r.initblock, r.billingblock, r.minimal_time
    from unnest(${uniqueids}::text[]) as u(uniqueid)
    cross join lateral (select * from reservations where uniqueid = u.uniqueid limit ${sql.lit(ROWS_PER_UNIQUEID)}) r order by r.id`.execute(trx);
  for (const r of reservations.rows) rowsOf(r.uniqueid).reservations.push(r);
  const calls = await sql<SettledCall & { uniqueid: string }>`select c.uniqueid, c.id, c.switch_ref, c.account_id, c.destination,
      c.answered_seconds, c.billed_seconds, c.cost_micros, c.disposition
    from unnest(${uniqueids}::text[]) as u(uniqueid)
    cross join lateral (select * from calls where uniqueid = u.uniqueid limit ${sql.lit(ROWS_PER_UNIQUEID)}) c order by c.id`.execute(trx);
  for (const c of calls.rows) rowsOf(c.uniqueid).calls.push(c);
  for (const [uniqueid, rows] of byId) {
    // As many rows as the limit: there may be more, and the one-call path reads them all.
    if (rows.reservations.length >= ROWS_PER_UNIQUEID || rows.calls.length >= ROWS_PER_UNIQUEID) {
      throw new Error(`uniqueid ${uniqueid} has ${ROWS_PER_UNIQUEID} rows or more: its batch runs call by call`);
    }
  }
  return byId;
}

/** A calls row each; answers their ids in the order given. A row that already exists fails the batch. */
export async function insertCalls(trx: Trx, calls: NewCall[], createdAt: string): Promise<number[]> {
  if (calls.length === 0) return [];
  const c = calls;
  const text = (values: Array<bigint | number | null>) => values.map((v) => (v === null ? null : String(v)));
  const { rows } = await sql<{ id: number; uniqueid: string; switch_ref: string }>`insert into calls (uniqueid, switch_ref, account_id,
      sip_account_id, sip_login, destination, rate_prefix, rate_destination, caller_id, started_at, answered_seconds, billed_seconds,
      cost_micros, reseller_id, reseller_cost_micros, disposition, hangup_cause, created_at)
    select t.*, ${createdAt} from unnest(${c.map((x) => x.uniqueid)}::text[], ${c.map((x) => x.switchRef)}::text[],
      ${c.map((x) => x.accountId)}::bigint[], ${c.map((x) => x.sipAccountId)}::bigint[], ${c.map((x) => x.sipLogin)}::text[],
      ${c.map((x) => x.destination)}::text[], ${c.map((x) => x.ratePrefix)}::text[], ${c.map((x) => x.rateDestination)}::text[],
      ${c.map((x) => x.callerId)}::text[], ${c.map((x) => x.startedAt)}::text[], ${c.map((x) => x.answeredSeconds)}::int[],
      ${c.map((x) => x.billedSeconds)}::int[], ${text(c.map((x) => x.costMicros))}::bigint[], ${c.map((x) => x.resellerId)}::bigint[],
      ${text(c.map((x) => x.resellerCostMicros))}::bigint[], ${c.map((x) => x.disposition)}::text[], ${c.map((x) => x.hangupCause)}::text[]) as t
    on conflict (uniqueid, switch_ref) do nothing
    returning id, uniqueid, switch_ref`.execute(trx);
  const idOf = new Map(rows.map((r) => [`${r.switch_ref}\n${r.uniqueid}`, Number(r.id)]));
  return c.map((x) => {
    const id = idOf.get(`${x.switchRef}\n${x.uniqueid}`);
    // Written by another instance since the batch read the calls: the batch runs again call by call.
    if (id === undefined) throw new Error(`the calls row of ${x.uniqueid} was written meanwhile`);
    return id;
  });
}
