// Switch API (`/switch-api/index.php`): the telephone switch asks whether a call may start and
// for how long, and reports its CDR. Keys of role `switch`; flat envelope. Each switch key is
// one switch: its calls are told apart from another switch's by (key, uniqueid). A CDR that
// collided with concurrent updates more often than the service retries answers 503
// RETRY_LATER: nothing was applied and the switch sends it again.
import { Type as T } from '@sinclair/typebox';
import { authorizeCall } from '../calls/authorize.js';
import { DISPOSITIONS, settleCdr } from '../calls/settle.js';
import { switchBatchOf } from '../calls/switch-batch.js';
import { switchRefOfKey } from '../calls/switch-ref.js';
import type { Ctx } from '../context.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { IntIn, Money4, Nullable, Opt, Text } from './wire-types.js';

const sw = ['switch'] as const;
/** PostgreSQL: calls that arrive together share a transaction (calls/switch-batch.ts). */
const batched = (ctx: Ctx) => switchBatchOf(ctx.db) !== undefined;
const Caller = {
  sip_login: Opt(Text('The calling SIP account; or identify the caller by source_ip')),
  source_ip: Opt(Text('IPv4 address of an IP-auth peer')),
  source_port: Opt(IntIn('Port of the IP-auth peer; without it any peer of the address')),
};
/** Asterisk's ids (`1700000000.42`) and dialled numbers may arrive as JSON numbers. */
const TextOrNumber = (description: string) => T.Union([T.String(), T.Number()], { description });

const endpoints: Endpoint[] = [
  {
    name: 'authorize', method: 'POST', roles: [...sw], transactional: true, batched,
    summary: 'May this call start? Answers allowed, max_duration (s), caller_id and the matched rate; reserves the cost of max_duration',
    input: T.Object({ uniqueid: TextOrNumber('The switch\'s call id, 1-100 characters'), ...Caller, destination: TextOrNumber('The dialled number') }),
    output: T.Object({
      allowed: T.Boolean(),
      max_duration: T.Integer({ description: 'Seconds the call may last; 0 when refused' }),
      caller_id: Nullable(T.String({ description: 'The Caller ID to present' })),
      rate: Nullable(T.Object({ prefix: T.String(), destination: T.String() })),
      reason: T.Optional(T.String({
        description: 'Why a call is refused (a refusal is a 200 with allowed false): UNKNOWN_CALLER, SIP_ACCOUNT_INACTIVE, '
          + 'ACCOUNT_INACTIVE, RESELLER_INACTIVE, NO_RATE, INSUFFICIENT_BALANCE, RESELLER_INSUFFICIENT_BALANCE, ALREADY_SETTLED, UNIQUEID_IN_USE',
      })),
      sip_login: T.Optional(T.String({ description: 'The SIP account the call was matched to' })),
    }),
    errors: { 503: ['RETRY_LATER'] },
    handler: async (ctx, actor, input, req) => ({ ...(await authorizeCall(ctx, input, switchRefOfKey(actor.id), req.audit)) }),
  },
  {
    name: 'cdr', method: 'POST', roles: [...sw], transactional: true, batched,
    summary: 'Settle a call: charge client (retail) and reseller (wholesale), release the reservation; a repeat of the uniqueid changes nothing; 503 RETRY_LATER means send it again',
    input: T.Object({
      uniqueid: TextOrNumber('The id the call was authorized with'), ...Caller, destination: TextOrNumber('The dialled number'),
      start_time: Opt(TextOrNumber('YYYY-MM-DD HH:MM:SS (billing timezone), ISO 8601 with offset, or epoch seconds')),
      answered_seconds: Opt(IntIn('Answered seconds; required when ANSWERED')),
      disposition: Text(`One of ${DISPOSITIONS.join(', ')}`),
      hangup_cause: Opt(TextOrNumber('The switch\'s hangup cause')),
    }),
    output: T.Object({
      uniqueid: T.String(),
      call_id: T.Integer(),
      disposition: T.Union(DISPOSITIONS.map((d) => T.Literal(d))),
      answered_seconds: T.Integer(),
      billed_seconds: T.Integer(),
      cost: Money4,
      duplicate: T.Boolean({ description: 'true when this uniqueid was settled before: nothing changed' }),
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['NO_RATE', 'IDEMPOTENCY_MISMATCH', 'UNIQUEID_IN_USE'], 503: ['RETRY_LATER'] },
    handler: async (ctx, actor, input, req) => ({ ...(await settleCdr(ctx, input, switchRefOfKey(actor.id), req.audit)) }),
  },
];

export const switchApi: ApiDefinition = {
  name: 'switch', basePath: '/switch-api', title: 'Switch API', flag: 'success', endpoints,
};
