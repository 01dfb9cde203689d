// What an authorization or a CDR does, decided from the rows it read: pure, no I/O. The rows
// are those of the call's uniqueid (every switch) and the payers' accounts, read after the
// accounts were locked; the decision names the rows to write. Two callers apply it:
// - one call in its own transaction (authorize.ts, settle.ts): SQLite, the FastAGI scripts,
//   and any call a PostgreSQL batch gives back;
// - a batch of calls in one PostgreSQL transaction (switch-batch.ts), which decides them one
//   after another against the same accounts and writes each kind of row with one statement.
// Both thus charge, reserve and refuse by the same code.
import { AppError, conflict } from '../errors.js';
import { balanceOutOfRange } from '../ledger/ledger.js';
import { formatMoney, MAX_AMOUNT_MICROS, microsFromDb, type Micros } from '../money.js';
import type { RateMatch } from '../rating/rate-table.js';
import { billedSeconds, callCostMicros, costOfBilled, maxDurationForAll, minimumBlockCostMicros } from '../rating/tariff.js';
import type { Caller } from './caller.js';
import { sameSwitch } from './switch-ref.js';

/** Reservations outlive the call limit by this much before the expiry worker frees them. */
export const RESERVATION_GRACE_SECONDS = 300;

export type RefusalReason =
  | 'UNKNOWN_CALLER' | 'SIP_ACCOUNT_INACTIVE' | 'ACCOUNT_INACTIVE' | 'RESELLER_INACTIVE'
  | 'NO_RATE' | 'INSUFFICIENT_BALANCE' | 'RESELLER_INSUFFICIENT_BALANCE'
  /** The uniqueid belongs to a call whose CDR was already settled. */
  | 'ALREADY_SETTLED'
  /** This switch already used the uniqueid for another caller's call (give each Asterisk its own systemname). */
  | 'UNIQUEID_IN_USE';

export interface AuthorizeResult {
  allowed: boolean;
  max_duration: number;
  caller_id: string | null;
  rate: { prefix: string; destination: string } | null;
  reason?: RefusalReason;
  sip_login?: string;
}

export const DISPOSITIONS = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export interface CdrResult {
  uniqueid: string;
  call_id: number;
  disposition: Disposition;
  answered_seconds: number;
  billed_seconds: number;
  cost: string;
  duplicate: boolean;
}

/** A CDR as the switch reported it, checked (settle.ts parseCdr). */
export interface ParsedCdr {
  uniqueid: string;
  destination: string;
  disposition: Disposition;
  answered: number;
  startedAt: string;
  hangupCause: string | undefined;
}

/** The client's plan and, for a reseller client, the reseller's wholesale plan, matched. */
export interface RatedCall {
  caller: Caller;
  retail: RateMatch;
  wholesale: RateMatch | null;
}

/** A payer's money as its locked account row holds it. */
export interface Funds {
  balanceMicros: Micros;
  reservedMicros: Micros;
  /** The postpaid credit limit; 0 for a prepaid account. */
  creditMicros: Micros;
}

export const availableOf = (f: Funds): Micros => f.balanceMicros + f.creditMicros - f.reservedMicros;

export function fundsOf(row: { balance_micros: number | string; reserved_micros: number | string; credit_limit_micros: number | string; postpaid: number }): Funds {
  return {
    balanceMicros: microsFromDb(row.balance_micros),
    reservedMicros: microsFromDb(row.reserved_micros),
    creditMicros: row.postpaid === 1 ? microsFromDb(row.credit_limit_micros) : 0n,
  };
}

/** A reservation row of the uniqueid, as read. */
export interface HeldReservation {
  id: number | string;
  switch_ref: string;
  caller_account_id: number | string | null;
  account_id: number | string;
  amount_micros: number | string;
  max_duration: number;
  rate_prefix: string | null;
  rate_destination: string | null;
  rate_micros: number | string | null;
  connect_charge_micros: number | string | null;
  initblock: number | null;
  billingblock: number | null;
  minimal_time: number | null;
}

