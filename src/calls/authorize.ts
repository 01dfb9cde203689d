// Call authorization without overspend (CONTRACT §4): every paying account (the client at
// retail, a reseller client's reseller at wholesale) must afford the minimum block; the call
// limit is what all of them can pay, and its cost is reserved on each until the CDR arrives or
// the reservation expires. Reservations count against `available`, so concurrent calls can
// never spend more than the balance.
import type { Ctx } from '../context.js';
import { preparedQuery } from '../db/prepared.js';
import { lockAccounts, withTransientRetry, type LockedAccount } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { reserve } from '../ledger/reservations.js';
import { callsAuthorized } from '../metrics.js';
import { microsFromDb } from '../money.js';
import { effectiveRetailMatch } from '../plans/retail-rates.js';
import type { RateMatch } from '../rating/rate-table.js';
import { callCostMicros, maxDurationForAll, minimumBlockCostMicros } from '../rating/tariff.js';
import { findCaller, normalizeDestination, parseUniqueId, type Caller } from './caller.js';
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

export interface AuthorizeInput { uniqueid?: unknown; sip_login?: unknown; source_ip?: unknown; source_port?: unknown; destination?: unknown }

export function availableMicros(a: LockedAccount): bigint {
  const credit = a.postpaid === 1 ? microsFromDb(a.credit_limit_micros) : 0n;
  return microsFromDb(a.balance_micros) + credit - microsFromDb(a.reserved_micros);
}

export interface RatedCall {
  caller: Caller;
  retail: RateMatch;
  wholesale: RateMatch | null;
}

/**
 * Rates a call for the client's plan and, for reseller clients, the reseller's wholesale plan.
 * A retail plan derived from a wholesale plan is matched in two tables, the shared wholesale one
 * (in the rate cache once for every reseller on it) and the retail plan's few overrides, and the
 * wholesale match is marked up by the plan owner's markup as read with the caller
 * (plans/retail-rates.ts).
 */
export async function rateCall(ctx: Ctx, caller: Caller, destination: string): Promise<RatedCall | null> {
  if (caller.planId === null) return null;
  const derived = caller.derivedFrom;
  const own = derived !== null && !derived.hasOverrides ? null
    : (await ctx.rates.table(caller.planId, caller.planVersion, ctx.db)).match(destination);
  const retail = derived === null ? own : effectiveRetailMatch(
    own,
    (await ctx.rates.table(derived.planId, derived.planVersion, ctx.db)).match(destination),
    derived.markupMicroPercent,
  );
  if (!retail) return null;
  if (!caller.reseller) return { caller, retail, wholesale: null };
  if (caller.reseller.planId === null) return null;
  const wholesale = (await ctx.rates.table(caller.reseller.planId, caller.reseller.planVersion, ctx.db)).match(destination);
  return wholesale ? { caller, retail, wholesale } : null;
}

// Statements of every authorization, built once (db/prepared.ts). A uniqueid is looked up
// across switches (few rows) and the rows of this switch picked out here.
const reservationsOfUniqueId = preparedQuery<{ uniqueid: string }>()((db, p) => db.selectFrom('reservations')
  .select(['switch_ref', 'caller_account_id', 'max_duration']).where('uniqueid', '=', p.uniqueid));
const callsOfUniqueId = preparedQuery<{ uniqueid: string }>()((db, p) => db.selectFrom('calls')
  .select(['switch_ref', 'account_id']).where('uniqueid', '=', p.uniqueid));

function refuse(reason: RefusalReason, extra: Partial<AuthorizeResult> = {}): AuthorizeResult {
  callsAuthorized.inc({ outcome: reason });
  return { allowed: false, max_duration: 0, caller_id: null, rate: null, reason, ...extra };
}

/**
 * May the call start? `switchRef` names the switch asking (calls/switch-ref.ts): the call and its
 * reservations belong to (switch, uniqueid).
 */
