// CDR settlement: one transaction stores the call, releases its reservations and charges the
// client at retail and, for reseller clients, the reseller at wholesale (call-decisions.ts). The
// calls row, keyed by (switch, uniqueid) (calls/switch-ref.ts), is written before any money
// moves: a repeat finds it and changes nothing. Accounts are locked first, in the global order
// (db/locks.ts).
import type { AuditEntry } from '../audit/audit-log.js';
import type { Ctx } from '../context.js';
import { preparedQuery } from '../db/prepared.js';
import type { Dialect, Trx } from '../db/connect.js';
import { lockAccounts, withTransientRetry } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { badRequest, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { release } from '../ledger/reservations.js';
import { cdrsCharged } from '../metrics.js';
import { MAX_CDR_ANSWERED_SECONDS } from '../money.js';
import { instant, intInRange, optionalText } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { rateCall } from './authorize.js';
import {
  chargedResult, decideSettle, DISPOSITIONS, fundsOf, heldBy, replayOf, settlementAccounts,
  type CdrResult, type Disposition, type HeldReservation, type NewCall, type ParsedCdr, type RatedCall, type SettleDecision,
} from './call-decisions.js';
import { callsOfUniqueId, reservationsOfUniqueId } from './call-rows.js';
import { switchBatchOf, type CdrParty } from './switch-batch.js';
import { warnOverLimit } from './over-limit.js';
import { findCaller, normalizeDestination, parseUniqueId, type Caller } from './caller.js';

export { DISPOSITIONS, type CdrResult, type Disposition } from './call-decisions.js';

export interface CdrInput {
  uniqueid?: unknown; sip_login?: unknown; source_ip?: unknown; source_port?: unknown; destination?: unknown;
  start_time?: unknown; answered_seconds?: unknown; disposition?: unknown; hangup_cause?: unknown;
}

const insertCall = preparedQuery<NewCall & { createdAt: string }>()((db, p) => db.insertInto('calls').values({
  uniqueid: p.uniqueid, switch_ref: p.switchRef, account_id: p.accountId, sip_account_id: p.sipAccountId, sip_login: p.sipLogin,
  destination: p.destination, rate_prefix: p.ratePrefix, rate_destination: p.rateDestination, caller_id: p.callerId,
  started_at: p.startedAt, answered_seconds: p.answeredSeconds, billed_seconds: p.billedSeconds, cost_micros: p.costMicros,
  reseller_id: p.resellerId, reseller_cost_micros: p.resellerCostMicros, disposition: p.disposition, hangup_cause: p.hangupCause,
  created_at: p.createdAt,
}).onConflict((oc) => oc.columns(['uniqueid', 'switch_ref']).doNothing()).returning('id'));

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

export function parseCdr(input: CdrInput): ParsedCdr {
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

/** One settlement in the transaction `ctx.db` is, or in one of its own. */
async function settleParsed(ctx: Ctx, cdr: ParsedCdr, party: CdrParty, switchRef: string): Promise<CdrResult> {
  const { caller } = party;
  return inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'CDR settlement', async () => {
    // Read before the locks, to lock the accounts the reservations hold money on too: every
    // account this settlement changes, locked before any other row (db/locks.ts).
    const reservations = await reservationsOfUniqueId(trx, { uniqueid: cdr.uniqueid });
    const locked = await lockAccounts(trx, ctx.dialect, settlementAccounts(caller, heldBy(caller, switchRef, reservations)));
    const rows = { reservations, calls: await callsOfUniqueId(trx, { uniqueid: cdr.uniqueid }) };
    const d = decideSettle(cdr, caller, party.current, switchRef, rows, (id) => fundsOf(locked.get(id)!));
    return applySettle(ctx, trx, cdr, switchRef, caller, d);
  }));
}

async function applySettle(ctx: Ctx, trx: Trx, cdr: ParsedCdr, switchRef: string, caller: Caller, d: SettleDecision): Promise<CdrResult> {
  if (d.kind === 'replay') {
    // A late re-authorization of a settled call may have reserved again: free it.
    await releaseHeld(trx, d.release);
    return d.result;
  }
  const [inserted] = await insertCall(trx, { ...d.call, createdAt: nowIso() });
  if (!inserted) {
    // Settled since the read (a call from before switches were told apart).
    const replay = replayOf(cdr, caller.accountId, switchRef, await callsOfUniqueId(trx, { uniqueid: cdr.uniqueid }));
    if (!replay) throw new Error(`the calls row of ${cdr.uniqueid} conflicted but cannot be read`);
    await releaseHeld(trx, d.release);
    return replay;
  }
  const callId = Number(inserted.id);
  if (d.overLimitSeconds !== null) warnOverLimit(ctx, cdr, d.overLimitSeconds);
  await releaseHeld(trx, d.release);
  for (const c of d.charges) {
    await post(trx, {
      accountId: c.accountId, amountMicros: c.amountMicros, kind: 'call', refType: 'call', refId: callId,
      description: c.description, balanceBeforeMicros: c.balanceBeforeMicros,
    });
  }
  cdrsCharged.inc();
  return chargedResult(d.call, callId);
}

/**
 * Settles a CDR that `switchRef` (calls/switch-ref.ts) reports. `audit`, the request's audit
 * row, is given when the request has no transaction of its own: on PostgreSQL the CDR then
 * joins a batch (switch-batch.ts), which writes the row with it.
 */
export async function settleCdr(ctx: Ctx, input: CdrInput, switchRef: string, audit?: AuditEntry): Promise<CdrResult> {
  const cdr = parseCdr(input);
  const caller = await findCaller(ctx, input);
  if (!caller) throw notFound('SIP account');
  // Today's rates: looked up outside the transaction.
  const current = cdr.answered > 0 ? await rateCall(ctx, caller, cdr.destination) : null;
  const batch = audit && !(ctx.db as Trx).isTransaction ? switchBatchOf(ctx.db) : undefined;
  if (batch) return batch.settle({ cdr, party: { caller, current }, switchRef, audit: audit! }, (alone) => settleParsed(alone, cdr, { caller, current }, switchRef));
  return settleParsed(ctx, cdr, { caller, current }, switchRef);
}