/** A calls row of the uniqueid, as read. */
export interface SettledCall {
  id: number | string;
  switch_ref: string;
  account_id: number | string;
  destination: string;
  answered_seconds: number;
  billed_seconds: number;
  cost_micros: number | string;
  disposition: string;
}

/** The rows of one uniqueid, every switch's. */
export interface CallRows {
  reservations: HeldReservation[];
  calls: SettledCall[];
}

export interface NewReservation {
  accountId: number;
  amountMicros: Micros;
  rate: RateMatch;
}

export interface AuthorizeDecision {
  result: AuthorizeResult;
  /** Empty unless the call is allowed now for the first time. */
  reserve: NewReservation[];
  maxDurationSeconds: number;
  expiresAt: string;
}

function refusal(reason: RefusalReason, extra: Partial<AuthorizeResult> = {}): AuthorizeDecision {
  return { result: { allowed: false, max_duration: 0, caller_id: null, rate: null, reason, ...extra }, reserve: [], maxDurationSeconds: 0, expiresAt: '' };
}

/** Who pays for a rated call: the client at retail, a reseller client's reseller at wholesale. */
export function payersOf(rated: RatedCall): Array<{ accountId: number; match: RateMatch; shortReason: RefusalReason }> {
  const { caller } = rated;
  const payers: Array<{ accountId: number; match: RateMatch; shortReason: RefusalReason }> = [
    { accountId: caller.accountId, match: rated.retail, shortReason: 'INSUFFICIENT_BALANCE' },
  ];
  if (caller.reseller && rated.wholesale) {
    payers.push({ accountId: caller.reseller.id, match: rated.wholesale, shortReason: 'RESELLER_INSUFFICIENT_BALANCE' });
  }
  return payers;
}

/**
 * May the call start (CONTRACT §4)? Every payer must afford the minimum block; the limit is what
 * all of them can pay, reserved on each. A repeated authorize of the same call answers its
 * reservation instead of reserving again; the same uniqueid from this switch for another caller
 * is refused, never handed over.
 */
export function decideAuthorize(rated: RatedCall, switchRef: string, rows: CallRows,
  funds: (accountId: number) => Funds, maxSeconds: number, nowMs: number): AuthorizeDecision {
  const { caller } = rated;
  const callerId = caller.callerId;
  const rate = { prefix: rated.retail.prefix, destination: rated.retail.destination };
  const held = rows.reservations.filter((r) => sameSwitch(r.switch_ref, switchRef));
  const own = held.find((r) => Number(r.caller_account_id) === caller.accountId);
  if (own) {
    return {
      result: { allowed: true, max_duration: own.max_duration, caller_id: callerId, rate, sip_login: caller.sipLogin },
      reserve: [], maxDurationSeconds: own.max_duration, expiresAt: '',
    };
  }
  if (held.some((r) => r.switch_ref === switchRef)) return refusal('UNIQUEID_IN_USE', { rate, sip_login: caller.sipLogin });
  const settled = rows.calls.filter((c) => sameSwitch(c.switch_ref, switchRef));
  if (settled.some((c) => Number(c.account_id) === caller.accountId)) return refusal('ALREADY_SETTLED', { caller_id: callerId, rate });
  if (settled.some((c) => c.switch_ref === switchRef)) return refusal('UNIQUEID_IN_USE', { rate, sip_login: caller.sipLogin });

  const payers = payersOf(rated);
  const funded = payers.map((p) => ({ ...p, tariff: p.match.tariff, availableMicros: availableOf(funds(p.accountId)) }));
  // The first payer that cannot afford the minimum block names the refusal.
  const short = funded.find((p) => minimumBlockCostMicros(p.tariff) > p.availableMicros);
  if (short) return refusal(short.shortReason, { caller_id: callerId, rate, sip_login: caller.sipLogin });
  // The rating core's limit over all payers, the one its property tests pin (test/props/call-cost.test.ts).
  const limit = maxDurationForAll(funded, maxSeconds);
  return {
    result: { allowed: true, max_duration: limit, caller_id: callerId, rate, sip_login: caller.sipLogin },
    reserve: payers.map((p) => ({ accountId: p.accountId, amountMicros: callCostMicros(p.match.tariff, limit), rate: p.match })),
    maxDurationSeconds: limit,
    expiresAt: new Date(nowMs + (limit + RESERVATION_GRACE_SECONDS) * 1000).toISOString(),
  };
}

