// Agent-portal account endpoints: login availability, client password reset/set/change, SIP
// password reset and profile updates for the reseller's own clients; rotation of the
// reseller's own API key.
import { Type as T } from '@sinclair/typebox';
import {
  checkClientLogin, clientChangePassword, clientProfileUpdate, resetClientPassword, resetClientSipPassword, setClientPassword,
} from '../../resellers/client-account.js';
import { MAX_ROTATION_GRACE_SECONDS, rotateOwnApiKey } from '../../accounts/api-keys.js';
import { PortalClientOut, RotatedKeyOut } from '../answer-schemas.js';
import type { Endpoint } from '../endpoint.js';
import { IntIn, Opt, Text } from '../wire-types.js';

const reseller = ['reseller'] as const;
const Login = T.Union([T.String(), T.Integer()], { description: 'The client login; an all-digit login may be sent as a number' });
const NewPassword = Text('8-128 characters with letters and digits');
/** A profile field: a value, or null or "" to clear it. */
const Clearable = (description: string) => Opt(Text(description));
const NotFound = { 404: ['NOT_FOUND'] };

export const accountEndpoints: Endpoint[] = [
  {
    name: 'check-client-login', method: 'BOTH', roles: [...reseller],
    summary: 'Whether a login is one of your clients (exists) and whether a new account may take it (available)',
    input: T.Object({ login: Login }),
    output: T.Object({ login: T.String(), exists: T.Boolean(), available: T.Boolean() }),
    handler: (ctx, actor, input) => checkClientLogin(ctx, actor, input),
  },
  {
    name: 'reset-client-password', method: 'POST', roles: [...reseller],
    summary: 'Generate a new temporary client password, returned once',
    input: T.Object({ login: Login }),
    output: T.Object({ login: T.String(), password: T.String({ description: 'Shown only here' }), temporary: T.Literal(true) }),
    errors: NotFound,
    handler: (ctx, actor, input) => resetClientPassword(ctx, actor, input),
  },
  {
    name: 'set-client-password', method: 'POST', roles: [...reseller],
    summary: 'Set a client password chosen by the portal (8-128 characters with letters and digits)',
    input: T.Object({ login: Login, password: NewPassword }),
    output: T.Object({ login: T.String(), changed: T.Literal(true) }),
    errors: NotFound,
    handler: (ctx, actor, input) => setClientPassword(ctx, actor, input),
  },
  {
    name: 'client-change-password', method: 'POST', roles: [...reseller],
    summary: 'Change a client password after checking the current one (rate-limited); 403 INVALID_PASSWORD when wrong',
    input: T.Object({
      login: Login, current_password: Text(), new_password: NewPassword,
      client_ip: Opt(Text('The end user\'s address, as for client-auth: failed checks are limited per this address as well as per login')),
    }),
    output: T.Object({ login: T.String(), changed: T.Literal(true) }),
    errors: { 403: ['INVALID_PASSWORD'], ...NotFound, 429: ['RATE_LIMITED'] },
    handler: (ctx, actor, input) => clientChangePassword(ctx, actor, input),
  },
  {
    name: 'reset-client-sip-password', method: 'POST', roles: [...reseller],
    summary: 'Generate a new SIP password for a normal SIP account of the client (the main one by default), returned once',
    input: T.Object({ login: Login, sip_login: Opt(Text('Default: the client\'s main SIP account')) }),
    output: T.Object({
      login: T.String(),
      sip: T.Object({ name: T.String(), username: T.String(), password: T.String({ description: 'Shown only here' }), host: T.String() }),
    }),
    errors: { 400: ['SERVICE_ACCOUNT'], ...NotFound },
    handler: (ctx, actor, input) => resetClientSipPassword(ctx, actor, input),
  },
  {
    name: 'client-profile-update', method: 'POST', roles: [...reseller],
    summary: 'Update the client profile: name, email, phone (E.164), language (en, en-GB); null or "" clears a field',
    input: T.Object({
      login: Login,
      name: Clearable('At most 100 characters'),
      email: Clearable('An email address, at most 254 characters'),
      phone: Clearable('E.164'),
      language: Clearable('A language tag such as en or en-GB'),
    }),
    output: T.Object({ client: PortalClientOut, updated: T.Array(T.String(), { description: 'The fields changed' }) }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientProfileUpdate(ctx, actor, input),
  },
  {
    name: 'rotate-api-key', method: 'POST', roles: [...reseller],
    summary: 'Replace your calling API key: a new key, shown once; the calling one stops working at once or after grace_seconds (at most 86400)',
    input: T.Object({ grace_seconds: Opt(IntIn(`0-${MAX_ROTATION_GRACE_SECONDS} seconds the calling key keeps working, default 0`)) }),
    output: RotatedKeyOut,
    errors: { 401: ['UNAUTHORIZED'] },
    handler: async (ctx, actor, input) => {
      const r = await rotateOwnApiKey(ctx, actor, input);
      return { api_key: r.apiKey, key: r.key, previous_key: r.previous };
    },
  },
];
