// CDR settlement: one transaction stores the call, releases its reservations and charges the
// client at retail and, for reseller clients, the reseller at wholesale. The calls row, keyed by
// (switch, uniqueid) (calls/switch-ref.ts), is written before any money moves: a repeat finds it
// and changes nothing. Accounts are locked first, in the global order (db/locks.ts).
import type { Ctx } from '../context.js';
import { preparedQuery } from '../db/prepared.js';
import type { Dialect, Trx } from '../db/connect.js';
import { lockAccounts, withTransientRetry, type LockedAccount } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { release } from '../ledger/reservations.js';
import { cdrsCharged, cdrsOverLimit } from '../metrics.js';
import { formatMoney, MAX_CDR_ANSWERED_SECONDS, microsFromDb } from '../money.js';
import { billedSeconds, costOfBilled } from '../rating/tariff.js';
import { instant, intInRange, optionalText } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { rateCall } from './authorize.js';
import type { RateMatch } from '../rating/rate-table.js';
import { findCaller, normalizeDestination, parseUniqueId } from './caller.js';
import { sameSwitch } from './switch-ref.js';

export const DISPOSITIONS = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export interface CdrInput {
  uniqueid?: unknown; sip_login?: unknown; source_ip?: unknown; source_port?: unknown; destination?: unknown;
  start_time?: unknown; answered_seconds?: unknown; disposition?: unknown; hangup_cause?: unknown;
}

export interface CdrResult {
  uniqueid: string;
  call_id: number;
  disposition: Disposition;
  answered_seconds: number;
  billed_seconds: number;
  cost: string;
  duplicate: boolean;
}

