// Step (preValidation): who is calling, from the X-API-Key header (401 when missing or
// unknown). The only step that may wait: on SQLite the key is read on the read-only
// connection, without queueing behind writes (accounts/actor.ts).
import type { FastifyRequest } from 'fastify';
import { actorByApiKey } from '../../accounts/actor.js';
import { unauthorized } from '../../errors.js';
import type { ApiFamily } from './endpoint-routes.js';

export function authentication(family: ApiFamily): (request: FastifyRequest) => Promise<void> {
  const { ctx } = family;
  return async function authenticate(request: FastifyRequest) {
    const key = request.headers['x-api-key'];
    if (typeof key !== 'string' || key === '') throw unauthorized('Missing X-API-Key header');
    const actor = await actorByApiKey(ctx.db, key, ctx.sqliteReader, ctx.log);
    if (!actor) throw unauthorized('Unknown API key');
    request.apiCall!.actor = actor;
  };
}
