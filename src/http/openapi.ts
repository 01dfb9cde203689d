// OpenAPI 3.1 description of every endpoint, generated from the endpoint definitions that also
// validate the requests and serialize the answers (schema-runtime.ts). What that ties, exactly:
// - Request fields: the input described is the schema every HTTP request is validated against
//   (names, required, JSON types). The services' own checks (ranges, formats, lengths) are
//   stricter, and appear here only in the descriptions' words, which can fall behind.
// - Success answers: the serializer writes only declared fields, so an undeclared one is never
//   sent. That every declared field is there with its type is checked only under strict schema
//   checking (the test runner, LEDGERLINE_STRICT_SCHEMAS=1); in production the serializer
//   omits a missing field and converts a mistyped one (5 → "5"), or fails the request (500)
//   when it cannot.
// - Error statuses and codes: an answer the list (errorCodesOf) lacks fails loudly only under
//   strict checking, so the list is as complete as the tests' reach.
// - /healthz and /readyz are described by hand below; /metrics and /docs are not described.
//
// The original document selects an operation with `?endpoint=NAME`. A query string cannot be
// part of an OpenAPI path (validators refuse it and client generators cannot call it), so each
// operation is described under its path form `/client-api/index.php/NAME`, which the server
// answers exactly like the query form; each operation names its query form in its description
// and in `x-query-form`.
import type { TSchema } from '@sinclair/typebox';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { errorCodesOf, successSchema } from './schema-runtime.js';

type Json = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed or invalid input; `field` names the field',
  401: 'Missing or unknown API key',
  402: 'Insufficient balance',
  403: 'The key may not do this, or a security rule forbids it',
  404: 'Not found (also another tenant\'s object), or no such endpoint',
  405: 'Wrong method for this endpoint (a write by GET)',
  409: 'Conflict: duplicate, already used, wrong state, or an idempotency key reused with other parameters',
  413: 'Request body too large',
  429: 'Too many attempts; wait and retry',
  500: 'Internal error; the request was not applied',
  503: 'Overloaded; retry shortly',
};

/** Plain JSON of a TypeBox schema (its symbols dropped). */
const plain = (schema: TSchema): Json => JSON.parse(JSON.stringify(schema)) as Json;

const camel = (...parts: string[]) => parts.join('-').split(/[^A-Za-z0-9]+/).filter(Boolean)
  .map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');

function errorResponse(api: ApiDefinition, status: number, codes: string[]): Json {
  return {
    description: `${STATUS_TEXT[status] ?? 'Error'}. Codes: ${codes.join(', ')}`,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: [api.flag, 'error', 'code'],
          properties: {
            [api.flag]: { const: false },
            error: { type: 'string', description: 'A sentence saying what went wrong and what to do' },
            code: { type: 'string', enum: codes },
            field: { type: 'string', description: 'The field at fault (400)' },
          },
        },
      },
    },
  };
}

/** Shared parts of the document: error responses and bodies are written once and referenced. */
interface Components { schemas: Record<string, Json>; responses: Record<string, Json>; byContent: Map<string, string> }

function sharedResponse(c: Components, api: ApiDefinition, status: number, codes: string[]): Json {
  const response = errorResponse(api, status, codes);
  const key = JSON.stringify(response);
  let name = c.byContent.get(key);
  if (!name) {
    const base = `${api.name}Error${status}`;
    name = base;
    for (let n = 2; c.responses[name]; n++) name = `${base}_${n}`;
    c.responses[name] = response;
    c.byContent.set(key, name);
  }
  return { $ref: `#/components/responses/${name}` };
}