// Statements of every settlement, built once (db/prepared.ts). A uniqueid is looked up across
// switches (few rows); the rows of this switch and caller are picked out here.
const reservationsOfUniqueId = preparedQuery<{ uniqueid: string }>()((db, p) => db.selectFrom('reservations')
  .select(['id', 'switch_ref', 'caller_account_id', 'account_id', 'amount_micros', 'max_duration', 'rate_prefix', 'rate_destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
  .where('uniqueid', '=', p.uniqueid));
type HeldReservation = Awaited<ReturnType<typeof reservationsOfUniqueId>>[number];
interface CallRow {
  uniqueid: string;
  switchRef: string;
  accountId: number;
  sipAccountId: number;
  sipLogin: string;
  destination: string;
  ratePrefix: string | null;
  rateDestination: string | null;
  callerId: string | null;
  startedAt: string;
  answeredSeconds: number;
  billedSeconds: number;
  costMicros: bigint;
  resellerId: number | null;
  resellerCostMicros: bigint;
  disposition: string;
  hangupCause: string | null;
  createdAt: string;
}
const insertCall = preparedQuery<CallRow>()((db, p) => db.insertInto('calls').values({
  uniqueid: p.uniqueid, switch_ref: p.switchRef, account_id: p.accountId, sip_account_id: p.sipAccountId, sip_login: p.sipLogin,
  destination: p.destination, rate_prefix: p.ratePrefix, rate_destination: p.rateDestination, caller_id: p.callerId,
  started_at: p.startedAt, answered_seconds: p.answeredSeconds, billed_seconds: p.billedSeconds, cost_micros: p.costMicros,
  reseller_id: p.resellerId, reseller_cost_micros: p.resellerCostMicros, disposition: p.disposition, hangup_cause: p.hangupCause,
  created_at: p.createdAt,
}).onConflict((oc) => oc.columns(['uniqueid', 'switch_ref']).doNothing()).returning('id'));

const uniqueIdInUse = (uniqueid: string) => conflict('UNIQUEID_IN_USE',
  `uniqueid ${uniqueid} already belongs to another caller's call on this switch; give each Asterisk host its own systemname`);

async function releaseHeld(trx: Trx, held: HeldReservation[]): Promise<void> {
  for (const r of held) await release(trx, r);
}

/**
 * Frees the reservations a switch made for a call that will never be dialled, in the caller's
 * transaction (locking their accounts first, in the global order).
 */
export async function releaseReservations(trx: Trx, dialect: Dialect, uniqueid: string, switchRef: string): Promise<void> {
  const held = (await reservationsOfUniqueId(trx, { uniqueid })).filter((r) => r.switch_ref === switchRef);
  if (held.length === 0) return;
  await lockAccounts(trx, dialect, held.map((r) => Number(r.account_id)));
  await releaseHeld(trx, held);
}

/**
 * The rate a payer's reservation was made at; null without one (or on rows from before 0005), or
 * when the CDR reports a number that rate does not cover.
 */
function reservedRate(held: HeldReservation[], accountId: number, destination: string): RateMatch | null {
  const r = held.find((h) => Number(h.account_id) === accountId);
  if (!r || r.rate_prefix === null || r.rate_micros === null || r.initblock === null || r.billingblock === null) return null;
  if (!destination.startsWith(r.rate_prefix)) return null;
  return {
    prefix: r.rate_prefix,
    destination: r.rate_destination ?? '',
    tariff: {
      rateMicrosPerMinute: microsFromDb(r.rate_micros),
      connectChargeMicros: microsFromDb(r.connect_charge_micros ?? 0),
      initblockSeconds: r.initblock,
      billingblockSeconds: r.billingblock,
      minimalTimeSeconds: r.minimal_time ?? 0,
    },
  };
}

function parseCdr(input: CdrInput) {
  const uniqueid = parseUniqueId(input.uniqueid);
  const destination = normalizeDestination(input.destination);
  const disposition = typeof input.disposition === 'string' ? input.disposition.toUpperCase().trim() : '';
  if (!DISPOSITIONS.includes(disposition as Disposition)) throw badRequest('disposition', `must be one of ${DISPOSITIONS.join(', ')}`);
  // At most twice the largest MAX_CALL_DURATION: the cost of any call stays in range (money.ts).
  const answered = intInRange(input.answered_seconds, 'answered_seconds', 0, MAX_CDR_ANSWERED_SECONDS, disposition === 'ANSWERED' ? undefined : 0);
  const startedAt = input.start_time === undefined || input.start_time === null || input.start_time === ''
    ? nowIso()
    : instant(input.start_time, 'start_time').toISOString();
  const hangupCause = optionalText(input.hangup_cause, 'hangup_cause', 32);
  return { uniqueid, destination, disposition: disposition as Disposition, answered: disposition === 'ANSWERED' ? answered : 0, startedAt, hangupCause };
}

/**
 * The first result of a CDR already settled by this switch (or before switches were told apart)
 * for this caller; null if none. A repeat changes nothing, a repeat with other values is a
 * conflict, and the same uniqueid of another caller of this switch is refused.
 */
async function replayOfSettled(trx: Trx, cdr: ReturnType<typeof parseCdr>, accountId: number, switchRef: string, held: HeldReservation[]): Promise<CdrResult | null> {
  const priors = (await trx.selectFrom('calls').selectAll().where('uniqueid', '=', cdr.uniqueid).execute())
    .filter((c) => sameSwitch(c.switch_ref, switchRef));
  // The caller's own call first (this switch's, else a legacy one), then another caller's on this switch.
  const prior = priors.find((c) => Number(c.account_id) === accountId && c.switch_ref === switchRef)
    ?? priors.find((c) => Number(c.account_id) === accountId)
    ?? priors.find((c) => c.switch_ref === switchRef);
  if (!prior) return null;
  if (Number(prior.account_id) !== accountId) throw uniqueIdInUse(cdr.uniqueid);
  if (prior.answered_seconds !== cdr.answered || prior.disposition !== cdr.disposition || prior.destination !== cdr.destination) {
    throw conflict('IDEMPOTENCY_MISMATCH', `CDR ${cdr.uniqueid} was already settled with other values`);
  }
  // A late re-authorization of a settled call may have reserved again: free it.
  await releaseHeld(trx, held);
  return {
    uniqueid: cdr.uniqueid, call_id: Number(prior.id), disposition: prior.disposition as Disposition,
    answered_seconds: prior.answered_seconds, billed_seconds: prior.billed_seconds,
    cost: formatMoney(microsFromDb(prior.cost_micros), 4), duplicate: true,
  };
}

/** Settles a CDR that `switchRef` (calls/switch-ref.ts) reports. */
export async function settleCdr(ctx: Ctx, input: CdrInput, switchRef: string): Promise<CdrResult> {
  const cdr = parseCdr(input);
  const caller = await findCaller(ctx, input);
  if (!caller) throw notFound('SIP account');
  // Today's rates: used only for a payer without a reservation (authorized before tariffs were
  // kept, or its reservation already expired). Looked up outside the transaction.
  const current = cdr.answered > 0 ? await rateCall(ctx, caller, cdr.destination) : null;

  return inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'CDR settlement', async () => {
    // A call is charged at the tariff it was authorized at, kept with its reservations.
    const ofSwitch = (await reservationsOfUniqueId(trx, { uniqueid: cdr.uniqueid })).filter((r) => sameSwitch(r.switch_ref, switchRef));
    const held = ofSwitch.filter((r) => Number(r.caller_account_id) === caller.accountId);
    // Every account this settlement changes, locked before any other row (db/locks.ts).
    const payerIds = caller.reseller ? [caller.accountId, caller.reseller.id] : [caller.accountId];
    const locked = await lockAccounts(trx, ctx.dialect, [...payerIds, ...held.map((r) => Number(r.account_id))]);
    if (held.length === 0 && ofSwitch.some((r) => r.switch_ref === switchRef)) throw uniqueIdInUse(cdr.uniqueid);

    let retail: RateMatch | null = null;
    let wholesale: RateMatch | null = null;
    if (cdr.answered > 0) {
      retail = reservedRate(held, caller.accountId, cdr.destination) ?? current?.retail ?? null;
      wholesale = caller.reseller ? reservedRate(held, caller.reseller.id, cdr.destination) ?? current?.wholesale ?? null : null;
      if (!retail || (caller.reseller && !wholesale)) {
        // A repeat of a settled CDR needs no rate.
        const replay = await replayOfSettled(trx, cdr, caller.accountId, switchRef, held);
        if (replay) return replay;
        // Answered, never authorized here, and no rate now: refuse loudly rather than give it away.
        throw new AppError(409, 'NO_RATE', `No rate matches ${cdr.destination} for this account; add one and resend the CDR`);
      }
    }
    if (held.length === 0) {
      // No reservation: a repeat, or a call from before switches were told apart (which the
      // insert below would not see as a duplicate).
      const replay = await replayOfSettled(trx, cdr, caller.accountId, switchRef, held);
      if (replay) return replay;
    }
    const billed = retail ? billedSeconds(retail.tariff, cdr.answered) : 0;
    const retailCost = retail ? costOfBilled(retail.tariff, billed) : 0n;
    const wholesaleCost = wholesale ? costOfBilled(wholesale.tariff, billedSeconds(wholesale.tariff, cdr.answered)) : 0n;

    const [inserted] = await insertCall(trx, {
      uniqueid: cdr.uniqueid, switchRef, accountId: caller.accountId, sipAccountId: caller.sipAccountId, sipLogin: caller.sipLogin,
      destination: cdr.destination, ratePrefix: retail?.prefix ?? null, rateDestination: retail?.destination ?? null,
      callerId: caller.callerId, startedAt: cdr.startedAt, answeredSeconds: cdr.answered, billedSeconds: billed,
      costMicros: retailCost, resellerId: caller.reseller?.id ?? null, resellerCostMicros: wholesaleCost,
      disposition: cdr.disposition, hangupCause: cdr.hangupCause ?? null, createdAt: nowIso(),
    });

    if (!inserted) {
      const replay = await replayOfSettled(trx, cdr, caller.accountId, switchRef, held);
      if (!replay) throw new Error(`the calls row of ${cdr.uniqueid} conflicted but cannot be read`);
      return replay;
    }
    const callId = Number(inserted.id);
    const limit = held[0]?.max_duration;
    if (limit !== undefined && cdr.answered > limit) {
      // Charged in full (the call happened), but more than was reserved: the switch must cut calls.
      cdrsOverLimit.inc();
      ctx.log.warn({ uniqueid: cdr.uniqueid, answered_seconds: cdr.answered, max_duration: limit },
        'CDR longer than its authorized max_duration: make the dialplan enforce LL_MAX_DURATION (Dial L() or TIMEOUT(absolute))');
    }
    await releaseHeld(trx, held);
    // The call happened: charges are not refused for funds (reservations made sure they exist).
    if (retailCost > 0n) {
      await post(trx, {
        accountId: caller.accountId, amountMicros: -retailCost, kind: 'call', refType: 'call', refId: callId,
        description: `Call to ${cdr.destination}`, balanceBeforeMicros: balanceOf(locked, caller.accountId),
      });
    }
    if (wholesaleCost > 0n && caller.reseller) {
      await post(trx, {
        accountId: caller.reseller.id, amountMicros: -wholesaleCost, kind: 'call', refType: 'call', refId: callId,
        description: `Wholesale: call of ${caller.accountLogin} to ${cdr.destination}`, balanceBeforeMicros: balanceOf(locked, caller.reseller.id),
      });
    }
    cdrsCharged.inc();
    return {
      uniqueid: cdr.uniqueid, call_id: callId, disposition: cdr.disposition, answered_seconds: cdr.answered,
      billed_seconds: billed, cost: formatMoney(retailCost, 4), duplicate: false,
    };
  }));
}

function balanceOf(locked: Map<number, LockedAccount>, accountId: number): bigint | undefined {
  const row = locked.get(accountId);
  return row ? microsFromDb(row.balance_micros) : undefined;
}
