// Agent-portal account endpoints: login availability, client password reset/set/change, SIP
// password reset and profile updates for the reseller's own clients; rotation of the
// reseller's own API key.
import { Type as T } from '@sinclair/typebox';
import {
  checkClientLogin, clientChangePassword, clientProfileUpdate, resetClientPassword, resetClientSipPassword, setClientPassword,
} from '../../resellers/client-account.js';
import { MAX_ROTATION_GRACE_SECONDS, rotateOwnApiKey } from '../../accounts/api-keys.js';
import type { Endpoint } from '../endpoint.js';

const reseller = ['reseller'] as const;
const Login = T.String({ minLength: 1, maxLength: 64, description: 'The client login' });
const Nullable = (schema: ReturnType<typeof T.String>) => T.Optional(T.Union([schema, T.Null()]));

export const accountEndpoints: Endpoint[] = [
  {
    name: 'check-client-login', method: 'BOTH', roles: [...reseller],
    summary: 'Whether a login is one of your clients (exists) and whether a new account may take it (available)',
    input: T.Object({ login: Login }),
    handler: (ctx, actor, input) => checkClientLogin(ctx, actor, input),
  },
  {
    name: 'reset-client-password', method: 'POST', roles: [...reseller],
    summary: 'Generate a new temporary client password, returned once',
    input: T.Object({ login: Login }),
    handler: (ctx, actor, input) => resetClientPassword(ctx, actor, input),
  },
  {
    name: 'set-client-password', method: 'POST', roles: [...reseller],
    summary: 'Set a client password chosen by the portal (8-128 characters with letters and digits)',
    input: T.Object({ login: Login, password: T.String({ minLength: 8, maxLength: 128 }) }),
    handler: (ctx, actor, input) => setClientPassword(ctx, actor, input),
  },
  {
    name: 'client-change-password', method: 'POST', roles: [...reseller],
    summary: 'Change a client password after checking the current one (rate-limited); 403 INVALID_PASSWORD when wrong',
    input: T.Object({
      login: Login, current_password: T.String({ minLength: 1 }), new_password: T.String({ minLength: 8, maxLength: 128 }),
      client_ip: T.Optional(T.String({ description: 'The end user\'s address, as for client-auth: failed checks are limited per this address as well as per login' })),
    }),
    handler: (ctx, actor, input) => clientChangePassword(ctx, actor, input),
  },
  {
    name: 'reset-client-sip-password', method: 'POST', roles: [...reseller],
    summary: 'Generate a new SIP password for a normal SIP account of the client (the main one by default), returned once',
    input: T.Object({ login: Login, sip_login: T.Optional(T.String({ description: 'Default: the client\'s main SIP account' })) }),
    handler: (ctx, actor, input) => resetClientSipPassword(ctx, actor, input),
  },
  {
    name: 'client-profile-update', method: 'POST', roles: [...reseller],
    summary: 'Update the client profile: name, email, phone (E.164), language (en, en-GB); null or "" clears a field',
    input: T.Object({
      login: Login,
      name: Nullable(T.String({ maxLength: 100 })),
      email: Nullable(T.String({ maxLength: 254 })),
      phone: Nullable(T.String()),
      language: Nullable(T.String({ pattern: '^[A-Za-z]{2}([-_][A-Za-z]{2})?$' })),
    }),
    handler: (ctx, actor, input) => clientProfileUpdate(ctx, actor, input),
  },
  {
    name: 'rotate-api-key', method: 'POST', roles: [...reseller],
    summary: 'Replace your calling API key: a new key, shown once; the calling one stops working at once or after grace_seconds (at most 86400)',
    input: T.Object({ grace_seconds: T.Optional(T.Integer({ minimum: 0, maximum: MAX_ROTATION_GRACE_SECONDS, default: 0 })) }),
    handler: async (ctx, actor, input) => {
      const r = await rotateOwnApiKey(ctx, actor, input);
      return { api_key: r.apiKey, key: r.key, previous_key: r.previous };
    },
  },
];
