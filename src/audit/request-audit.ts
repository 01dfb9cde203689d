// The audit row of a state-changing request whose service opens its own transactions (every
// write that is neither switch-transactional nor idempotent: those write the row in the one
// transaction they run in). The row joins the first transaction of the request that commits,
// so no change is made without its row; a request that commits nothing gets its row on its
// own when it ends.
import type { Logger } from 'pino';
import type { Ctx } from '../context.js';
import type { Db, Trx } from '../db/connect.js';
import { withTransactionHook, type TransactionHook } from '../db/tx.js';
import { setAuditOutcome, writeAuditLogged, writeAuditReturningId, type AuditEntry } from './audit-log.js';

export class RequestAudit implements TransactionHook {
  /**
   * pending: not written; writing: in a transaction not yet settled; written: committed;
   * closed: the request has ended (work it left running adds no row).
   */
  #state: 'pending' | 'writing' | 'written' | 'closed' = 'pending';
  #rowId: number | null = null;

  /** `entry` as if the request succeeded; a later failure updates the row (failedAfterCommit). */
  constructor(private readonly entry: AuditEntry) {}

  /** The context for the request's services: the row joins their first committing transaction. */
  bind(ctx: Ctx): Ctx {
    return { ...ctx, db: withTransactionHook(ctx.db as Db, this) };
  }

  async beforeCommit(trx: Trx): Promise<void> {
    // One row per request: a second transaction (or one running beside the first) adds none.
    if (this.#state !== 'pending') return;
    this.#state = 'writing';
    try {
      this.#rowId = await writeAuditReturningId(trx, this.entry);
    } catch (err) {
      this.#state = 'pending';
      throw err;
    }
  }

  settled(committed: boolean): void {
    if (this.#state === 'writing') this.#state = committed ? 'written' : 'pending';
  }

  /** The request succeeded: its row, unless a transaction of it already committed one. */
  async succeeded(db: Db | Trx, log: Logger): Promise<void> {
    const written = this.#state === 'written';
    this.#state = 'closed';
    if (!written) await writeAuditLogged(db, this.entry, log);
  }

  /**
   * The request failed after a transaction of it committed (a multi-step service): that
   * transaction's row gets the outcome, rather than a second row. False when nothing of the
   * request was committed: it is then audited as any refusal.
   */
  async failedAfterCommit(db: Db | Trx, log: Logger, status: number, errorCode: string): Promise<boolean> {
    const written = this.#state === 'written';
    this.#state = 'closed';
    if (!written || this.#rowId === null) return false;
    await setAuditOutcome(db, this.#rowId, status, errorCode).catch((err: unknown) => log.error({ err }, 'audit log write failed'));
    return true;
  }
}