export async function authorizeCall(ctx: Ctx, input: AuthorizeInput, switchRef: string): Promise<AuthorizeResult> {
  const uniqueid = parseUniqueId(input.uniqueid);
  const destination = normalizeDestination(input.destination);
  const caller = await findCaller(ctx, input);
  if (!caller) return refuse('UNKNOWN_CALLER');
  if (!caller.sipActive) return refuse('SIP_ACCOUNT_INACTIVE');
  if (!caller.accountActive) return refuse('ACCOUNT_INACTIVE');
  if (caller.reseller && !caller.reseller.active) return refuse('RESELLER_INACTIVE');
  const rated = await rateCall(ctx, caller, destination);
  if (!rated) return refuse('NO_RATE');
  const rate = { prefix: rated.retail.prefix, destination: rated.retail.destination };
  const maxSeconds = ctx.config.maxCallDurationSeconds;

  return inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'authorization', async () => {
    const callerId = caller.callerId;
    const payers: Array<{ accountId: number; match: RateMatch; shortReason: RefusalReason }> = [
      { accountId: caller.accountId, match: rated.retail, shortReason: 'INSUFFICIENT_BALANCE' },
    ];
    if (caller.reseller && rated.wholesale) {
      payers.push({ accountId: caller.reseller.id, match: rated.wholesale, shortReason: 'RESELLER_INSUFFICIENT_BALANCE' });
    }
    // First, before any other row: the global lock order (db/locks.ts).
    const locked = await lockAccounts(trx, ctx.dialect, payers.map((p) => p.accountId));

    // A repeated authorize of the same call returns its reservation instead of reserving again;
    // the same uniqueid from this switch for another caller is refused, never handed over.
    const held = (await reservationsOfUniqueId(trx, { uniqueid })).filter((r) => sameSwitch(r.switch_ref, switchRef));
    const own = held.find((r) => Number(r.caller_account_id) === caller.accountId);
    if (own) {
      callsAuthorized.inc({ outcome: 'allowed' });
      return { allowed: true, max_duration: own.max_duration, caller_id: callerId, rate, sip_login: caller.sipLogin };
    }
    if (held.some((r) => r.switch_ref === switchRef)) return refuse('UNIQUEID_IN_USE', { rate, sip_login: caller.sipLogin });
    const settled = (await callsOfUniqueId(trx, { uniqueid })).filter((c) => sameSwitch(c.switch_ref, switchRef));
    if (settled.some((c) => Number(c.account_id) === caller.accountId)) return refuse('ALREADY_SETTLED', { caller_id: callerId, rate });
    if (settled.some((c) => c.switch_ref === switchRef)) return refuse('UNIQUEID_IN_USE', { rate, sip_login: caller.sipLogin });

    const funded = payers.map((p) => ({ ...p, tariff: p.match.tariff, availableMicros: availableMicros(locked.get(p.accountId)!) }));
    // The first payer that cannot afford the minimum block names the refusal.
    const short = funded.find((p) => minimumBlockCostMicros(p.tariff) > p.availableMicros);
    if (short) return refuse(short.shortReason, { caller_id: callerId, rate, sip_login: caller.sipLogin });
    // The rating core's limit over all payers, the one its property tests pin (test/props/call-cost.test.ts).
    const limit = maxDurationForAll(funded, maxSeconds);
    const expiresAt = new Date(Date.now() + (limit + RESERVATION_GRACE_SECONDS) * 1000).toISOString();
    for (const p of payers) {
      await reserve(trx, {
        uniqueid, switchRef, callerAccountId: caller.accountId, accountId: p.accountId,
        amountMicros: callCostMicros(p.match.tariff, limit), maxDurationSeconds: limit, expiresAt, rate: p.match,
      });
    }
    callsAuthorized.inc({ outcome: 'allowed' });
    return { allowed: true, max_duration: limit, caller_id: callerId, rate, sip_login: caller.sipLogin };
  }));
}
