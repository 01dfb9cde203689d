// Group commit for SQLite. Transactions commit with synchronous=NORMAL (no fsync of their
// own); before a write is acknowledged, `durable()` fsyncs the WAL file, and every commit that
// happened before that fsync began shares it. Same guarantee as synchronous=FULL — a write is
// on disk before its caller hears of it — at the cost of one fsync per batch instead of per
// transaction.
import fs from 'node:fs';

export class WalSync {
  #fd: number | null = null;
  /** The fsync in flight, and the one queued behind it for commits made meanwhile. */
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;

  constructor(private readonly walPath: string) {}

  durable(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#sync().finally(() => { this.#running = null; });
      return this.#running;
    }
    // An fsync is running; it may have started before our commit, so wait for the next one.
    if (!this.#queued) {
      this.#queued = this.#running.then(() => {
        this.#queued = null;
        return this.durable();
      });
    }
    return this.#queued;
  }

  async #sync(): Promise<void> {
    if (this.#fd === null) {
      try {
        this.#fd = fs.openSync(this.walPath, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing written yet
        throw err;
      }
    }
    const fd = this.#fd;
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }
}
