// The eSIM orders' background work (esim/orders.ts), in bounded batches each run: purchases
// whose upstream order is unconfirmed past ESIM_PENDING_GRACE_SECONDS are resolved (asked by
// transactionId, ordered only if the upstream has none, refunded if refused); orders being
// allocated get their profile; ready orders get their usage refreshed hourly. Every call goes
// through the upstream client's rate limiter. A PENDING order is claimed by moving its
// `updated_at` on, so one instance resolves it at a time.
import type { Ctx } from '../context.js';
import { nowIso } from '../util/time.js';
import { esimUpstreamOf } from './catalog.js';
import { applyProfile, placeEsimOrder } from './orders.js';
import { UpstreamProtocolError, UpstreamUnavailable } from './upstream/upstream.js';

const BATCH = 20;
const USAGE_REFRESH_MS = 3_600_000;

export async function runEsimWork(ctx: Ctx): Promise<void> {
  const now = Date.now();
  const graceAgo = new Date(now - ctx.config.esimPendingGraceSeconds * 1000).toISOString();
  const pending = await ctx.db.selectFrom('esim_orders').selectAll().where('status', '=', 'PENDING')
    .where('updated_at', '<', graceAgo).where('transaction_id', 'is not', null).orderBy('id').limit(BATCH).execute();
  for (const order of pending) {
    const claimed = await ctx.db.updateTable('esim_orders').set({ updated_at: nowIso() })
      .where('id', '=', order.id).where('status', '=', 'PENDING').where('updated_at', '=', order.updated_at).returning('id').execute();
    if (claimed.length === 0) continue;
    await ctx.durable();
    await placeEsimOrder(ctx, order, true);
  }
  const upstream = esimUpstreamOf(ctx);
  const usageAgo = new Date(now - USAGE_REFRESH_MS).toISOString();
  const toSync = await ctx.db.selectFrom('esim_orders').selectAll()
    .where((eb) => eb.or([
      eb('status', '=', 'ALLOCATING'),
      eb.and([eb('status', '=', 'READY'), eb.or([eb('synced_at', 'is', null), eb('synced_at', '<', usageAgo)])]),
    ]))
    .orderBy('updated_at').limit(BATCH).execute();
  for (const order of toSync) {
    if (!order.order_no) continue;
    try {
      const [profile] = await upstream.profiles(order.order_no);
      if (profile) await applyProfile(ctx, order, profile);
    } catch (err) {
      if (err instanceof UpstreamUnavailable || err instanceof UpstreamProtocolError) return;
      throw err;
    }
  }
}

/** Runs the work every few seconds (at most the pending grace); returns a stop function. */
export function startEsimWorker(ctx: Ctx): () => Promise<void> {
  let running: Promise<void> | null = null;
  const intervalMs = Math.min(5000, ctx.config.esimPendingGraceSeconds * 1000);
  const timer = setInterval(() => {
    if (running) return;
    running = runEsimWork(ctx).catch((err) => ctx.log.error({ err }, 'eSIM order work failed')).finally(() => { running = null; });
  }, intervalMs);
  timer.unref();
  return async () => { clearInterval(timer); await running; };
}
