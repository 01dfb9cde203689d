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
