// The portal's only way into Ledgerline: its public APIs with the agent's reseller key, as any
// third-party portal would call them. Bounded by a timeout; errors keep Ledgerline's stable code.
import type { PortalConfig } from './config.js';

export type ApiFamily = 'reseller' | 'sms' | 'esim';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

type Params = Record<string, string | number | boolean | undefined | null>;

export class LedgerlineApi {
  constructor(private readonly config: Pick<PortalConfig, 'apiUrl' | 'resellerApiKey' | 'apiTimeoutMs'>) {}

  get<T = any>(family: ApiFamily, endpoint: string, query: Params = {}): Promise<T> {
    return this.call('GET', family, endpoint, query);
  }

  /** `headers`: e.g. an Idempotency-Key, for endpoints whose retry key is a header. */
  post<T = any>(family: ApiFamily, endpoint: string, body: Params | Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<T> {
    return this.call('POST', family, endpoint, body, headers);
  }

  private async call<T>(method: 'GET' | 'POST', family: ApiFamily, endpoint: string, params: Record<string, unknown>, extraHeaders: Record<string, string> = {}): Promise<T> {
    const search = new URLSearchParams({ endpoint });
    // A query leaves out empty values; a body keeps them (null or "" clears a profile field).
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && (method === 'POST' || (v !== null && v !== ''))));
    if (method === 'GET') for (const [k, v] of Object.entries(clean)) search.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(`${this.config.apiUrl}/${family}-api/index.php?${search}`, {
        method,
        headers: { ...extraHeaders, 'X-API-Key': this.config.resellerApiKey, ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}) },
        body: method === 'POST' ? JSON.stringify(clean) : undefined,
        signal: AbortSignal.timeout(this.config.apiTimeoutMs),
      });
    } catch (e) {
      throw new ApiError(503, 'BILLING_UNREACHABLE', `Ledgerline did not answer: ${(e as Error).message}`);
    }
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(502, 'BAD_ANSWER', `Ledgerline answered HTTP ${res.status} without JSON`);
    }
    // Refusals: `{"success"|"ok": false, "error": message, "code", "field"?}`.
    if (!res.ok || body?.success === false || body?.ok === false) {
      throw new ApiError(res.status >= 400 ? res.status : 400, String(body?.code ?? 'ERROR'), String(body?.error ?? `HTTP ${res.status}`), body?.field);
    }
    return body as T;
  }
}
