// OpenAPI 3.1 description of every endpoint, generated from the API definitions so it cannot drift.
// Endpoints are selected by the `endpoint` query parameter, so each one is described under
// its full request target (`/client-api/index.php?endpoint=me`).
import type { ApiDefinition } from './endpoint.js';

export function openApiDocument(apis: ApiDefinition[], version: string) {
  const paths: Record<string, unknown> = {};
  for (const api of apis) {
    for (const e of api.endpoints) {
      const methods = e.method === 'BOTH' ? ['get', 'post'] : [e.method.toLowerCase()];
      const operations: Record<string, unknown> = {};
      for (const method of methods) {
        const properties = (e.input as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
        const required = new Set(((e.input as { required?: string[] } | undefined)?.required) ?? []);
        const op: Record<string, unknown> = {
          operationId: `${api.name}.${e.name}.${method}`,
          tags: [api.title],
          summary: e.summary,
          'x-roles': e.roles,
          security: [{ ApiKey: [] }],
          parameters: [
            { name: 'endpoint', in: 'query', required: true, schema: { const: e.name } },
            ...(method === 'get'
              ? Object.entries(properties).map(([name, schema]) => ({ name, in: 'query', required: required.has(name), schema }))
              : []),
            ...(e.idempotencyField || method === 'post'
              ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 } }]
              : []),
          ],
          responses: {
            200: { description: `Success: {"${api.flag}":true,…}`, content: { 'application/json': { schema: { $ref: `#/components/schemas/${api.name}Success` } } } },
            400: { $ref: `#/components/responses/${api.name}Error` },
            401: { $ref: `#/components/responses/${api.name}Error` },
            403: { $ref: `#/components/responses/${api.name}Error` },
            404: { $ref: `#/components/responses/${api.name}Error` },
            405: { $ref: `#/components/responses/${api.name}Error` },
            409: { $ref: `#/components/responses/${api.name}Error` },
          },
        };
        if (method === 'post' && e.input) {
          op.requestBody = { required: true, content: { 'application/json': { schema: e.input } } };
        }
        operations[method] = op;
      }
      paths[`${api.basePath}/index.php?endpoint=${e.name}`] = operations;
    }
  }
  const schemas: Record<string, unknown> = {};
  const responses: Record<string, unknown> = {};
  for (const api of apis) {
    schemas[`${api.name}Success`] = {
      type: 'object', required: [api.flag], properties: { [api.flag]: { const: true } }, additionalProperties: true,
    };
    responses[`${api.name}Error`] = {
      description: 'Error: the flag false, a sentence and a stable code',
      content: {
        'application/json': {
          schema: {
            type: 'object', required: [api.flag, 'error', 'code'],
            properties: {
              [api.flag]: { const: false }, error: { type: 'string' },
              code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' }, field: { type: 'string' },
            },
          },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Ledgerline', version, description: 'Prepaid VoIP billing: Client, Reseller, SMS, eSIM, Admin and Switch APIs. Select an operation with ?endpoint=NAME; authenticate with X-API-Key.' },
    paths,
    components: {
      securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas,
      responses,
    },
  };
}
