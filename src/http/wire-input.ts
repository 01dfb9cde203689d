// What a request says, whatever way its client said it (CONTRACT §2). Clients written against
// the original document in the habits of PHP and shell scripts send JSON without a
// Content-Type (`curl -d '{…}'` labels it form-urlencoded; PHP's CURLOPT_POSTFIELDS too), form
// and multipart bodies, and parameters in the query string of a POST. All of them mean the
// same request: parameters come from the query string and the body, body fields winning.
import { AppError } from '../errors.js';

/** The body as it arrived; parsed by the API pipeline, so a bad one answers in the API's envelope. */
export class RawBody {
  constructor(readonly contentType: string | null, readonly bytes: Buffer) {}
}

/** Fields that name a login: `"login":1234567892` is the login "1234567892". */
const LOGIN_FIELDS = ['login', 'client_login', 'sip_login'] as const;

const invalidJson = (message = 'body: not valid JSON') => new AppError(400, 'INVALID_JSON', message, 'body');

function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function jsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidJson();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidJson('body: must be a JSON object');
  return parsed as Record<string, unknown>;
}

function formFields(entries: Iterable<[string, FormDataEntryValue | string]>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    if (typeof value !== 'string') throw new AppError(400, 'UNSUPPORTED_BODY', `${name}: file uploads are not accepted`, name);
    // A repeated field keeps its last value, as PHP's $_POST does.
    fields[name] = value;
  }
  return fields;
}

const looksLikeJson = (text: string) => /^\s*[{[]/.test(text);

/** The body's fields: JSON whatever the Content-Type says (or none), else a form or multipart body. */
export async function parseBody(body: RawBody): Promise<Record<string, unknown>> {
  const type = mediaType(body.contentType);
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body.bytes), { headers: { 'content-type': body.contentType! } }).formData();
    } catch {
      throw new AppError(400, 'INVALID_BODY', 'body: not a valid multipart/form-data body', 'body');
    }
    return formFields(form.entries());
  }
  const text = body.bytes.toString('utf8');
  if (text.trim() === '') return {};
  if (looksLikeJson(text)) return jsonObject(text);
  if (type === 'application/x-www-form-urlencoded' || (type === '' && /^[^=&\s]+=/.test(text))) {
    return formFields(new URLSearchParams(text).entries());
  }
  return jsonObject(text);
}

/**
 * One request's parameters: the query string's (without `endpoint`), then the body's on top.
 * Logins given as JSON numbers become their digits.
 */
export function requestInput(query: Record<string, unknown>, body: Record<string, unknown> | null): Record<string, unknown> {
  const input: Record<string, unknown> = { ...query, ...(body ?? {}) };
  delete input.endpoint;
  for (const field of LOGIN_FIELDS) {
    const value = input[field];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) input[field] = String(value);
  }
  return input;
}