const uniqueIdInUse = (uniqueid: string) => conflict('UNIQUEID_IN_USE',
  `uniqueid ${uniqueid} already belongs to another caller's call on this switch; give each Asterisk host its own systemname`);

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

/**
 * The answer to a CDR already settled by this switch (or before switches were told apart) for
 * this caller; null if none. A repeat changes nothing, a repeat with other values is a
 * conflict, and the same uniqueid of another caller of this switch is refused.
 */
export function replayOf(cdr: ParsedCdr, accountId: number, switchRef: string, calls: SettledCall[]): CdrResult | null {
  const priors = calls.filter((c) => sameSwitch(c.switch_ref, switchRef));
  // The caller's own call first (this switch's, else a legacy one), then another caller's on this switch.
  const prior = priors.find((c) => Number(c.account_id) === accountId && c.switch_ref === switchRef)
    ?? priors.find((c) => Number(c.account_id) === accountId)
    ?? priors.find((c) => c.switch_ref === switchRef);
  if (!prior) return null;
  if (Number(prior.account_id) !== accountId) throw uniqueIdInUse(cdr.uniqueid);
  if (prior.answered_seconds !== cdr.answered || prior.disposition !== cdr.disposition || prior.destination !== cdr.destination) {
    throw conflict('IDEMPOTENCY_MISMATCH', `CDR ${cdr.uniqueid} was already settled with other values`);
  }
  return {
    uniqueid: cdr.uniqueid, call_id: Number(prior.id), disposition: prior.disposition as Disposition,
    answered_seconds: prior.answered_seconds, billed_seconds: prior.billed_seconds,
    cost: formatMoney(microsFromDb(prior.cost_micros), 4), duplicate: true,
  };
}

/** The calls row a settlement writes (the id comes from the insert). */
export interface NewCall {
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
  costMicros: Micros;
  resellerId: number | null;
  resellerCostMicros: Micros;
  disposition: Disposition;
  hangupCause: string | null;
}

/** A call's charge to one payer (negative), posted with the calls row as its reference. */
export interface CallCharge {
  accountId: number;
  amountMicros: Micros;
  description: string;
  balanceBeforeMicros: Micros;
}

export type SettleDecision =
  /** Settled before: nothing changes but the release of a late re-authorization's reservations. */
  | { kind: 'replay'; result: CdrResult; release: HeldReservation[] }
  | {
    kind: 'charge';
    call: NewCall;
    release: HeldReservation[];
    charges: CallCharge[];
    /** The authorized limit, when the CDR is longer (charged in full: the call happened). */
    overLimitSeconds: number | null;
  };

/** The accounts a settlement changes: its payers and those its reservations hold money on. */
export function settlementAccounts(caller: Caller, held: HeldReservation[]): number[] {
  const ids = caller.reseller ? [caller.accountId, caller.reseller.id] : [caller.accountId];
  return [...ids, ...held.map((r) => Number(r.account_id))];
}

/** The caller's reservations of the uniqueid on this switch. */
export function heldBy(caller: Caller, switchRef: string, reservations: HeldReservation[]): HeldReservation[] {
  return reservations.filter((r) => sameSwitch(r.switch_ref, switchRef) && Number(r.caller_account_id) === caller.accountId);
}

/**
 * What a CDR does: charge the client at retail and, for a reseller client, the reseller at
 * wholesale, at the tariffs the call was authorized at (kept with its reservations), release
 * the reservations, and write the calls row; or nothing, for a repeat. `current` is today's
 * rating, used only for a payer without a reservation. Throws the CDR's refusal (409).
 */
