// Switch API (`/switch-api/index.php`): the telephone switch asks whether a call may start and
// for how long, and reports its CDR. Keys of role `switch`; flat envelope. Each switch key is
// one switch: its calls are told apart from another switch's by (key, uniqueid). A CDR that
// collided with concurrent updates more often than the service retries answers 503
// RETRY_LATER: nothing was applied and the switch sends it again.
import { Type as T } from '@sinclair/typebox';
import { authorizeCall } from '../calls/authorize.js';
import { DISPOSITIONS, settleCdr } from '../calls/settle.js';
import { switchRefOfKey } from '../calls/switch-ref.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';

const sw = ['switch'] as const;
const Caller = {
  sip_login: T.Optional(T.String()),
  source_ip: T.Optional(T.String({ format: 'ipv4' })),
  source_port: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })),
};

const endpoints: Endpoint[] = [
  {
    name: 'authorize', method: 'POST', roles: [...sw], transactional: true,
    summary: 'May this call start? Answers allowed, max_duration (s), caller_id and the matched rate; reserves the cost of max_duration',
    input: T.Object({ uniqueid: T.String({ maxLength: 100 }), ...Caller, destination: T.String() }),
    handler: async (ctx, actor, input) => ({ ...(await authorizeCall(ctx, input, switchRefOfKey(actor.id))) }),
  },
  {
    name: 'cdr', method: 'POST', roles: [...sw], transactional: true,
    summary: 'Settle a call: charge client (retail) and reseller (wholesale), release the reservation; a repeat of the uniqueid changes nothing; 503 RETRY_LATER means send it again',
    input: T.Object({
      uniqueid: T.String({ maxLength: 100 }), ...Caller, destination: T.String(),
      start_time: T.Optional(T.String()), answered_seconds: T.Integer({ minimum: 0 }),
      disposition: T.Union(DISPOSITIONS.map((d) => T.Literal(d))), hangup_cause: T.Optional(T.String()),
    }),
    handler: async (ctx, actor, input) => ({ ...(await settleCdr(ctx, input, switchRefOfKey(actor.id))) }),
  },
];

export const switchApi: ApiDefinition = {
  name: 'switch', basePath: '/switch-api', title: 'Switch API', flag: 'success', endpoints,
};
