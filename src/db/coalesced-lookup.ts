// Lookups by key that arrive in the same turn of the event loop, made with one query
// (PostgreSQL, where each query is a round trip and a wake-up of a backend). The query is sent
// once the turn is over, so it starts after every request that joined it arrived: each gets
// the same answer a query of its own, sent then, would have got (a key revoked or an account
// deactivated before a request arrived is seen by it). Waiting lookups are never shared with a
// later request: one arriving while a query is out joins the next one.
import { OverloadedError } from '../errors.js';

interface Waiter<Row> {
  resolve: (row: Row | undefined) => void;
  reject: (err: unknown) => void;
}

export interface CoalescedLookupLimits {
  /** Keys per query; more in one turn make more queries. */
  maxKeysPerQuery: number;
  /** Keys waiting beyond this are refused (503) rather than queued without bound. */
  maxWaiting: number;
}

export class CoalescedLookup<Row> {
  #waiting = new Map<string, Array<Waiter<Row>>>();
  #waitingCount = 0;
  #scheduled = false;

  /** `fetch` answers the rows of the keys given; `keyOf` names each row's key (one row per key). */
  constructor(
    private readonly fetch: (keys: string[]) => Promise<Row[]>,
    private readonly keyOf: (row: Row) => string,
    private readonly limits: CoalescedLookupLimits = { maxKeysPerQuery: 500, maxWaiting: 20_000 },
  ) {}

  get(key: string): Promise<Row | undefined> {
    if (this.#waitingCount >= this.limits.maxWaiting) return Promise.reject(new OverloadedError('Too many lookups waiting; retry shortly'));
    return new Promise((resolve, reject) => {
      const waiters = this.#waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.#waiting.set(key, [{ resolve, reject }]);
      this.#waitingCount++;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const batch = this.#waiting;
    this.#waiting = new Map();
    this.#waitingCount = 0;
    this.#scheduled = false;
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += this.limits.maxKeysPerQuery) {
      const chunk = keys.slice(i, i + this.limits.maxKeysPerQuery);
      this.fetch(chunk).then((rows) => {
        const byKey = new Map(rows.map((row) => [this.keyOf(row), row]));
        for (const key of chunk) for (const w of batch.get(key)!) w.resolve(byKey.get(key));
      }, (err: unknown) => {
        for (const key of chunk) for (const w of batch.get(key)!) w.reject(err);
      });
    }
  }
}
