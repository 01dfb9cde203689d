// Call authorization without overspend (CONTRACT §4): every paying account (the client at
// retail, a reseller client's reseller at wholesale) must afford the minimum block; the call
// limit is what all of them can pay, and its cost is reserved on each until the CDR arrives or
// the reservation expires. Reservations count against `available`, so concurrent calls can
// never spend more than the balance.
import type { AuditEntry } from '../audit/audit-log.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import { lockAccounts, withTransientRetry } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { reserve } from '../ledger/reservations.js';
import { callsAuthorized } from '../metrics.js';
import { effectiveRetailMatch } from '../plans/retail-rates.js';
import {
  decideAuthorize, fundsOf, payersOf, type AuthorizeResult, type RatedCall, type RefusalReason,
} from './call-decisions.js';
import { readCallRows } from './call-rows.js';
import { switchBatchOf } from './switch-batch.js';
import { findCaller, normalizeDestination, parseUniqueId, type Caller } from './caller.js';

export type { AuthorizeResult, RefusalReason, RatedCall } from './call-decisions.js';

export interface AuthorizeInput { uniqueid?: unknown; sip_login?: unknown; source_ip?: unknown; source_port?: unknown; destination?: unknown }

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

function refusal(reason: RefusalReason): AuthorizeResult {
  return { allowed: false, max_duration: 0, caller_id: null, rate: null, reason };
}

/** One authorization in the transaction `ctx.db` is, or in one of its own. */
async function authorizeRated(ctx: Ctx, rated: RatedCall, uniqueid: string, switchRef: string): Promise<AuthorizeResult> {
  return inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'authorization', async () => {
    // First, before any other row: the global lock order (db/locks.ts).
    const locked = await lockAccounts(trx, ctx.dialect, payersOf(rated).map((p) => p.accountId));
    const rows = await readCallRows(trx, uniqueid);
    const d = decideAuthorize(rated, switchRef, rows, (id) => fundsOf(locked.get(id)!), ctx.config.maxCallDurationSeconds, Date.now());
    // A reservation for each payer, at the tariff the CDR will be charged at.
    for (const r of d.reserve) {
      await reserve(trx, {
        uniqueid, switchRef, callerAccountId: rated.caller.accountId, accountId: r.accountId, amountMicros: r.amountMicros,
        maxDurationSeconds: d.maxDurationSeconds, expiresAt: d.expiresAt, rate: r.rate,
      });
    }
    return d.result;
  }));
}

/**
 * May the call start? `switchRef` names the switch asking (calls/switch-ref.ts): the call and its
 * reservations belong to (switch, uniqueid). `audit`, the request's audit row, is given when the
 * request has no transaction of its own: on PostgreSQL the call then joins a batch
 * (switch-batch.ts), which writes the row with it.
 */
export async function authorizeCall(ctx: Ctx, input: AuthorizeInput, switchRef: string, audit?: AuditEntry): Promise<AuthorizeResult> {
  const result = await authorize(ctx, input, switchRef, audit);
  callsAuthorized.inc({ outcome: result.allowed ? 'allowed' : result.reason ?? 'refused' });
  return result;
}

async function authorize(ctx: Ctx, input: AuthorizeInput, switchRef: string, audit?: AuditEntry): Promise<AuthorizeResult> {
  const uniqueid = parseUniqueId(input.uniqueid);
  const destination = normalizeDestination(input.destination);
  const batch = audit && !(ctx.db as Trx).isTransaction ? switchBatchOf(ctx.db) : undefined;
  const refused = async (reason: RefusalReason) => {
    // A refusal is an answer (200): its audit row is written as for any other.
    if (batch) await batch.auditOnly(audit!);
    return refusal(reason);
  };
  const caller = await findCaller(ctx, input);
  if (!caller) return refused('UNKNOWN_CALLER');
  if (!caller.sipActive) return refused('SIP_ACCOUNT_INACTIVE');
  if (!caller.accountActive) return refused('ACCOUNT_INACTIVE');
  if (caller.reseller && !caller.reseller.active) return refused('RESELLER_INACTIVE');
  const rated = await rateCall(ctx, caller, destination);
  if (!rated) return refused('NO_RATE');
  if (batch) return batch.authorize({ rated, uniqueid, switchRef, audit: audit! }, (alone) => authorizeRated(alone, rated, uniqueid, switchRef));
  return authorizeRated(ctx, rated, uniqueid, switchRef);
}
