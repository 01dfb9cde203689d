// Small validators shared by services: each throws a 400 that names the field.
import { badRequest } from '../errors.js';
import { parseTimestamp } from './time.js';
import { formatMoney, MAX_AMOUNT_MICROS, MoneyFormatError, MoneyRangeError, parseMoney, type Micros } from '../money.js';

export function requiredString(value: unknown, field: string, maxLength = 200): string {
  if (typeof value !== 'string' || value.trim() === '') throw badRequest(field, 'is required');
  if (value.length > maxLength) throw badRequest(field, `must be at most ${maxLength} characters`);
  return value.trim();
}

export function optionalString(value: unknown, field: string, maxLength = 200): string | undefined {
  if (value === undefined || value === null) return undefined;
  return requiredString(value, field, maxLength);
}

/**
 * Optional short text that a machine may also send as a number (Asterisk's hangup cause `16`).
 * Lists, objects and booleans are refused: their text forms are not what the caller meant.
 */
export function optionalText(value: unknown, field: string, maxLength = 200): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return requiredString(String(value), field, maxLength);
  if (typeof value !== 'string') throw badRequest(field, 'must be text or a number');
  return requiredString(value, field, maxLength);
}

/** The instants a caller may give: from 2000-01-01 up to (not including) 2100-01-01, UTC. */
export const EARLIEST_INSTANT_MS = Date.UTC(2000, 0, 1);
export const END_OF_INSTANTS_MS = Date.UTC(2100, 0, 1);

/**
 * A point in time: epoch seconds (a number, or digits with up to 6 decimals, as Asterisk gives
 * them), `YYYY-MM-DD HH:MM:SS` in the billing timezone, or ISO 8601 with an offset. Anything
 * outside 2000-2099 is a broken clock or a broken field, and refused rather than stored.
 */
export function instant(value: unknown, field: string): Date {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else if (typeof value === 'string' && /^\d{1,12}(\.\d{1,6})?$/.test(value.trim())) {
    ms = Number(value.trim()) * 1000;
  } else if (typeof value === 'string' && value.length <= 40) {
    ms = parseTimestamp(value.trim())?.getTime() ?? Number.NaN;
  } else {
    ms = Number.NaN;
  }
  if (Number.isNaN(ms)) throw badRequest(field, 'must be YYYY-MM-DD HH:MM:SS, ISO 8601 with offset, or epoch seconds');
  if (!(ms >= EARLIEST_INSTANT_MS && ms < END_OF_INSTANTS_MS)) {
    throw badRequest(field, 'must lie from 2000-01-01 to 2099-12-31 (epoch seconds 946684800 to 4102444799)');
  }
  return new Date(Math.floor(ms));
}

/** A calendar day of the billing timezone: the instant it starts (local midnight) and the one the next day starts. */
export interface LocalDay {
  start: Date;
  next: Date;
}

/**
 * An optional day `YYYY-MM-DD` in the billing timezone, as the `starttime` of the lists shows
 * time. Its bounds are the local midnights (a day of a clock change lasts 23 or 25 hours), so a
 * range of days ends before the `next` of its last. Days outside 2000-2099 are refused, as
 * `instant` refuses such times: nothing stored lies there.
 */
export function optionalDay(value: unknown, field: string): LocalDay | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = typeof value === 'string' ? value.trim() : '';
  const start = /^20\d{2}-\d{2}-\d{2}$/.test(text) ? parseTimestamp(`${text} 00:00`) : null;
  if (!start) throw badRequest(field, 'must be a date YYYY-MM-DD from 2000-01-01 to 2099-12-31');
  return { start, next: new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1) };
}

/** Caller text as the literal part of a LIKE pattern whose escape character is the backslash: `%` and `_` match only themselves. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

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

/** An amount as a caller would write it: `9999.999999`, `0`, `-5.5`. */
function plainAmount(micros: Micros): string {
  return formatMoney(micros, 6).replace(/\.?0+$/, '');
}

export interface MoneyOptions {
  /** Smallest accepted amount (default 0). */
  min?: Micros;
  /** false: 0 is refused too. */
  allowZero?: boolean;
  /** Largest magnitude accepted: the money range (default) or the tariff range (MAX_RATE_MICROS). */
  max?: Micros;
}

export function money(value: unknown, field: string, opts: MoneyOptions = {}): Micros {
  if (value === undefined || value === null || value === '') throw badRequest(field, 'is required');
  let micros: Micros;
  try {
    micros = parseMoney(value, opts.max ?? MAX_AMOUNT_MICROS);
  } catch (err) {
    if (err instanceof MoneyRangeError) {
      const lowest = opts.min !== undefined && opts.min > -err.maxMicros ? opts.min : -err.maxMicros;
      throw badRequest(field, `must be from ${plainAmount(opts.min === undefined ? 0n : lowest)} to ${plainAmount(err.maxMicros)}`, 'AMOUNT_OUT_OF_RANGE');
    }
    if (err instanceof MoneyFormatError) throw badRequest(field, err.message);
    throw err;
  }
  const min = opts.min ?? 0n;
  if (micros < min || (micros === 0n && opts.allowZero === false)) {
    throw badRequest(field, opts.allowZero === false ? 'must be greater than 0' : `must be at least ${plainAmount(min)}`);
  }
  return micros;
}

