// One error shape for every API: an HTTP status, a stable UPPER_SNAKE code and a sentence.

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * A bounded queue is full (SQLite's group commit, db/tx-batch.ts): nothing was applied, and
 * the same request may succeed shortly. Not an AppError: the layer that refuses knows no
 * protocol, and each edge says it in its own (HTTP 503 OVERLOADED, AGI LL_CDR_ERROR=OVERLOADED
 * with LL_CDR_RETRY=1, the CLI's exit status 1).
 */
export class OverloadedError extends Error {
  readonly code = 'OVERLOADED';

  /** The answer every edge gives it: 503, which tells the caller to send it again. */
  toAppError(): AppError {
    return new AppError(503, this.code, this.message);
  }
}

export const badRequest = (field: string, message: string, code = 'VALIDATION_ERROR') =>
  new AppError(400, code, `${field}: ${message}`, field);
export const unauthorized = (message = 'Missing or unknown API key') => new AppError(401, 'UNAUTHORIZED', message);
export const insufficientBalance = () => new AppError(402, 'INSUFFICIENT_BALANCE', 'Insufficient balance');
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const accountInactive = () => new AppError(403, 'ACCOUNT_INACTIVE', 'Account is inactive');
export const notFound = (what: string) => new AppError(404, 'NOT_FOUND', `${what} not found`);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const tooManyRequests = (message = 'Too many attempts, try again later') =>
  new AppError(429, 'RATE_LIMITED', message);
