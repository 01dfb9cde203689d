// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever
// connection commits past `wal_autocheckpoint` pages, in that connection's thread: a server
// commit that met a WAL grown by a CSV import (another process) copied thousands of pages into
// the database file on the event loop that serves authorize/cdr, and every call waited seconds.
// So the connection that commits has `wal_autocheckpoint = 0`, and a thread of its own, with
// a connection of its own, runs a PASSIVE checkpoint on a timer: it copies what no reader still
// needs, never waits for a lock and never holds up a writer; the next writer after a complete
// checkpoint starts the WAL over from its beginning, so the WAL stays bounded by what is
// written between two ticks. Durability is untouched: a commit is on disk once its WAL frames
// are (WalSync), whether or not they have been copied yet.
//
// The thread's code is a few lines of plain JavaScript run with `eval`, not a module beside this
// file: it starts in milliseconds as built and under tsx alike (a .ts entry would load tsx's
// compiler into every thread of every test server), and it needs nothing but the driver.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints: the WAL holds at most about this long of writes, plus any a reader pins. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 100;

export interface CheckpointStats {
  /** PASSIVE checkpoints run. */
  runs: number;
  /** Frames copied into the database file, over all of them. */
  framesCopied: number;
  /** Frames in the WAL at the last one, and of those, copied (equal: the next writer starts the WAL over). */
  lastLogFrames: number;
  lastCheckpointedFrames: number;
  /** The last error the thread met (the database file gone, disk full), or null. */
  lastError: string | null;
}

const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// Its own checkpoints only, and never a wait in SQLite's busy handler: a PASSIVE checkpoint
// that finds another one running skips this tick.
db.pragma('wal_autocheckpoint = 0');
db.pragma('busy_timeout = 0');
const tick = () => {
  let reply;
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    reply = { log: r.log, checkpointed: r.checkpointed, busy: r.busy };
  } catch (err) {
    reply = { error: String(err && err.message || err) };
  }
  parentPort.postMessage(reply);
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'now') return tick();
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** A PASSIVE checkpoint of `file` every `intervalMs`, in a thread of its own. */
export class WalCheckpointer {
  readonly stats: CheckpointStats = { runs: 0, framesCopied: 0, lastLogFrames: 0, lastCheckpointedFrames: 0, lastError: null };
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  /** Frames of the WAL already counted as copied: a PASSIVE result counts from the WAL's start. */
  #counted = 0;
  #waiters: Array<() => void> = [];

  constructor(file: string, intervalMs = DEFAULT_CHECKPOINT_INTERVAL_MS) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { file, driver, intervalMs }, execArgv: [] });
    // Never what keeps a process alive: closing the database stops it.
    this.#worker.unref();
    this.#worker.on('message', (m: { log: number; checkpointed: number; busy: number } | { error: string }) => {
      this.stats.runs++;
      if ('error' in m) {
        this.stats.lastError = m.error;
      } else if (m.log >= 0) {
        // A smaller log than last time: the WAL was started over, its frames count from zero.
        if (m.log < this.stats.lastLogFrames || m.checkpointed < this.#counted) this.#counted = 0;
        this.stats.framesCopied += m.checkpointed - this.#counted;
        this.#counted = m.checkpointed;
        this.stats.lastLogFrames = m.log;
        this.stats.lastCheckpointedFrames = m.checkpointed;
      }
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    });
    // An error in the thread leaves checkpoints to the next start; it must not end the server.
    this.#worker.on('error', (err) => { this.stats.lastError = err.message; });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
  }

  /** Resolves after the thread's next checkpoint (asked at once): for tests and shutdown. */
  checkpointNow(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#worker.postMessage('now');
    });
  }

  async close(): Promise<void> {
    this.#worker.postMessage('stop');
    // The thread closes its connection and ends; if it is stuck, it is ended.
    const timeout = setTimeout(() => void this.#worker.terminate(), 5_000);
    await this.#exited;
    clearTimeout(timeout);
    for (const w of this.#waiters) w();
    this.#waiters = [];
  }
}
