// The route options of every endpoint of an API family, compiled once at start: what the
// pipeline's steps look up per request (allowed methods, schemas, metric children) instead of
// deriving it per request. A family is served on a few paths and dispatched by endpoint name
// (`?endpoint=NAME`), which Fastify's router cannot route on, so these are looked up by name.
import type { Ctx } from '../../context.js';
import type { ApiDefinition, Endpoint } from '../endpoint.js';
import { compileApi, type EndpointRuntime } from '../schema-runtime.js';
import { EndpointMetrics } from './metrics.js';

export interface EndpointRoute {
  readonly endpoint: Endpoint;
  /** Input validation, answer serialization and the check of errors against `/docs`. */
  readonly runtime: EndpointRuntime;
  /**
   * The methods it answers (HEAD as GET): a write only POST, so a crawler or a prefetch never
   * writes; a read GET or POST.
   */
  readonly allowedMethods: readonly string[];
  readonly metrics: EndpointMetrics;
}

export interface ApiFamily {
  readonly api: ApiDefinition;
  readonly ctx: Ctx;
  readonly routes: ReadonlyMap<string, EndpointRoute>;
  /** Requests naming no endpoint of the family are counted under `unknown`. */
  readonly unknownMetrics: EndpointMetrics;
}

export function compileFamily(api: ApiDefinition, ctx: Ctx): ApiFamily {
  const runtimes = compileApi(api);
  const routes = new Map<string, EndpointRoute>();
  for (const endpoint of api.endpoints) {
    routes.set(endpoint.name, {
      endpoint,
      runtime: runtimes.get(endpoint.name)!,
      allowedMethods: endpoint.method === 'POST' ? ['POST'] : ['GET', 'POST'],
      metrics: new EndpointMetrics(api.name, endpoint.name),
    });
  }
  return { api, ctx, routes, unknownMetrics: new EndpointMetrics(api.name, 'unknown') };
}
