// The endpoint schemas at run time: the `input` schema validates every request before its
// handler runs, and the `output` schema (inside the family's envelope) serializes every
// success, so `/docs`, validation and the answers come from one definition. What that holds
// for: a request /docs refuses is refused, and a field /docs does not declare is never sent.
// What only the strict checks below keep honest: a declared answer field that is missing or of
// another type, and an error code /docs does not list (the services' range and format rules
// appear in /docs only as descriptions).
//
// Serialization writes only declared fields: a field a handler adds by mistake (a secret, a
// hash) is never sent. Under the test runner (or LEDGERLINE_STRICT_SCHEMAS=1) every answer is
// also checked against its schema with no undeclared field allowed, and every error against
// the statuses and codes `/docs` lists for the endpoint; a mismatch fails the request loudly
// (500 naming what to declare), so the tests keep the schemas exact.
import { CloneType, Type as T, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import fastJson from 'fast-json-stringify';
import { AppError, badRequest } from '../errors.js';
import type { ApiDefinition, Endpoint, ErrorCodes, Input } from './endpoint.js';

export interface EndpointRuntime {
  /** Throws a 400 VALIDATION_ERROR naming the first field the input schema refuses. */
  validate(input: Input): void;
  /** The success answer as JSON text, with only the declared fields. */
  serialize(payload: Record<string, unknown>): string;
  /**
   * The error to answer. Under strict checking, a status (or, for 401-499, a code) that `/docs`
   * does not list for this endpoint becomes a 500 saying what to declare.
   */
  checkError(err: AppError, httpMethod: string): AppError;
}

/** Strict checking of answers: on under `node --test`, or by LEDGERLINE_STRICT_SCHEMAS=1; off with =0. */
export function strictSchemas(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.LEDGERLINE_STRICT_SCHEMAS !== undefined) return env.LEDGERLINE_STRICT_SCHEMAS === '1';
  return env.NODE_TEST_CONTEXT !== undefined;
}

/** The whole success answer of an endpoint: the family's flag plus the handler's fields. */
export function successSchema(api: ApiDefinition, endpoint: Endpoint): TObject | null {
  if (!endpoint.output) return null;
  return T.Object({ [api.flag]: T.Literal(true), ...endpoint.output.properties }, { title: `${api.name}.${endpoint.name}` });
}

/** Every error status the endpoint can answer by this method, with its codes: the shared ones plus its own. */
export function errorCodesOf(api: ApiDefinition, e: Endpoint, method: 'get' | 'post'): Map<number, string[]> {
  const writes = method === 'post';
  const own: ErrorCodes = e.errors ?? {};
  const codes = new Map<number, Set<string>>();
  const add = (status: number, ...list: string[]) => {
    const set = codes.get(status) ?? new Set<string>();
    for (const c of list) set.add(c);
    codes.set(status, set);
  };
  add(400, 'VALIDATION_ERROR', 'INPUT_TOO_DEEP', 'INVALID_CHARACTERS', 'AMOUNT_OUT_OF_RANGE');
  // Any request may carry a body: reads may be POSTed (CONTRACT §2).
  add(400, 'INVALID_JSON', 'INVALID_BODY', 'UNSUPPORTED_BODY', 'BAD_REQUEST');
  add(401, 'UNAUTHORIZED');
  add(403, 'FORBIDDEN');
  // A state-changing call of an inactive account (CONTRACT §3).
  if (e.method === 'POST' && (api.name === 'client' || api.name === 'reseller')) add(403, 'ACCOUNT_INACTIVE');
  add(404, 'UNKNOWN_ENDPOINT');
  add(405, 'METHOD_NOT_ALLOWED');
  // A credit that would carry a balance past the money range (money.ts) is refused, not rounded.
  if (writes) add(409, 'IDEMPOTENCY_MISMATCH', 'CONFLICT', 'BALANCE_OUT_OF_RANGE');
  // Any request may carry a body, and any may meet a full write queue or a database busy past its wait.
  add(413, 'BODY_TOO_LARGE');
  add(503, 'OVERLOADED', 'DATABASE_BUSY');
  add(500, 'INTERNAL_ERROR');
  for (const [status, list] of Object.entries(own)) add(Number(status), ...(list ?? []));
  return new Map([...codes.entries()].sort((a, b) => a[0] - b[0]).map(([s, set]) => [s, [...set]]));
}

/** `/rates/0/prefix` → `rates[0].prefix`, the way services name nested fields. */
export function fieldOfPath(path: string): string {
  const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let field = '';
  for (const p of parts) field += /^\d+$/.test(p) ? `[${p}]` : (field ? `.${p}` : p);
  return field || 'body';
}

