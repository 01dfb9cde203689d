// `api_keys.last_used_at` without a write per request: a key's use is noted in memory and
// written at most once a minute per key (and instance), by a flush a second later, outside
// the request that used it. The API key hot path (`me`, the switch) pays a Map lookup.
import type { Logger } from 'pino';
import type { Db } from '../db/connect.js';
import { inTx } from '../db/tx.js';

/** A key's last use is at most this stale in the database (plus the flush delay). */
export const KEY_USE_RECORD_INTERVAL_MS = 60_000;
const FLUSH_DELAY_MS = 1_000;
/** Bounds memory: keys noted within the interval; the oldest is forgotten (and rewritten sooner). */
const MAX_TRACKED_KEYS = 10_000;
/** Ids per UPDATE statement. */
const FLUSH_CHUNK = 500;

interface Usage {
  /** Key id -> when its use was last queued for writing (ms). */
  queuedAtMs: Map<number, number>;
  /** Key id -> the ISO time to write. */
  pending: Map<number, string>;
  timer: NodeJS.Timeout | null;
}

const usageByDb = new WeakMap<Db, Usage>();

export function noteKeyUse(db: Db, keyId: number, log?: Logger, nowMs = Date.now()): void {
  let usage = usageByDb.get(db);
  if (!usage) {
    usage = { queuedAtMs: new Map(), pending: new Map(), timer: null };
    usageByDb.set(db, usage);
  }
  const queuedAt = usage.queuedAtMs.get(keyId);
  if (queuedAt !== undefined && nowMs - queuedAt < KEY_USE_RECORD_INTERVAL_MS) return;
  if (queuedAt !== undefined) usage.queuedAtMs.delete(keyId);
  else if (usage.queuedAtMs.size >= MAX_TRACKED_KEYS) usage.queuedAtMs.delete(usage.queuedAtMs.keys().next().value as number);
  usage.queuedAtMs.set(keyId, nowMs);
  usage.pending.set(keyId, new Date(nowMs).toISOString());
  if (!usage.timer) {
    const u = usage;
    u.timer = setTimeout(() => void flush(db, u, log), FLUSH_DELAY_MS);
    u.timer.unref();
  }
}

async function flush(db: Db, usage: Usage, log: Logger | undefined): Promise<void> {
  usage.timer = null;
  const batch = [...usage.pending];
  usage.pending.clear();
  try {
    for (let i = 0; i < batch.length; i += FLUSH_CHUNK) {
      const chunk = batch.slice(i, i + FLUSH_CHUNK);
      await inTx(db, async (trx) => {
        for (const [keyId, usedAt] of chunk) {
          await trx.updateTable('api_keys').set({ last_used_at: usedAt }).where('id', '=', keyId).execute();
        }
      });
    }
  } catch (err) {
    // Best effort: a lost last_used_at is rewritten on the key's next use after the interval.
    log?.warn({ err, keys: batch.length }, 'could not record API key use');
  }
}
