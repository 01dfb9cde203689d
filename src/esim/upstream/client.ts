// The HTTP client of an eSIM Access style upstream (no SDK exists on npm). Every request is a
// JSON POST signed with `RT-AccessCode`, `RT-Timestamp` (ms), `RT-RequestID` (uuid) and
// `RT-Signature`: lower-case hex HMAC-SHA256, with the secret key, of timestamp + request id +
// access code + body. Requests are paced to the upstream's limit (8 a second by default), each
// has a timeout, and the idempotent ones (the package list, the queries) are retried with
// back-off on 429, 5xx and network errors. An order is not retried here: whether a lost
// answer placed it is asked by its transactionId (the purchase saga does).
import crypto from 'node:crypto';
import {
  UpstreamProtocolError, UpstreamUnavailable,
  type EsimUpstream, type OrderAnswer, type UpstreamPackage, type UpstreamProfile,
} from './upstream.js';

export interface EsimClientOptions {
  /** e.g. https://api.esimaccess.com/api/v1/open */
  baseUrl: string;
  accessCode: string;
  secretKey: string;
  requestsPerSecond?: number;
  timeoutMs?: number;
  /** Attempts of an idempotent request in all. */
  attempts?: number;
  /** First back-off; doubled for each retry (a Retry-After of the upstream wins). */
  backoffMs?: number;
}

export function signRequest(o: { accessCode: string; secretKey: string }, timestamp: string, requestId: string, body: string): string {
  return crypto.createHmac('sha256', o.secretKey).update(timestamp + requestId + o.accessCode + body).digest('hex');
}

interface Envelope<T> { success: boolean; errorCode: string | null; errorMsg: string | null; obj: T | null }

/** Error codes of eSIM Access that mean "retry later" rather than "refused". */
const BUSY_CODES = new Set(['900001', '900002', '900003']);

export class EsimAccessClient implements EsimUpstream {
  readonly #perSecond: number;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  #nextAt = 0;

  constructor(private readonly o: EsimClientOptions) {
    this.#perSecond = o.requestsPerSecond ?? 8;
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#attempts = o.attempts ?? 4;
    this.#backoffMs = o.backoffMs ?? 500;
  }

  /** Waits for this request's turn under the rate limit. */
  async #turn(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + 1000 / this.#perSecond;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }

  /** One signed POST; null for a retryable failure (with how long to wait), else the envelope. */
  async #once<T>(path: string, body: string): Promise<{ envelope: Envelope<T> } | { retryAfterMs: number | null; reason: string }> {
    await this.#turn();
    const timestamp = String(Date.now());
    const requestId = crypto.randomUUID();
    let res: Response;
    try {
      res = await fetch(`${this.o.baseUrl.replace(/\/+$/, '')}/${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json', 'RT-AccessCode': this.o.accessCode, 'RT-Timestamp': timestamp,
          'RT-RequestID': requestId, 'RT-Signature': signRequest(this.o, timestamp, requestId, body),
        },
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      return { retryAfterMs: null, reason: (err as Error).name === 'TimeoutError' ? 'timed out' : `unreachable (${(err as Error).message})` };
    }
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      await res.body?.cancel();
      return { retryAfterMs: Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 30_000) : null, reason: `HTTP ${res.status}` };
    }
    let envelope: Envelope<T>;
    try {
      envelope = await res.json() as Envelope<T>;
    } catch {
      throw new UpstreamProtocolError(`eSIM upstream ${path}: HTTP ${res.status} without a JSON answer`);
    }
    if (typeof envelope?.success !== 'boolean') throw new UpstreamProtocolError(`eSIM upstream ${path}: no success flag (HTTP ${res.status})`);
    if (!envelope.success && envelope.errorCode && BUSY_CODES.has(envelope.errorCode)) return { retryAfterMs: null, reason: `busy (${envelope.errorCode})` };
    return { envelope };
  }

  /** An idempotent request, retried with back-off; UpstreamUnavailable once the attempts are spent. */
  async #idempotent<T>(path: string, payload: unknown): Promise<Envelope<T>> {
    const body = JSON.stringify(payload);
    let reason = '';
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      const r = await this.#once<T>(path, body);
      if ('envelope' in r) return r.envelope;
      reason = r.reason;
      if (attempt < this.#attempts) await new Promise((res) => setTimeout(res, r.retryAfterMs ?? this.#backoffMs * 2 ** (attempt - 1)));
    }
    throw new UpstreamUnavailable(`eSIM upstream ${path}: ${reason} after ${this.#attempts} attempts`);
  }

  async listPackages(): Promise<UpstreamPackage[]> {
    const e = await this.#idempotent<{ packageList: UpstreamPackage[] }>('package/list', { locationCode: '', type: 'BASE' });
    if (!e.success || !Array.isArray(e.obj?.packageList)) throw new UpstreamProtocolError(`eSIM upstream package/list: ${e.errorCode} ${e.errorMsg}`);
    return e.obj!.packageList;
  }

  async order(transactionId: string, packageCode: string, price: number): Promise<OrderAnswer> {
    const body = JSON.stringify({ transactionId, amount: price, packageInfoList: [{ packageCode, count: 1, price }] });
    const r = await this.#once<{ orderNo: string }>('esim/order', body);
    // No answer: whether it was placed is not known here; the caller asks by transactionId.
    if (!('envelope' in r)) throw new UpstreamUnavailable(`eSIM upstream esim/order: ${r.reason}`);
    const e = r.envelope;
    if (e.success && typeof e.obj?.orderNo === 'string') return { placed: true, orderNo: e.obj.orderNo };
    if (!e.success) return { placed: false, errorCode: String(e.errorCode ?? 'UNKNOWN'), errorMsg: String(e.errorMsg ?? '') };
    throw new UpstreamProtocolError('eSIM upstream esim/order: success without an orderNo');
  }

  async orderOfTransaction(transactionId: string): Promise<string | null> {
    const e = await this.#idempotent<{ orderNo: string | null }>('esim/order/query', { transactionId });
    if (!e.success) throw new UpstreamProtocolError(`eSIM upstream esim/order/query: ${e.errorCode} ${e.errorMsg}`);
    return e.obj?.orderNo ?? null;
  }

  async profiles(orderNo: string): Promise<UpstreamProfile[]> {
    const e = await this.#idempotent<{ esimList: UpstreamProfile[] }>('esim/query', { orderNo, pager: { pageNum: 1, pageSize: 50 } });
    if (!e.success) throw new UpstreamProtocolError(`eSIM upstream esim/query: ${e.errorCode} ${e.errorMsg}`);
    return e.obj?.esimList ?? [];
  }
}
