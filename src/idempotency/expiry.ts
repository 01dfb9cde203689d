// Idempotency records live IDEMPOTENCY_RETENTION_DAYS (default 7): long enough for any retry
// of a lost answer, short enough that stored replies do not pile up forever. Natural keys
// (`external_id` of transfers and payments, the switch's `uniqueid`, voucher codes) stay unique
// in their own tables, so an expired record never lets a repeat move money twice.
import type { Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import { isSealed, sealReply } from './idempotency.js';

const BATCH = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes records created before `now` minus the retention, at most `maxBatches` × ~500 per
 * run (the next run continues); returns how many.
 */
export async function expireIdempotencyRecords(ctx: Ctx, now = new Date(), maxBatches = 20): Promise<number> {
  const cutoff = new Date(now.getTime() - ctx.config.idempotencyRetentionDays * DAY_MS).toISOString();
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    // The batch ends at the created_at of its 500th oldest record: one range delete on the
    // created_at index instead of 500 deletes by key.
    const last = await ctx.db.selectFrom('idempotency_keys').select('created_at')
      .where('created_at', '<', cutoff).orderBy('created_at').offset(BATCH - 1).limit(1).executeTakeFirst();
    const result = await inTx(ctx.db, (trx) => trx.deleteFrom('idempotency_keys')
      .where('created_at', '<', cutoff)
      .$if(last !== undefined, (q) => q.where('created_at', '<=', last!.created_at))
      .executeTakeFirst());
    const n = Number(result.numDeletedRows);
    deleted += n;
    if (last === undefined || n === 0) break;
  }
  if (deleted > 0) await ctx.durable();
  return deleted;
}

/**
 * Encrypts replies stored in clear by versions before sealing was introduced, at most
 * `maxBatches` × 500 per run; returns how many were left in clear (0: nothing more to do).
 */
export async function sealLegacyReplies(ctx: Ctx, maxBatches = 20): Promise<number> {
  for (let batch = 0; batch < maxBatches; batch++) {
    const sealed = await inTx(ctx.db, async (trx) => {
      const rows = await trx.selectFrom('idempotency_keys').select(['account_id', 'scope', 'key', 'response_json'])
        .where('response_json', 'like', '{%').limit(BATCH).execute();
      for (const r of rows) {
        if (isSealed(r.response_json)) continue;
        await trx.updateTable('idempotency_keys')
          .set({ response_json: sealReply(ctx.secrets, JSON.parse(r.response_json)) })
          .where('account_id', '=', r.account_id).where('scope', '=', r.scope).where('key', '=', r.key)
          .where('response_json', '=', r.response_json)
          .execute();
      }
      return rows.length;
    });
    if (sealed < BATCH) {
      await ctx.durable();
      return 0;
    }
  }
  await ctx.durable();
  return 1;
}

/**
 * Runs now (so a restart seals legacy replies and catches up at once) and then every
 * `intervalMs`; one run at a time. Returns a stop function that waits for a run in progress.
 */
export function startIdempotencyExpiry(ctx: Ctx, intervalMs = 10 * 60_000): () => Promise<void> {
  let current: Promise<void> | null = null;
  let legacyLeft = true;
  let stopped = false;
  const run = () => {
    if (current || stopped) return;
    current = (async () => {
      if (legacyLeft) legacyLeft = (await sealLegacyReplies(ctx)) > 0;
      const n = await expireIdempotencyRecords(ctx);
      if (n > 0) ctx.log.info({ deleted: n, retentionDays: ctx.config.idempotencyRetentionDays }, 'expired idempotency records deleted');
    })()
      .catch((err) => ctx.log.error({ err }, 'idempotency expiry failed'))
      .finally(() => { current = null; });
  };
  const first = setTimeout(run, 0);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
    await current;
  };
}
