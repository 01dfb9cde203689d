// What the client pages' forms and lists share: reading a form field, building a page's links,
// the one-time id each form carries, and the offset of a paged list.
import crypto from 'node:crypto';

/** A form or query field as text; anything else (absent, repeated) is empty. */
export const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** `path` with the query's non-empty values. */
export function withQuery(path: string, q: Record<string, string | undefined>): string {
  const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => Boolean(e[1])));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

/** One id per form shown: a double submit or a retried POST does its work once. */
export const formId = (kind: string) => `portal-${kind}-${crypto.randomBytes(12).toString('hex')}`;

/**
 * The Idempotency-Key of a form's id. Without one (a hand-made request) the work is still done,
 * once per request; an id longer than the API takes is not a form's.
 */
export const idempotencyHeader = (id: string): Record<string, string> => (id && id.length <= 200 ? { 'Idempotency-Key': id } : {});

/** A list's offset from the query: a whole number from 0 to `max` (deeper pages are the API's to export). */
export const offsetParam = (v: unknown, max: number) => Math.max(0, Math.min(max, Math.floor(Number(v) || 0)));
