// Frees reservations whose call never reported a CDR, so a lost CDR never locks money forever.
import type { Ctx } from '../context.js';
import { lockAccounts, withTransientRetry } from '../db/locks.js';
import { inTx } from '../db/tx.js';
import { release } from '../ledger/reservations.js';

/** Reservations freed per transaction: bounds how long it holds the accounts it locks. */
const BATCH = 500;

/** Frees up to `maxBatches` × 500 expired reservations; returns how many. */
export async function expireReservations(ctx: Ctx, now = new Date(), maxBatches = 20): Promise<number> {
  let freed = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const n = await inTx(ctx.db, (trx) => withTransientRetry(trx, ctx.dialect, 'reservation expiry', async () => {
      const expired = await trx.selectFrom('reservations').select(['id', 'account_id', 'amount_micros'])
        .where('expires_at', '<', now.toISOString()).orderBy('id').limit(BATCH).execute();
      // The batch's accounts first, in the global order (db/locks.ts), then their reservations.
      await lockAccounts(trx, ctx.dialect, expired.map((r) => Number(r.account_id)));
      for (const r of expired) await release(trx, r);
      return expired.length;
    }));
    freed += n;
    if (n < BATCH) break;
  }
  return freed;
}

/** Runs the expiry every `intervalMs`; returns a stop function. */
export function startReservationExpiry(ctx: Ctx, intervalMs = 15_000): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    expireReservations(ctx)
      .then((n) => { if (n > 0) ctx.log.info({ freed: n }, 'expired call reservations freed'); })
      .catch((err) => ctx.log.error({ err }, 'reservation expiry failed'))
      .finally(() => { running = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
