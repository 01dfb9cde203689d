// The byte strings PHP providers sign. Plisio and Heleket compute their signatures in PHP over
// serialize() or json_encode() of the fields, not over the body they send, so a receiver has to
// rebuild PHP's exact bytes: serialize() counts string lengths in UTF-8 bytes, and json_encode()
// escapes "/" and non-ASCII by default where JSON.stringify does not.
//
// Callback JSON is parsed here with its own reader rather than JSON.parse, because JSON.parse
// loses what the signature covers: it moves integer-like keys to the front of an object and
// rewrites numbers (1.50 becomes 1.5), while the sender signed them as written.

/** A JSON value as received: objects keep their key order, numbers their text. */
export type JsonNode =
  | { t: 'object'; entries: Array<[string, JsonNode]> }
  | { t: 'array'; items: JsonNode[] }
  | { t: 'string'; v: string }
  | { t: 'number'; raw: string }
  | { t: 'literal'; raw: 'true' | 'false' | 'null' };

/** PHP's json_encode flags that change the bytes of the values the providers send. */
export interface JsonEncodeFlags {
  /** JSON_UNESCAPED_SLASHES: "/" as is instead of "\/". */
  unescapedSlashes?: boolean;
  /** JSON_UNESCAPED_UNICODE: UTF-8 as is instead of \uXXXX (U+2028/U+2029 stay escaped, as in PHP). */
  unescapedUnicode?: boolean;
  /** JSON_UNESCAPED_LINE_TERMINATORS: U+2028/U+2029 as is too (only with unescapedUnicode). */
  unescapedLineTerminators?: boolean;
}

/** What JSON.stringify writes, in json_encode's terms (the signature Plisio documents for Node). */
export const JS_STRINGIFY: JsonEncodeFlags = { unescapedSlashes: true, unescapedUnicode: true, unescapedLineTerminators: true };

const hex4 = (code: number) => code.toString(16).padStart(4, '0');

function encodeString(s: string, flags: JsonEncodeFlags): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x2f) out += flags.unescapedSlashes ? '/' : '\\/';
    else if (c < 0x20) {
      out += c === 0x08 ? '\\b' : c === 0x0c ? '\\f' : c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : `\\u${hex4(c)}`;
    } else if (c < 0x80) out += s[i];
    else if (c >= 0xd800 && c <= 0xdfff) {
      const low = s.charCodeAt(i + 1);
      // PHP refuses to encode a lone surrogate (JSON_ERROR_UTF16 / invalid UTF-8): so must we.
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) throw new SyntaxError('lone surrogate in a JSON string');
      out += flags.unescapedUnicode ? s[i] + s[i + 1] : `\\u${hex4(c)}\\u${hex4(low)}`;
      i++;
    } else if (!flags.unescapedUnicode) out += `\\u${hex4(c)}`;
    else if ((c === 0x2028 || c === 0x2029) && !flags.unescapedLineTerminators) out += `\\u${hex4(c)}`;
    else out += s[i];
  }
  return out + '"';
}

/** Writes a received JSON value back as json_encode would, keys and number texts as received. */
export function encodeJsonNode(node: JsonNode, flags: JsonEncodeFlags = {}): string {
  switch (node.t) {
    case 'object': return `{${node.entries.map(([k, v]) => `${encodeString(k, flags)}:${encodeJsonNode(v, flags)}`).join(',')}}`;
    case 'array': return `[${node.items.map((v) => encodeJsonNode(v, flags)).join(',')}]`;
    case 'string': return encodeString(node.v, flags);
    case 'number': case 'literal': return node.raw;
  }
}

/** A JS value as a JsonNode (numbers written as JSON.stringify writes them). */
export function jsonNodeOf(value: unknown): JsonNode {
  return toNode(value);
}

function toNode(value: unknown): JsonNode {
  if (value === null) return { t: 'literal', raw: 'null' };
  if (typeof value === 'boolean') return { t: 'literal', raw: value ? 'true' : 'false' };
  if (typeof value === 'string') return { t: 'string', v: value };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('json_encode cannot write a non-finite number');
    return { t: 'number', raw: String(value) };
  }
  if (Array.isArray(value)) return { t: 'array', items: value.map((v) => (v === undefined ? { t: 'literal', raw: 'null' } : toNode(v))) };
  if (typeof value === 'object') {
    // Skipped like JSON.stringify does, so an optional field can be left undefined.
    return { t: 'object', entries: Object.entries(value as object).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toNode(v)]) };
  }
  throw new TypeError(`json_encode cannot write a ${typeof value}`);
}

/**
 * PHP's json_encode() of a JS value (default flags unless given): "/" as "\/", non-ASCII as
 * lower-case \uXXXX (surrogate pairs for astral characters). Keys in the object's own order;
 * numbers as JSON.stringify writes them.
 */