export function decideSettle(cdr: ParsedCdr, caller: Caller, current: RatedCall | null, switchRef: string, rows: CallRows,
  funds: (accountId: number) => Funds): SettleDecision {
  const ofSwitch = rows.reservations.filter((r) => sameSwitch(r.switch_ref, switchRef));
  const held = ofSwitch.filter((r) => Number(r.caller_account_id) === caller.accountId);
  if (held.length === 0 && ofSwitch.some((r) => r.switch_ref === switchRef)) throw uniqueIdInUse(cdr.uniqueid);
  const replay = (): SettleDecision | null => {
    const result = replayOf(cdr, caller.accountId, switchRef, rows.calls);
    return result ? { kind: 'replay', result, release: held } : null;
  };

  let retail: RateMatch | null = null;
  let wholesale: RateMatch | null = null;
  if (cdr.answered > 0) {
    retail = reservedRate(held, caller.accountId, cdr.destination) ?? current?.retail ?? null;
    wholesale = caller.reseller ? reservedRate(held, caller.reseller.id, cdr.destination) ?? current?.wholesale ?? null : null;
    if (!retail || (caller.reseller && !wholesale)) {
      // A repeat of a settled CDR needs no rate.
      const repeated = replay();
      if (repeated) return repeated;
      // Answered, never authorized here, and no rate now: refuse loudly rather than give it away.
      throw new AppError(409, 'NO_RATE', `No rate matches ${cdr.destination} for this account; add one and resend the CDR`);
    }
  }
  if (held.length === 0) {
    // No reservation: a repeat, or a call from before switches were told apart (which the
    // calls insert would not see as a duplicate).
    const repeated = replay();
    if (repeated) return repeated;
  }
  const billed = retail ? billedSeconds(retail.tariff, cdr.answered) : 0;
  const retailCost = retail ? costOfBilled(retail.tariff, billed) : 0n;
  const wholesaleCost = wholesale ? costOfBilled(wholesale.tariff, billedSeconds(wholesale.tariff, cdr.answered)) : 0n;

  // The call happened: charges are not refused for funds (reservations made sure they exist),
  // but a balance never leaves the money range (money.ts).
  const charges: CallCharge[] = [];
  const charge = (accountId: number, costMicros: Micros, description: string) => {
    if (costMicros <= 0n) return;
    const balanceBeforeMicros = funds(accountId).balanceMicros;
    if (balanceBeforeMicros - costMicros < -MAX_AMOUNT_MICROS) throw balanceOutOfRange();
    charges.push({ accountId, amountMicros: -costMicros, description, balanceBeforeMicros });
  };
  charge(caller.accountId, retailCost, `Call to ${cdr.destination}`);
  if (caller.reseller) charge(caller.reseller.id, wholesaleCost, `Wholesale: call of ${caller.accountLogin} to ${cdr.destination}`);

  const limit = held[0]?.max_duration;
  return {
    kind: 'charge',
    call: {
      uniqueid: cdr.uniqueid, switchRef, accountId: caller.accountId, sipAccountId: caller.sipAccountId, sipLogin: caller.sipLogin,
      destination: cdr.destination, ratePrefix: retail?.prefix ?? null, rateDestination: retail?.destination ?? null,
      callerId: caller.callerId, startedAt: cdr.startedAt, answeredSeconds: cdr.answered, billedSeconds: billed,
      costMicros: retailCost, resellerId: caller.reseller?.id ?? null, resellerCostMicros: wholesaleCost,
      disposition: cdr.disposition, hangupCause: cdr.hangupCause ?? null,
    },
    release: held,
    charges,
    overLimitSeconds: limit !== undefined && cdr.answered > limit ? limit : null,
  };
}

/** The answer to a CDR once its calls row has its id. */
export function chargedResult(call: NewCall, callId: number): CdrResult {
  return {
    uniqueid: call.uniqueid, call_id: callId, disposition: call.disposition, answered_seconds: call.answeredSeconds,
    billed_seconds: call.billedSeconds, cost: formatMoney(call.costMicros, 4), duplicate: false,
  };
}
