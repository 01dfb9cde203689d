// Pacing of a long write (the CSV import) into a SQLite database a running server also writes.
// SQLite has one writer: a transaction of the import holds the server's authorize/cdr commits
// out, and the server waits for the lock on its event loop (busy_timeout sleeps in the thread).
// So the import commits in short chunks and, while another connection is writing (its commits
// move the file's data_version, and our BEGIN waits for its), holds the lock about 5 ms a chunk
// and then leaves it free five times as long: the server's batches (which wait for the lock on
// a timer, db/tx-batch.ts, not in SQLite's busy handler) get five sixths of it. Leaving three
// times as long held the switch path to 76-78% of its pace alone (five: 90%, the import 7%
// longer beside traffic); keeping 2/3 of the lock held it to ~40%: a batch of
// authorize/cdr that missed the gap waited out a whole chunk, and on two cores the import's
// CPU came out of the server's. Only the idle import has a time target; beside traffic the
// import takes longer, the calls do not. With nobody else writing,
// chunks hold it about 25 ms and leave a millisecond between them, in which a writer that starts
// gets in (and is then noticed).
import type SqliteDatabase from 'better-sqlite3';

/** How long one chunk holds the write lock: short while another writer is active, longer alone. */
const SHARED_HOLD_MS = 5;
const ALONE_HOLD_MS = 25;
/** While another writer is active, the gap after a chunk, as a share of the chunk's hold: the import keeps 1/6 of the lock. */
const SHARED_GAP_RATIO = 5;
const MIN_CHUNK_ROWS = 200;
const MAX_CHUNK_ROWS = 10_000;
/** After another writer's last sign, this long the import keeps yielding generously. */
const OTHERS_ACTIVE_WINDOW_MS = 1_000;
/** A BEGIN that waited this long met another writer (shorter waits are the group commit's own scheduling, seen alone too; another writer's commits show in data_version anyway). */
const CONTENDED_BEGIN_MS = 5;

const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
/**
 * Leaves the lock for `ms`: a plain thread sleep, not a timer. A timer's wake-up waits for the
 * event loop and, on a busy machine, came ~7 ms late for a 1 ms gap (7 s over a million rows);
 * the import process has nothing else to run meanwhile.
 */
const sleep = (ms: number) => { Atomics.wait(SLEEP_CELL, 0, 0, ms); };

export class SqliteWritePacer {
  readonly #sqlite: SqliteDatabase.Database;
  #dataVersion: number;
  #othersActiveUntil = 0;
  /** Rows per ms of lock held, from the last chunk. */
  #rowsPerMs = 0;
  /** Time spent leaving the lock to others, ms: for the import's summary. */
  yieldedMs = 0;

  constructor(sqlite: SqliteDatabase.Database) {
    this.#sqlite = sqlite;
    this.#dataVersion = this.#readDataVersion();
  }

  #readDataVersion(): number {
    return Number(this.#sqlite.pragma('data_version', { simple: true }));
  }

  /** Notes how long the chunk's BEGIN waited: a wait means another writer held the lock. */
  noteBeginWait(waitMs: number): void {
    if (waitMs >= CONTENDED_BEGIN_MS) this.#othersActiveUntil = performance.now() + OTHERS_ACTIVE_WINDOW_MS;
  }

  /** Rows for the next chunk: what fills the hold time of the current mode at the last chunk's pace. */
  chunkRows(): number {
    if (this.#rowsPerMs === 0) return MIN_CHUNK_ROWS * 5;
    const holdMs = performance.now() < this.#othersActiveUntil ? SHARED_HOLD_MS : ALONE_HOLD_MS;
    return Math.max(MIN_CHUNK_ROWS, Math.min(MAX_CHUNK_ROWS, Math.round(holdMs * this.#rowsPerMs)));
  }

  /** Between two chunks; the last one wrote `rows` holding the write lock `holdMs`. */
  between(rows: number, holdMs: number): void {
    if (holdMs > 0) this.#rowsPerMs = rows / holdMs;
    const version = this.#readDataVersion();
    const now = performance.now();
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#othersActiveUntil = now + OTHERS_ACTIVE_WINDOW_MS;
    }
    const gapMs = now < this.#othersActiveUntil ? Math.max(1, holdMs * SHARED_GAP_RATIO) : 1;
    const started = performance.now();
    sleep(gapMs);
    this.yieldedMs += performance.now() - started;
    // Commits made by others while we slept are theirs: read the version after the gap.
    const after = this.#readDataVersion();
    if (after !== this.#dataVersion) {
      this.#dataVersion = after;
      this.#othersActiveUntil = performance.now() + OTHERS_ACTIVE_WINDOW_MS;
    }
  }
}