function expected(schema: TSchema | undefined): string {
  if (!schema) return 'valid';
  if (Array.isArray(schema.anyOf)) {
    // A union's description says what it admits ("A positive integer, as a number or …").
    const d = schema.description;
    if (typeof d === 'string') return /^[A-Z][a-z]/.test(d) ? d.charAt(0).toLowerCase() + d.slice(1) : d;
    return schema.anyOf.map((s: TSchema) => expected(s)).join(' or ');
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return 'an array';
  if (schema.type === 'object') return 'an object';
  if (schema.type === 'integer') return 'an integer';
  if (schema.type === 'number') return 'a number';
  if (schema.type === 'boolean') return 'true or false';
  if (schema.type === 'string') return schema.pattern ? `a string matching ${schema.pattern}` : 'a string';
  return 'valid';
}

function inputValidator(endpoint: Endpoint): (input: Input) => void {
  if (!endpoint.input) return () => {};
  const check = TypeCompiler.Compile(endpoint.input);
  return (input) => {
    if (check.Check(input)) return;
    const first = check.Errors(input).First();
    if (!first) throw badRequest('body', 'is not valid');
    const field = fieldOfPath(first.path);
    // A missing property is reported at its own path with `undefined` as the value.
    if (first.value === undefined) throw badRequest(field, 'is required');
    throw badRequest(field, `must be ${expected(first.schema)}`);
  };
}

/** A deep copy where every object admits no undeclared property: the strict check of answers. */
function closed<S extends TSchema>(schema: S): S {
  const copy = CloneType(schema);
  const walk = (s: TSchema) => {
    if (s.type === 'object' && s.properties) {
      if (s.additionalProperties === undefined) s.additionalProperties = false;
      for (const p of Object.values(s.properties as Record<string, TSchema>)) walk(p);
    }
    if (s.items) walk(s.items as TSchema);
    for (const k of ['anyOf', 'allOf', 'oneOf'] as const) if (Array.isArray(s[k])) for (const x of s[k]) walk(x);
  };
  walk(copy);
  return copy;
}

/**
 * The schema handed to fast-json-stringify: plain JSON, nullable values as `type: [t, "null"]`
 * (no run-time branch matching), and no `required` (a replayed answer stored before a field
 * existed still serializes; the strict check and `/docs` keep `required`).
 */
function forSerializer(schema: TSchema): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  const walk = (s: Record<string, any>): Record<string, any> => {
    delete s.required;
    delete s.pattern;
    if (s.properties) for (const k of Object.keys(s.properties)) s.properties[k] = walk(s.properties[k]);
    if (s.items) s.items = walk(s.items);
    if (Array.isArray(s.anyOf)) {
      s.anyOf = s.anyOf.map(walk);
      const nonNull = s.anyOf.filter((x: any) => x.type !== 'null');
      // Objects and arrays too: fast-json-stringify serializes `type: ['object', 'null']` with
      // a null check, where an anyOf makes it pick the branch with an ajv validator, compiled on
      // the first answer that has the field (about 10 ms) and run on every one after (the
      // switch's `rate`).
      const single = nonNull.length === 1 && ['string', 'integer', 'number', 'boolean', 'object', 'array'].includes(nonNull[0].type) && nonNull[0].const === undefined;
      if (single && s.anyOf.length === 2) {
        const { anyOf: _anyOf, ...rest } = s;
        return { ...rest, ...nonNull[0], type: [nonNull[0].type, 'null'] };
      }
    }
    return s;
  };
  return walk(plain);
}

function outputSerializer(api: ApiDefinition, endpoint: Endpoint, strict: boolean): (payload: Record<string, unknown>) => string {
  const schema = successSchema(api, endpoint);
  if (!schema) return (payload) => JSON.stringify(payload);
  const stringify = fastJson(forSerializer(schema) as never) as (v: unknown) => string;
  if (!strict) return stringify;
  const check: TypeCheck<TSchema> = TypeCompiler.Compile(closed(schema));
  return (payload) => {
    if (!check.Check(payload)) {
      const problems = [...check.Errors(payload)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message} (got ${JSON.stringify(e.value)})`);
      throw new Error(`${api.name}-api ${endpoint.name}: the answer does not match its output schema: ${problems.join('; ')}`);
    }
    return stringify(payload);
  };
}

function errorChecker(api: ApiDefinition, endpoint: Endpoint, strict: boolean): EndpointRuntime['checkError'] {
  // An endpoint not described yet (no `output`) is not checked; the /docs tests name it.
  if (!strict || !endpoint.output) return (err) => err;
  const byMethod = { get: errorCodesOf(api, endpoint, 'get'), post: errorCodesOf(api, endpoint, 'post') };
  return (err, httpMethod) => {
    if (err.status === 500) return err;
    const codes = byMethod[httpMethod === 'GET' || httpMethod === 'HEAD' ? 'get' : 'post'].get(err.status);
    // A 400 always names its field, whatever the service's field code; a 5xx is the server's
    // own condition. Only their status must be listed.
    if (codes && (err.status === 400 || err.status >= 500 || codes.includes(err.code))) return err;
    return new AppError(500, 'UNDOCUMENTED_ERROR', `${api.name}-api ${endpoint.name} answered ${err.status} ${err.code} (${err.message}), `
      + 'which /docs does not list: declare it in the endpoint\'s `errors`');
  };
}

/** Compiles every endpoint of an API family once, at start. */
export function compileApi(api: ApiDefinition, strict = strictSchemas()): Map<string, EndpointRuntime> {
  const compiled = new Map<string, EndpointRuntime>();
  for (const endpoint of api.endpoints) {
    compiled.set(endpoint.name, {
      validate: inputValidator(endpoint), serialize: outputSerializer(api, endpoint, strict), checkError: errorChecker(api, endpoint, strict),
    });
  }
  return compiled;
}
