// The switch path on PostgreSQL, in batches (docs/postgres.md). Authorizations and CDRs that
// arrive together share one transaction, and each step runs once for all of them: one statement
// locks every account of the batch (ascending id, the global lock order of db/locks.ts), one
// reads the reservations and calls rows of every uniqueid, each call is decided in the process
// (call-decisions.ts, the code the one-call path runs) against the accounts as the calls before
// it in the batch left them, and each kind of row is written with one statement. A batch of a
// hundred calls costs about ten round trips and one commit, where one call alone costs ten and
// one; a reseller's row is written once per batch, not once per call of its clients.
//
// Lanes: calls are queued by the account at the top of their payer tree (the reseller of a
// reseller client, else the client), a lane runs one batch at a time, and a call waits for the
// batch before it in its lane: so two batches of this instance never wait on each other's rows.
// One lane is the default (measured best on 2 cores, docs/postgres.md). A batch never waits on
// a row lock: an account another transaction holds (another instance's batch, a refill) is left
// out, and its calls go in the next batch; a call left out three times runs alone, waiting in a
// transaction of its own while the lane goes on.
//
// Each call keeps its own answer: a refusal or an error of one is decided before anything is
// written and leaves the others alone. A failure of the shared transaction itself (a deadlock
// with another path, a calls row another instance wrote meanwhile, a broken ledger rule) writes
// nothing of it, and every call of the batch runs again alone, in its own transaction, with its
// audit row: so a call is never answered before its rows are committed, and never charged twice.
import type { AuditEntry } from '../audit/audit-log.js';
import { writeAudit, writeAuditRows } from '../audit/audit-log.js';
import { withTrx, type Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { inTxRetrying, isTransientConflict } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { OverloadedError } from '../errors.js';
import { nowIso } from '../util/time.js';
import { assertLedger, LedgerInvariantError } from '../ledger/ledger.js';
import type { Caller } from './caller.js';
import { writeMoneyBatch, type BatchRelease, type BatchReservation } from '../ledger/money-batch.js';
import { cdrsCharged, ledgerPostings, switchBatchDeferrals, switchBatchFallbacks, switchBatchSize, transactionRetries } from '../metrics.js';
import {
  availableOf, chargedResult, decideAuthorize, decideSettle, fundsOf, heldBy, payersOf, settlementAccounts,
  type AuthorizeResult, type CallRows, type CdrResult, type Funds, type NewCall, type ParsedCdr, type RatedCall,
} from './call-decisions.js';
import { insertCalls, lockFreeAccounts, readBatchRows } from './batch-statements.js';
import { warnOverLimit } from './over-limit.js';

export interface BatchedAuthorize {
  rated: RatedCall;
  uniqueid: string;
  switchRef: string;
  audit: AuditEntry;
}

/** The CDR's caller and, for an answered call, today's rating of it (used only for a payer without a reservation). */
export interface CdrParty {
  caller: Caller;
  current: RatedCall | null;
}

export interface BatchedSettle {
  cdr: ParsedCdr;
  party: CdrParty;
  switchRef: string;
  audit: AuditEntry;
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  /** The call on its own, in the transaction of the context given (the one-call path). */
  alone: (ctx: Ctx) => Promise<T>;
  lane: Lane;
  /** Batches that left it for the next because another transaction held one of its accounts. */
  deferrals: number;
}

type Item =
  | ({ kind: 'audit'; audit: AuditEntry } & Pending<void>)
  | ({ kind: 'authorize' } & BatchedAuthorize & Pending<AuthorizeResult>)
  | ({ kind: 'settle' } & BatchedSettle & Pending<CdrResult>);

export interface SwitchBatchLimits {
  /** Batches running at once: each holds one connection of the main pool while it runs. */
  lanes: number;
  /** Calls sharing one transaction; bounds how long the first of them waits for the last. */
  maxPerBatch: number;
  /** Calls waiting beyond this are refused (503) rather than queued without bound. */
  maxQueued: number;
}

const DEFAULT_SWITCH_BATCH_LIMITS: SwitchBatchLimits = { lanes: 1, maxPerBatch: 200, maxQueued: 20_000 };

/** What a batch's transaction gives back for each call. */
type Outcome =
  | { kind: 'done'; value: unknown }
  | { kind: 'failed'; err: unknown }
  /** Not decidable inside the batch (it needs an account the batch did not lock): run alone after it. */
  | { kind: 'alone' }
  /** Its accounts were held by another transaction: in the next batch. */
  | { kind: 'defer' };

/**
 * A call left for the next batch this many times runs alone, in a transaction of its own that
 * waits for the accounts: the lane goes on without it.
 */
const MAX_DEFERRALS = 3;

/** An account the batch did not lock: the call runs alone. */
class NotLocked extends Error {}

class Lane {
  queue: Item[] = [];
  scheduled = false;
  running = false;
}

export class SwitchBatch {
  readonly #lanes: Lane[];
  #queued = 0;

  /** `ctx`: the server's context, on the base database (the pool). */
  constructor(private readonly ctx: Ctx, private readonly limits: SwitchBatchLimits = DEFAULT_SWITCH_BATCH_LIMITS) {
    this.#lanes = Array.from({ length: limits.lanes }, () => new Lane());
  }

  /** A request answered before any money was looked at (an unknown caller, no rate): its audit row alone. */
  auditOnly(audit: AuditEntry): Promise<void> {
    return this.#enqueue<void>(0, async () => undefined, (p) => ({ kind: 'audit', audit, ...p }));
  }

  /** `alone`: the authorization on its own (authorize.ts), should the batch fail. */
  authorize(call: BatchedAuthorize, alone: (ctx: Ctx) => Promise<AuthorizeResult>): Promise<AuthorizeResult> {
    return this.#enqueue(topPayer(call.rated.caller), alone, (p) => ({ kind: 'authorize', ...call, ...p }));
  }

  /** `alone`: the settlement on its own (settle.ts), should the batch fail. */
  settle(call: BatchedSettle, alone: (ctx: Ctx) => Promise<CdrResult>): Promise<CdrResult> {
    return this.#enqueue(topPayer(call.party.caller), alone, (p) => ({ kind: 'settle', ...call, ...p }));
  }

  #enqueue<T>(laneKey: number, alone: (ctx: Ctx) => Promise<T>, make: (p: Pending<T>) => Item): Promise<T> {
    if (this.#queued >= this.limits.maxQueued) return Promise.reject(new OverloadedError('Too many calls waiting; retry shortly'));
    return new Promise<T>((resolve, reject) => {
      const lane = this.#lanes[laneKey % this.#lanes.length];
      lane.queue.push(make({ resolve, reject, alone, lane, deferrals: 0 }));
      this.#queued++;
      this.#schedule(lane);
    });
  }

  // setImmediate: every request already readable in this turn joins the batch first.
  #schedule(lane: Lane): void {
    if (lane.scheduled || lane.running) return;
    lane.scheduled = true;
    setImmediate(() => void this.#drain(lane));
  }

  async #drain(lane: Lane): Promise<void> {
    lane.scheduled = false;
    lane.running = true;
    try {
      await this.#runBatch(takeBatch(lane, this.limits.maxPerBatch));
    } finally {
      lane.running = false;
      if (lane.queue.length > 0) this.#schedule(lane);
    }
  }

  async #runBatch(items: Item[]): Promise<void> {
    this.#queued -= items.length;
    switchBatchSize.observe(items.length);
    let outcomes: Outcome[];
    try {
      outcomes = await inTx(this.ctx.db, (trx) => this.#decideAndWrite(trx, items));
    } catch (err) {
      // Nothing of the batch was written: each call runs again alone, as if it had come alone.
      switchBatchFallbacks.inc();
      if (isTransientConflict(err)) transactionRetries.inc({ operation: 'switch batch' });
      else this.ctx.log.warn({ err, calls: items.length }, 'switch batch rolled back; its calls run one by one');
      await Promise.all(items.map((item) => this.#runAlone(item)));
      return;
    }
    const alone: Item[] = [];
    const deferred: Item[] = [];
    const waiting: Item[] = [];
    items.forEach((item, i) => {
      const o = outcomes[i];
      if (o.kind === 'done') (item.resolve as (v: unknown) => void)(o.value);
      else if (o.kind === 'failed') item.reject(o.err);
      else if (o.kind === 'defer') (item.deferrals >= MAX_DEFERRALS ? waiting : deferred).push(item);
      else alone.push(item);
    });
    // Not awaited: these wait for another transaction's row locks, and the lane goes on. They
    // count as waiting calls until answered (maxQueued); their connections come from the pool.
    for (const item of waiting) {
      this.#queued++;
      void this.#runAlone(item).finally(() => { this.#queued--; });
    }
    // Ahead of the calls that came after them (the lane's drain schedules the next batch).
    switchBatchDeferrals.inc(deferred.length);
    for (const item of deferred.reverse()) {
      item.deferrals++;
      item.lane.queue.unshift(item);
      this.#queued++;
    }
    await Promise.all(alone.map((item) => this.#runAlone(item)));
  }

  /** One call in its own transaction, with its audit row, retried whole on a transient conflict. */
  async #runAlone(item: Item): Promise<void> {
    try {
      const value = await inTxRetrying(this.ctx.db, this.ctx.dialect, async (trx) => {
        await writeAudit(trx, item.audit);
        return (item.alone as (ctx: Ctx) => Promise<unknown>)(withTrx(this.ctx, trx));
      });
      (item.resolve as (v: unknown) => void)(value);
    } catch (err) {
      item.reject(err);
    }
  }

  async #decideAndWrite(trx: Trx, items: Item[]): Promise<Outcome[]> {
    const accountsOf = (item: Item): number[] => (item.kind === 'authorize' ? payersOf(item.rated).map((p) => p.accountId)
      : item.kind === 'settle' ? settlementAccounts(item.party.caller, []) : []);
    // The accounts first (the global lock order), then the rows of the calls, read under the
    // locks. Accounts another transaction holds (another instance's batch, a refill) are
    // skipped, not waited for: their calls go in the next batch, and after MAX_DEFERRALS
    // batches alone. A batch never waits on a row lock, so no other transaction delays the
    // calls of accounts it does not touch, and batches of two instances never queue behind
    // each other.
    const locked = await lockFreeAccounts(trx, [...new Set(items.flatMap(accountsOf))]);
    const uniqueids = items.flatMap((i) => (i.kind === 'audit' ? [] : [i.kind === 'authorize' ? i.uniqueid : i.cdr.uniqueid]));
    const rowsOf = await readBatchRows(trx, uniqueids);
    const funds = new Map<number, Funds>([...locked].map(([id, row]) => [id, fundsOf(row)]));
    const fundsAt = (id: number): Funds => {
      const f = funds.get(id);
      if (!f) throw new NotLocked();
      return f;
    };

    const audits: AuditEntry[] = [];
    const reserve: BatchReservation[] = [];
    const release: BatchRelease[] = [];
    const calls: Array<{ index: number; call: NewCall }> = [];
    const charges: Array<{ index: number; accountId: number; amountMicros: bigint; balanceAfterMicros: bigint; description: string }> = [];
    const outcomes: Outcome[] = [];
    const nowMs = Date.now();

    items.forEach((item, index) => {
      if (!accountsOf(item).every((id) => locked.has(id))) {
        outcomes.push({ kind: 'defer' });
        return;
      }
      try {
        if (item.kind === 'audit') {
          audits.push(item.audit);
          outcomes.push({ kind: 'done', value: undefined });
          return;
        }
        if (item.kind === 'authorize') {
          const rows = rowsOf.get(item.uniqueid) ?? EMPTY_ROWS;
          const d = decideAuthorize(item.rated, item.switchRef, rows, fundsAt, this.ctx.config.maxCallDurationSeconds, nowMs);
          // Checked for every payer before any of them changes: the call's state moves whole or not at all.
          for (const r of d.reserve) {
            assertLedger(availableOf(fundsAt(r.accountId)) - r.amountMicros >= 0n, `account ${r.accountId} cannot hold ${r.amountMicros} more`);
          }
          for (const r of d.reserve) {
            fundsAt(r.accountId).reservedMicros += r.amountMicros;
            reserve.push({
              uniqueid: item.uniqueid, switchRef: item.switchRef, callerAccountId: item.rated.caller.accountId, accountId: r.accountId,
              amountMicros: r.amountMicros, maxDurationSeconds: d.maxDurationSeconds, expiresAt: d.expiresAt, rate: r.rate,
            });
          }
          audits.push(item.audit);
          outcomes.push({ kind: 'done', value: d.result });
          return;
        }
        const { caller } = item.party;
        const rows = rowsOf.get(item.cdr.uniqueid) ?? EMPTY_ROWS;
        // Reservations on an account outside the batch's locks (the client changed reseller since)
        // make the call run alone; checked before its state changes.
        for (const id of settlementAccounts(caller, heldBy(caller, item.switchRef, rows.reservations))) fundsAt(id);
        const d = decideSettle(item.cdr, caller, item.party.current, item.switchRef, rows, fundsAt);
        for (const r of d.release) {
          const amountMicros = BigInt(r.amount_micros);
          fundsAt(Number(r.account_id)).reservedMicros -= amountMicros;
          release.push({ id: Number(r.id), accountId: Number(r.account_id), amountMicros });
        }
        audits.push(item.audit);
        if (d.kind === 'replay') {
          outcomes.push({ kind: 'done', value: d.result });
          return;
        }
        if (d.overLimitSeconds !== null) warnOverLimit(this.ctx, item.cdr, d.overLimitSeconds);
        calls.push({ index, call: d.call });
        for (const c of d.charges) {
          const f = fundsAt(c.accountId);
          f.balanceMicros += c.amountMicros;
          charges.push({ index, accountId: c.accountId, amountMicros: c.amountMicros, balanceAfterMicros: f.balanceMicros, description: c.description });
        }
        outcomes.push({ kind: 'done', value: null }); // answered below, once the calls row has its id
      } catch (err) {
        // A broken rule fails the whole batch: its calls then run alone, where it fails theirs.
        if (err instanceof LedgerInvariantError) throw err;
        outcomes.push(err instanceof NotLocked ? { kind: 'alone' } : { kind: 'failed', err });
      }
    });

    const createdAt = nowIso();
    await writeAuditRows(trx, audits);
    const callIds = await insertCalls(trx, calls.map((c) => c.call), createdAt);
    const idOfIndex = new Map(calls.map((c, i) => [c.index, callIds[i]]));
    const accounts = [...funds].map(([id, after]) => {
      const before = fundsOf(locked.get(id)!);
      return {
        id, balanceBeforeMicros: before.balanceMicros, balanceAfterMicros: after.balanceMicros,
        reservedBeforeMicros: before.reservedMicros, reservedAfterMicros: after.reservedMicros,
      };
    }).filter((a) => a.balanceAfterMicros !== a.balanceBeforeMicros || a.reservedAfterMicros !== a.reservedBeforeMicros);
    await writeMoneyBatch(trx, {
      reserve, release, accounts,
      charges: charges.map((c) => ({ ...c, callId: idOfIndex.get(c.index)! })),
    }, createdAt);

    for (const c of calls) outcomes[c.index] = { kind: 'done', value: chargedResult(c.call, idOfIndex.get(c.index)!) };
    // Counted when written; a batch that then fails at COMMIT overcounts, which a rate metric tolerates.
    for (let i = 0; i < calls.length; i++) cdrsCharged.inc();
    for (let i = 0; i < charges.length; i++) ledgerPostings.inc({ kind: 'call' });
    return outcomes;
  }
}

/** Databases whose switch calls are batched (PostgreSQL; set up by the server). */
const batches = new WeakMap<object, SwitchBatch>();

export function batchSwitchCalls(db: Db, batch: SwitchBatch): void {
  batches.set(db, batch);
}

/** The batcher of `db`'s switch calls; undefined on SQLite and inside a transaction. */
export function switchBatchOf(db: Db | Trx): SwitchBatch | undefined {
  return batches.get(db);
}

const EMPTY_ROWS: CallRows = { reservations: [], calls: [] };

/** The lane of a call: its reseller for a reseller client, else the client itself. */
function topPayer(caller: Caller): number {
  return caller.reseller?.id ?? caller.accountId;
}

/**
 * The next batch of a lane, in arrival order: at most `max` calls, one per uniqueid (a second
 * request for the same call, a repeat or its CDR, waits for the next batch, so it sees the
 * first one's rows).
 */
function takeBatch(lane: Lane, max: number): Item[] {
  const batch: Item[] = [];
  const rest: Item[] = [];
  const seen = new Set<string>();
  for (const item of lane.queue) {
    const key = item.kind === 'audit' ? null : item.kind === 'authorize' ? item.uniqueid : item.cdr.uniqueid;
    if (batch.length >= max || (key !== null && seen.has(key))) {
      rest.push(item);
      continue;
    }
    if (key !== null) seen.add(key);
    batch.push(item);
  }
  lane.queue = rest;
  return batch;
}