function operation(c: Components, api: ApiDefinition, e: Endpoint, method: 'get' | 'post', schemaName: string | null): Json {
  const properties = (e.input?.properties ?? {}) as Record<string, TSchema>;
  const required = new Set(e.input?.required ?? []);
  const responses: Json = {
    200: schemaName
      ? { description: 'Success', content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName}` } } } }
      : { description: 'Success', content: { 'application/json': { schema: { type: 'object', required: [api.flag], properties: { [api.flag]: { const: true } } } } } },
  };
  for (const [status, codes] of errorCodesOf(api, e, method)) responses[status] = sharedResponse(c, api, status, codes);
  const op: Json = {
    // A read is also served by POST (CONTRACT §2): its POST operation gets the method in its id.
    operationId: camel(api.name, e.name, ...(e.method === 'BOTH' || (e.method === 'GET' && method === 'post') ? [method] : [])),
    tags: [api.title],
    summary: e.summary,
    description: `${e.summary}.\n\nServed at \`${api.basePath}/index.php/${e.name}\` and \`${api.basePath}/index.php?endpoint=${e.name}\`.`,
    'x-query-form': `${api.basePath}/index.php?endpoint=${e.name}`,
    'x-roles': e.roles,
    security: [{ ApiKey: [] }],
    parameters: [
      ...(method === 'get'
        ? Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: required.has(name), schema: plain(schema) }))
        : []),
      ...(method === 'post' && e.method !== 'GET'
        ? [{
          name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 },
          description: 'A retry with the same key returns the first answer and changes nothing',
        }]
        : []),
    ],
    responses,
  };
  if (method === 'post') {
    let body: Json = { type: 'object', properties: {} };
    if (e.input && schemaName) {
      const inputName = schemaName.replace(/Answer$/, 'Input');
      c.schemas[inputName] ??= plain(e.input);
      body = { $ref: `#/components/schemas/${inputName}` };
    }
    // The same fields as JSON (whatever the Content-Type says), a form or a multipart body; query
    // parameters are read too, the body's winning (CONTRACT §2).
    op.requestBody = {
      required: e.input !== undefined && required.size > 0,
      content: { 'application/json': { schema: body }, 'application/x-www-form-urlencoded': { schema: body }, 'multipart/form-data': { schema: body } },
    };
  }
  return op;
}

export function openApiDocument(apis: ApiDefinition[], version: string) {
  const paths: Record<string, Json> = {};
  const c: Components = { schemas: {}, responses: {}, byContent: new Map() };
  const schemas = c.schemas;
  for (const api of apis) {
    for (const e of api.endpoints) {
      const success = successSchema(api, e);
      const schemaName = success ? camel(api.name, e.name, 'answer').replace(/^./, (c) => c.toUpperCase()) : null;
      if (success && schemaName) schemas[schemaName] = plain(success);
      const methods: Array<'get' | 'post'> = e.method === 'POST' ? ['post'] : ['get', 'post'];
      const item: Json = {};
      for (const method of methods) item[method] = operation(c, api, e, method, schemaName);
      paths[`${api.basePath}/index.php/${e.name}`] = item;
    }
  }
  paths['/healthz'] = {
    get: {
      operationId: 'healthz', summary: 'Liveness: the database is reachable and migrated', security: [],
      description: 'Needs no key; 503 while the database is unreachable.',
      responses: {
        200: { description: 'Up', content: { 'application/json': { schema: { type: 'object', required: ['ok'], properties: { ok: { const: true } } } } } },
        503: { description: 'Database unreachable', content: { 'application/json': { schema: { type: 'object', properties: { ok: { const: false }, error: { type: 'string' }, code: { type: 'string' } } } } } },
      },
    },
  };
  paths['/readyz'] = {
    get: {
      operationId: 'readyz', summary: 'Readiness: every plan\'s rate table is loaded', security: [],
      description: 'Needs no key. At start the rate tables of all plans load in the background; until they are all in memory this '
        + 'answers 503 with the plans still loading (a call for one of them waits for its load). /healthz stays liveness.',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: { type: 'object', required: ['ok', 'plans_loaded'], properties: { ok: { const: true }, plans_loaded: { type: 'integer' } } } } } },
        503: {
          description: 'Rate tables still loading',
          content: { 'application/json': { schema: { type: 'object', required: ['ok', 'code', 'plans_loading'], properties: {
            ok: { const: false }, error: { type: 'string' }, code: { const: 'NOT_READY' }, plans_loaded: { type: 'integer' },
            plans_loading: { type: 'array', items: { type: 'integer' }, description: 'ids of the plans whose tables are still loading' },
          } } } },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Ledgerline',
      version,
      description: 'Prepaid VoIP billing: Client, Reseller, Admin and Switch APIs. Authenticate with X-API-Key. '
        + 'Each operation is served at `/<api>/index.php/NAME` and, as the original document has it, at `/<api>/index.php?endpoint=NAME`.',
    },
    servers: [{ url: '/', description: 'This server' }],
    paths,
    components: {
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas,
      responses: c.responses,
    },
  };
}