export function phpJsonEncode(value: unknown, flags: JsonEncodeFlags = {}): string {
  return encodeJsonNode(toNode(value), flags);
}

/** PHP json_decode's nesting limit: deeper input is refused there, and never signed. */
const MAX_DEPTH = 512;

/**
 * Parses RFC 8259 JSON into a JsonNode, strictly (no BOM, no trailing text, no lone surrogates,
 * as json_decode refuses them). A repeated key keeps its first place and its last value, as in
 * both PHP and JSON.parse. Throws SyntaxError.
 */
export function parseOrderedJson(text: string): JsonNode {
  let i = 0;
  const fail = (what: string): never => { throw new SyntaxError(`JSON: ${what} at ${i}`); };
  const ws = () => { while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++; };
  const str = (): string => {
    i++; // the opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { i++; break; }
      if (c < 0x20) fail('control character in a string');
      if (c !== 0x5c) {
        if (c >= 0xd800 && c <= 0xdfff) {
          const low = text.charCodeAt(i + 1);
          if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) fail('lone surrogate');
          out += text[i] + text[i + 1];
          i += 2;
        } else { out += text[i]; i++; }
        continue;
      }
      const e = text[i + 1];
      i += 2;
      if (e === '"') out += '"';
      else if (e === '\\') out += '\\';
      else if (e === '/') out += '/';
      else if (e === 'b') out += '\b';
      else if (e === 'f') out += '\f';
      else if (e === 'n') out += '\n';
      else if (e === 'r') out += '\r';
      else if (e === 't') out += '\t';
      else if (e === 'u') {
        const unit = () => {
          const h = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
          i += 4;
          return parseInt(h, 16);
        };
        const u = unit();
        if (u >= 0xdc00 && u <= 0xdfff) fail('lone surrogate');
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone surrogate');
          i += 2;
          const low = unit();
          if (!(low >= 0xdc00 && low <= 0xdfff)) fail('lone surrogate');
          out += String.fromCharCode(u, low);
        } else out += String.fromCharCode(u);
      } else fail('bad escape');
    }
    return out;
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: Array<[string, JsonNode]> = [];
      const at = new Map<string, number>();
      ws();
      if (text[i] === '}') { i++; return { t: 'object', entries }; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = str();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        const v = value(depth + 1);
        const seen = at.get(key);
        if (seen === undefined) { at.set(key, entries.length); entries.push([key, v]); } else entries[seen][1] = v;
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { t: 'object', entries }; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') { i++; return { t: 'array', items }; }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return { t: 'array', items }; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return { t: 'string', v: str() };
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const m = number.exec(text);
    if (m && m[0] !== '' && m[0] !== '-') { i += m[0].length; return { t: 'number', raw: m[0] }; }
    for (const raw of ['true', 'false', 'null'] as const) {
      if (text.startsWith(raw, i)) { i += raw.length; return { t: 'literal', raw }; }
    }
    return fail('unexpected character');
  };
  const root = value(1);
  ws();
  if (i !== text.length) fail('trailing text');
  return root;
}

/** A field of a received object as a string: a string as is, a number as written; else undefined. */
export function scalarField(node: JsonNode, key: string): string | undefined {
  if (node.t !== 'object') return undefined;
  const entry = node.entries.find(([k]) => k === key);
  if (!entry) return undefined;
  const v = entry[1];
  return v.t === 'string' ? v.v : v.t === 'number' ? v.raw : undefined;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A PHP array key: a canonical decimal integer string within PHP_INT range becomes an int key. */
function serializeKey(key: string): string {
  if (/^(0|-?[1-9]\d*)$/.test(key)) {
    const n = BigInt(key);
    if (n >= INT64_MIN && n <= INT64_MAX) return `i:${key};`;
  }
  return `s:${utf8Length(key)}:"${key}";`;
}

/**
 * PHP's serialize() of strings, numbers, booleans, null, arrays and plain objects (the latter as
 * PHP arrays, keys in their order). String lengths count UTF-8 bytes, as PHP strings are bytes.
 */
export function phpSerialize(value: unknown): string {
  if (value === null || value === undefined) return 'N;';
  if (typeof value === 'boolean') return `b:${value ? 1 : 0};`;
  if (typeof value === 'string') return `s:${utf8Length(value)}:"${value}";`;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return `i:${value};`;
    if (Number.isNaN(value)) return 'd:NAN;';
    if (!Number.isFinite(value)) return value > 0 ? 'd:INF;' : 'd:-INF;';
    return `d:${value};`;
  }
  return phpSerializeArray(Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as object));
}

/** PHP's serialize() of an array given as key/value pairs in PHP's order (a JS object would move integer-like keys first). */
export function phpSerializeArray(pairs: Array<[string, unknown]>): string {
  return `a:${pairs.length}:{${pairs.map(([k, v]) => serializeKey(k) + phpSerialize(v)).join('')}}`;
}
