// Small validators shared by services: each throws a 400 that names the field.
import { badRequest } from '../errors.js';
import { MAX_AMOUNT_MICROS, MoneyFormatError, parseMoney, type Micros } from '../money.js';

export function requiredString(value: unknown, field: string, maxLength = 200): string {
  if (typeof value !== 'string' || value.trim() === '') throw badRequest(field, 'is required');
  if (value.length > maxLength) throw badRequest(field, `must be at most ${maxLength} characters`);
  return value.trim();
}

export function optionalString(value: unknown, field: string, maxLength = 200): string | undefined {
  if (value === undefined || value === null) return undefined;
  return requiredString(value, field, maxLength);
}

export function positiveInt(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw badRequest(field, 'must be a positive integer');
  return n;
}

export function intInRange(value: unknown, field: string, min: number, max: number, fallback?: number): number {
  if ((value === undefined || value === null || value === '') && fallback !== undefined) return fallback;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw badRequest(field, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function money(value: unknown, field: string, opts: { min?: Micros; allowZero?: boolean } = {}): Micros {
  if (value === undefined || value === null || value === '') throw badRequest(field, 'is required');
  let micros: Micros;
  try {
    micros = parseMoney(value);
  } catch (err) {
    if (err instanceof MoneyFormatError) throw badRequest(field, err.message);
    throw err;
  }
  const min = opts.min ?? 0n;
  if (micros < min || (micros === 0n && opts.allowZero === false)) {
    throw badRequest(field, opts.allowZero === false ? 'must be greater than 0' : `must be at least ${min}`);
  }
  if (micros > MAX_AMOUNT_MICROS || micros < -MAX_AMOUNT_MICROS) throw badRequest(field, 'is too large');
  return micros;
}

export function optionalMoney(value: unknown, field: string, fallback: Micros): Micros {
  if (value === undefined || value === null || value === '') return fallback;
  return money(value, field);
}

export function bool(value: unknown, field: string, fallback?: boolean): boolean {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (value === true || value === 1 || value === '1' || value === 'true') return true;
  if (value === false || value === 0 || value === '0' || value === 'false') return false;
  throw badRequest(field, 'must be true or false');
}

export const MAX_PAGE_LIMIT = 500;

/** A `limit` of at least 1; above `max` it is clamped to `max` (CONTRACT §2). */
export function clampedLimit(value: unknown, max: number, fallback: number, field = 'limit'): number {
  return Math.min(intInRange(value, field, 1, Number.MAX_SAFE_INTEGER, fallback), max);
}

/**
 * `limit` (default 50) and `offset` of list endpoints (CONTRACT §2). A limit above the maximum
 * is clamped to it, as the hosted service does, rather than refused: a script asking for 1000
 * gets 500 and the total, and pages on.
 */
export function paging(query: { limit?: unknown; offset?: unknown }, defaultLimit = 50): { limit: number; offset: number } {
  return {
    limit: clampedLimit(query.limit, MAX_PAGE_LIMIT, defaultLimit),
    offset: intInRange(query.offset, 'offset', 0, 1_000_000_000, 0),
  };
}

export const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;

export function login(value: unknown, field = 'login'): string {
  if (typeof value !== 'string' || !LOGIN_RE.test(value)) {
    throw badRequest(field, 'must be 3-32 characters: letters, digits, dot, dash or underscore');
  }
  if (/_(web|ipa)\d+$/.test(value)) throw badRequest(field, 'must not end like a service account (_webN, _ipaN)');
  return value;
}