export function optionalMoney(value: unknown, field: string, fallback: Micros, opts: MoneyOptions = {}): Micros {
  if (value === undefined || value === null || value === '') return fallback;
  return money(value, field, opts);
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

/**
 * A page of a list that can also be walked by cursor: `after` is the `next` of an earlier answer,
 * the position after its last row (keyset paging on the row id: each page costs the same however
 * deep it is, and rows added meanwhile neither repeat nor shift one). `offset` keeps its meaning
 * beside it, for the pages a caller jumps to; given with `after`, it would count from the cursor,
 * which nobody means: that is refused rather than guessed.
 */
export interface CursorPage {
  limit: number;
  offset: number;
  /** Id of the last row of the previous page; the page starts past it. */
  afterId: number | null;
}

const CURSOR_PREFIX = 'id:';
const CURSOR_RE = /^[A-Za-z0-9_-]{1,40}$/;

/** The opaque cursor of the position just past the row with this id. */
export function cursorAfter(id: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`, 'utf8').toString('base64url');
}

/** The row id a cursor stands for; 400 naming `after` for anything no answer ever gave. */
export function cursorId(value: unknown, field = 'after'): number {
  const refuse = () => badRequest(field, 'must be the `next` cursor of an earlier answer of this list');
  if (typeof value !== 'string' || !CURSOR_RE.test(value)) throw refuse();
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const m = /^id:([1-9]\d{0,15})$/.exec(text);
  if (!m || !Number.isSafeInteger(Number(m[1])) || cursorAfter(Number(m[1])) !== value) throw refuse();
  return Number(m[1]);
}

/** `limit`, `offset` and `after` of a list that pages by cursor too. */
export function cursorPaging(query: { limit?: unknown; offset?: unknown; after?: unknown }, defaultLimit = 50): CursorPage {
  const { limit, offset } = paging(query, defaultLimit);
  const given = query.after !== undefined && query.after !== null && query.after !== '';
  if (given && offset > 0) throw badRequest('offset', 'must be 0 or absent when after is given: the cursor already says where the page starts');
  return { limit, offset, afterId: given ? cursorId(query.after) : null };
}

/**
 * One page of rows read with `limit + 1` (the extra row only says that more follow), and the
 * cursor of the next page: past the page's last row, or null when this page is the last.
 */
export function pageWithNext<R>(rows: R[], limit: number, idOf: (row: R) => number): { rows: R[]; next: string | null } {
  if (rows.length <= limit) return { rows, next: null };
  const page = rows.slice(0, limit);
  return { rows: page, next: cursorAfter(idOf(page[page.length - 1])) };
}

export const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;

export function login(value: unknown, field = 'login'): string {
  if (typeof value !== 'string' || !LOGIN_RE.test(value)) {
    throw badRequest(field, 'must be 3-32 characters: letters, digits, dot, dash or underscore');
  }
  if (/_(web|ipa)\d+$/.test(value)) throw badRequest(field, 'must not end like a service account (_webN, _ipaN)');
  return value;
}

/** How deep caller input may nest: a body or query field is level 1, an element of it level 2. */
export const MAX_INPUT_DEPTH = 32;

export interface InputProblem {
  /** The field as a caller names it: `name`, `rates[3].destination`; the top field when too deep. */
  field: string;
  code: 'INPUT_TOO_DEEP' | 'INVALID_CHARACTERS';
  message: string;
}

interface InputNode { value: unknown; key: string | number; parent: InputNode | null; depth: number }

function fieldPath(node: InputNode): string {
  const parts: string[] = [];
  for (let n: InputNode | null = node; n; n = n.parent) {
    parts.push(typeof n.key === 'number' ? `[${n.key}]` : (n.parent ? `.${n.key}` : n.key));
  }
  return parts.reverse().join('').replaceAll('\u0000', '\\u0000');
}

function topField(node: InputNode): string {
  let n = node;
  while (n.parent) n = n.parent;
  return String(n.key).replaceAll('\u0000', '\\u0000');
}

/**
 * What no service should ever see in caller input, checked once for every request: nesting
 * deeper than MAX_INPUT_DEPTH (recursive code over it would exhaust the stack) and NUL
 * characters in text or field names (PostgreSQL text cannot hold them). Walks with its own
 * stack, so input of any depth is safe to check. Null when the input is fine.
 */
export function findInputProblem(input: Record<string, unknown>, maxDepth = MAX_INPUT_DEPTH): InputProblem | null {
  const pending: InputNode[] = [];
  const pushChildren = (value: object, parent: InputNode | null, depth: number): InputProblem | null => {
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push({ value: value[i], key: i, parent, depth });
      return null;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const node = { value: (value as Record<string, unknown>)[keys[i]], key: keys[i], parent, depth };
      if (keys[i].includes('\u0000')) return invalidCharacters(node);
      pending.push(node);
    }
    return null;
  };
  const invalidCharacters = (node: InputNode): InputProblem => {
    const field = fieldPath(node);
    return { field, code: 'INVALID_CHARACTERS', message: `${field}: must not contain NUL (\\u0000) characters` };
  };
  let problem = pushChildren(input, null, 1);
  while (!problem && pending.length > 0) {
    const node = pending.pop()!;
    if (typeof node.value === 'string') {
      if (node.value.includes('\u0000')) problem = invalidCharacters(node);
    } else if (node.value !== null && typeof node.value === 'object') {
      if (node.depth >= maxDepth) {
        const field = topField(node);
        problem = { field, code: 'INPUT_TOO_DEEP', message: `${field}: nested more than ${maxDepth} levels deep; send plain values, lists or objects of them` };
      } else {
        problem = pushChildren(node.value, node, node.depth + 1);
      }
    }
  }
  return problem;
}
