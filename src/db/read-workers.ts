// Heavy reads on a SQLite file, run by worker threads (read-worker-thread.ts), each with its own
// read-only connection: the query is compiled here, its SQL and parameters go to a free worker,
// its rows come back by message. The event loop only posts and receives. At most
// `concurrency` workers exist; one is started when a read finds none idle, and kept.
// A worker that dies (crash, or stopped at a read's deadline) is dropped, its read answered, and
// the next read starts a new one. A read stopped at its deadline may still hold its thread until
// SQLite returns from the step it is in: that thread ends then, and is no longer counted.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ReadSlots, type HeavyReadLimits, type HeavyReads, type ReadQuery } from './heavy-reads.js';
import type { ReadReply, ReadRequest, ReadWorkerData } from './read-worker-thread.js';

/**
 * The worker's entry beside this file: .js when built (dist/), .ts when run from source
 * under tsx (tests, the CLI from a checkout).
 */
export const defaultReadWorkerEntry = (): URL =>
  new URL(`./read-worker-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

function startWorker(entry: URL, data: ReadWorkerData): Worker {
  if (entry.pathname.endsWith('.ts')) {
    // A worker does not inherit its parent's loader hooks (tsx's): it registers them itself
    // before importing the TypeScript entry.
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
    return new Worker(boot, { eval: true, workerData: data, execArgv: [] });
  }
  // execArgv: none of the parent's flags (profiling, --test...) belong to a reader thread.
  return new Worker(entry, { workerData: data, execArgv: [] });
}

class ReadWorker {
  readonly worker: Worker;
  alive = true;
  #nextId = 0;
  #pending: { id: number; resolve: (rows: unknown[]) => void; reject: (err: unknown) => void } | null = null;

  constructor(entry: URL, file: string, private readonly onGone: (w: ReadWorker, err?: Error) => void) {
    this.worker = startWorker(entry, { file });
    this.worker.on('message', (reply: ReadReply) => {
      const pending = this.#pending;
      if (!pending || pending.id !== reply.id) return;
      this.#pending = null;
      this.worker.unref();
      if ('rows' in reply) pending.resolve(reply.rows);
      else pending.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, code: reply.error.code }));
    });
    this.worker.on('error', (err) => this.#gone(new Error(`heavy read worker failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => this.#gone(new Error(`heavy read worker exited (code ${code})`)));
  }

  run(sql: string, parameters: readonly unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      this.#pending = { id, resolve, reject };
      // Referenced while it reads: the process does not exit under a read in progress.
      this.worker.ref();
      const req: ReadRequest = { id, sql, parameters };
      this.worker.postMessage(req);
    });
  }

  /** Stops the thread (a read past its deadline, or closing); its read is answered at once. */
  stop(reason: Error): void {
    this.#gone(reason, true);
    void this.worker.terminate();
  }

  #gone(err: Error, expected = false): void {
    if (!this.alive) return;
    this.alive = false;
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(err);
    this.onGone(this, expected ? undefined : err);
  }
}

export class SqliteReadWorkers implements HeavyReads {
  readonly slots: ReadSlots;
  #idle: ReadWorker[] = [];
  #all = new Set<ReadWorker>();
  #closed = false;

  constructor(
    private readonly file: string,
    limits: HeavyReadLimits,
    private readonly opts: { log?: Logger; entry?: URL } = {},
  ) {
    this.slots = new ReadSlots(limits);
  }

  /** Worker threads alive now (for tests). */
  get workerCount(): number {
    return this.#all.size;
  }

  all<R>(query: ReadQuery<R>): Promise<R[]> {
    if (this.#closed) return Promise.reject(new Error('the database is closing'));
    const { sql, parameters } = query.compile();
    return this.slots.run(async (onTimeout) => {
      const worker = this.#idle.pop() ?? this.#start();
      onTimeout(() => worker.stop(new Error('heavy read stopped at its deadline')));
      try {
        return await worker.run(sql, parameters) as R[];
      } finally {
        if (worker.alive && !this.#closed) this.#idle.push(worker);
      }
    });
  }

  #start(): ReadWorker {
    const worker = new ReadWorker(this.opts.entry ?? defaultReadWorkerEntry(), this.file, (w, err) => {
      this.#all.delete(w);
      this.#idle = this.#idle.filter((x) => x !== w);
      if (err && !this.#closed) this.opts.log?.error({ err }, 'a heavy read worker died; the next read starts another');
    });
    this.#all.add(worker);
    return worker;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.slots.close();
    const workers = [...this.#all];
    for (const w of workers) w.stop(new Error('the database is closing'));
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
