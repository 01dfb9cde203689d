// Step (onSend): one count and one latency observation per API request, labelled by API,
// endpoint (`unknown` for a name the family does not have) and status. onSend rather than
// onResponse: it runs for every answer, also to a client that hung up, and times the request
// up to its answer being handed to the socket, as the figures always have.
import type { FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import { httpLatency, httpRequests } from '../../metrics.js';

/** The labelled children of one endpoint, resolved once per status rather than per request. */
export class EndpointMetrics {
  /** Bounded: the statuses an endpoint answers are a few dozen at most. */
  static readonly MAX_STATUSES = 100;
  readonly #byStatus = new Map<number, { observe(seconds: number): void }>();

  // Children are made on first use: an endpoint never called has no series in /metrics.
  constructor(private readonly apiName: string, private readonly label: string) {}

  observe(status: number, seconds: number): void {
    let child = this.#byStatus.get(status);
    if (!child) {
      const counter = httpRequests.labels(this.apiName, this.label, String(status));
      const histogram = httpLatency.labels(this.apiName, this.label);
      child = { observe: (s) => { counter.inc(); histogram.observe(s); } };
      if (this.#byStatus.size < EndpointMetrics.MAX_STATUSES) this.#byStatus.set(status, child);
    }
    child.observe(seconds);
  }
}

/** Counts and times every answer of a family; requests naming no endpoint count as `unknown`. */
export function requestMetrics(family: { readonly unknownMetrics: EndpointMetrics }): onSendHookHandler {
  return function requestMetrics(request: FastifyRequest, reply: FastifyReply, payload, done) {
    const call = request.apiCall;
    if (call != null) {
      const metrics = call.route?.metrics ?? family.unknownMetrics;
      metrics.observe(reply.statusCode, Number(process.hrtime.bigint() - call.startedNs) / 1e9);
    }
    done(null, payload);
  };
}
