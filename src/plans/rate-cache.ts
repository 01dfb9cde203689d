// Rate tables of plans, loaded into memory for rating and kept current by the plan's
// `rates_version` (bumped in the transaction of every rate change). A stale table keeps
// serving calls while its replacement loads, so a rate change never stops calls.
import type { Db, Trx } from '../db/connect.js';
import { outsideTransaction } from '../db/tx.js';
import { RateTable } from '../rating/rate-table.js';

const LOAD_BATCH_ROWS = 50_000;
/** Tables of at most this many rows are reloaded before answering, so a change applies at once. */
const SYNC_RELOAD_MAX_ROWS = 50_000;
const MAX_CACHED_PLANS = 256;

interface Entry {
  version: number;
  table: RateTable;
  loading: Promise<RateTable> | null;
  loadingVersion: number;
}

export class RateCache {
  readonly #entries = new Map<number, Entry>();
  constructor(private readonly db: Db) {}

  /**
   * The plan's rate table at `version` (or newer); for large plans a stale one while reloading.
   * `db` is the caller's transaction, if any: a small plan is read through it (on SQLite the
   * transaction holds the only connection, so reading beside it would wait for itself).
   */
  async table(planId: number, version: number, db: Db | Trx = this.db): Promise<RateTable> {
    const entry = this.#entries.get(planId);
    if (entry && entry.version >= version) return entry.table;
    if (entry && entry.table.size > SYNC_RELOAD_MAX_ROWS) {
      // In the background, not awaited by the caller's transaction (which may be open).
      void outsideTransaction(() => this.#reload(planId, version, entry, this.db)).catch(() => {});
      return entry.table;
    }
    return this.#reload(planId, version, entry, db);
  }

  /** Loads one plan now (used by the CLI and benchmarks). */
  async load(planId: number, db: Db | Trx = this.db): Promise<{ table: RateTable; version: number }> {
    const plan = await db.selectFrom('plans').select('rates_version').where('id', '=', planId).executeTakeFirst();
    const version = Number(plan?.rates_version ?? 0);
    const table = await loadRateTable(db, planId);
    return { table, version };
  }

  #reload(planId: number, version: number, entry: Entry | undefined, db: Db | Trx): Promise<RateTable> {
    // A load in flight through another transaction cannot be awaited from this one (SQLite).
    if (entry?.loading && entry.loadingVersion >= version && db === this.db) return entry.loading;
    const loading = (async () => {
      // Read the version first: rows committed after it only make the table newer than it says.
      const { table, version: loadedVersion } = await this.load(planId, db);
      const current = this.#entries.get(planId);
      if (!current || current.version <= loadedVersion) {
        this.#entries.set(planId, { version: loadedVersion, table, loading: null, loadingVersion: 0 });
        this.#evict();
      }
      return table;
    })();
    const placeholder: Entry = entry ?? { version: -1, table: new RateTable(), loading: null, loadingVersion: 0 };
    placeholder.loading = loading;
    placeholder.loadingVersion = version;
    if (!entry) this.#entries.set(planId, placeholder);
    loading.catch(() => {
      if (this.#entries.get(planId) === placeholder) {
        if (entry) placeholder.loading = null;
        else this.#entries.delete(planId);
      }
    });
    return loading;
  }

  #evict(): void {
    while (this.#entries.size > MAX_CACHED_PLANS) {
      const oldest = this.#entries.keys().next().value as number;
      this.#entries.delete(oldest);
    }
  }
}

/** Reads a plan's rates in id order, in bounded batches. */
export async function loadRateTable(db: Db | Trx, planId: number): Promise<RateTable> {
  const countRow = await db.selectFrom('rates').select((eb) => eb.fn.countAll<number>().as('n')).where('plan_id', '=', planId).executeTakeFirstOrThrow();
  const table = new RateTable(Number(countRow.n));
  let lastId = 0;
  for (;;) {
    const rows = await db.selectFrom('rates')
      .select(['id', 'prefix', 'destination', 'rate_micros', 'connect_charge_micros', 'initblock', 'billingblock', 'minimal_time'])
      .where('plan_id', '=', planId).where('id', '>', lastId).orderBy('id').limit(LOAD_BATCH_ROWS).execute();
    for (const r of rows) {
      table.set({
        prefix: r.prefix, destination: r.destination, rateMicros: Number(r.rate_micros), connectChargeMicros: Number(r.connect_charge_micros),
        initblock: r.initblock, billingblock: r.billingblock, minimalTime: r.minimal_time,
      });
    }
    if (rows.length < LOAD_BATCH_ROWS) break;
    lastId = Number(rows[rows.length - 1].id);
  }
  return table;
}
