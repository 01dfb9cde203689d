// Pacing of a long write (the CSV import) into a SQLite database a running server also writes.
// SQLite has one writer: a transaction of the import holds the server's authorize/cdr commits
// out, and the server waits for the lock on its event loop (busy_timeout sleeps in the thread).
// So the import commits in short chunks and, while another connection is writing (its commits
// move the file's data_version, and our BEGIN waits for its), leaves the lock free between
// chunks for as long as a chunk held it: the server's waits stay a few ms, and the import keeps
// half the lock. With nobody else writing it only leaves a millisecond, to notice one that starts.
import type SqliteDatabase from 'better-sqlite3';

/** After another writer's last sign, this long the import keeps yielding generously. */
const OTHERS_ACTIVE_WINDOW_MS = 1_000;
/** A BEGIN that waited this long met another writer. */
const CONTENDED_BEGIN_MS = 0.5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SqliteWritePacer {
  readonly #sqlite: SqliteDatabase.Database;
  #dataVersion: number;
  #othersActiveUntil = 0;
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

  /** Between two chunks; `holdMs` is how long the last one held the write lock. */
  async between(holdMs: number): Promise<void> {
    const version = this.#readDataVersion();
    const now = performance.now();
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#othersActiveUntil = now + OTHERS_ACTIVE_WINDOW_MS;
    }
    const gapMs = now < this.#othersActiveUntil ? Math.max(1, holdMs) : 1;
    const started = performance.now();
    await sleep(gapMs);
    this.yieldedMs += performance.now() - started;
    // Commits made by others while we slept are theirs: read the version after the gap.
    const after = this.#readDataVersion();
    if (after !== this.#dataVersion) {
      this.#dataVersion = after;
      this.#othersActiveUntil = performance.now() + OTHERS_ACTIVE_WINDOW_MS;
    }
  }
}
