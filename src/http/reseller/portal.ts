// White-label agent portal endpoints: a reseller's own portal logs its clients in and shows them
// their dashboard, SIP accounts, calls, refills, caller IDs and retail rates. Answers never carry
// the reseller's balance, wholesale rates, markup or credit logic.
import { Type as T } from '@sinclair/typebox';
import {
  clientAuth, clientCallerIds, clientCalls, clientDashboard, clientRates, clientRefills, clientSip, portalBootstrap,
} from '../../resellers/portal.js';
import type { Endpoint } from '../endpoint.js';

const reseller = ['reseller'] as const;
const Login = T.String({ minLength: 1, maxLength: 64, description: 'The client login' });
const Limit = T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 }));
const Offset = T.Optional(T.Integer({ minimum: 0, default: 0 }));

export const portalEndpoints: Endpoint[] = [
  {
    name: 'portal-bootstrap', method: 'GET', roles: [...reseller],
    summary: 'API and installation check: portal login and name, API version, server time and UTC offset, available endpoints',
    handler: async (ctx, actor) => {
      // Read at request time: the endpoint list is the Reseller API's own definition.
      const { resellerApi } = await import('../reseller-api.js');
      return portalBootstrap(ctx, actor, resellerApi.endpoints.map((e) => e.name));
    },
  },
  {
    name: 'client-auth', method: 'POST', roles: [...reseller],
    summary: 'Client login in the agent portal: checks the password (rate-limited per login and address); 403 INVALID_CREDENTIALS or ACCOUNT_INACTIVE',
    input: T.Object({
      login: Login,
      password: T.String({ minLength: 1 }),
      client_ip: T.Optional(T.String({ description: 'The end user\'s address as the portal saw it: failed checks are limited per this address (within your portal) as well as per login; without it, per login only' })),
    }),
    handler: (ctx, actor, input) => clientAuth(ctx, actor, input),
  },
  {
    name: 'client-dashboard', method: 'GET', roles: [...reseller],
    summary: 'Client dashboard: profile, visible balance (4 decimals), plan, status and counts',
    input: T.Object({ login: Login }),
    handler: (ctx, actor, input) => clientDashboard(ctx, actor, input.login),
  },
  {
    name: 'client-sip', method: 'GET', roles: [...reseller],
    summary: 'Client SIP accounts without passwords; service accounts (_webN, _ipaN) only with include_service=1',
    input: T.Object({ login: Login, include_service: T.Optional(T.Union([T.Literal('0'), T.Literal('1')])) }),
    handler: (ctx, actor, input) => clientSip(ctx, actor, input),
  },
  {
    name: 'client-calls', method: 'GET', roles: [...reseller],
    summary: 'Answered calls of the client, newest first',
    input: T.Object({ login: Login, limit: Limit, offset: Offset }),
    handler: (ctx, actor, input) => clientCalls(ctx, actor, input, 'answered'),
  },
  {
    name: 'client-failed-calls', method: 'GET', roles: [...reseller],
    summary: 'Failed (unanswered) calls of the client, newest first',
    input: T.Object({ login: Login, limit: Limit, offset: Offset }),
    handler: (ctx, actor, input) => clientCalls(ctx, actor, input, 'failed'),
  },
  {
    name: 'client-refills', method: 'GET', roles: [...reseller],
    summary: 'Refill history of the client (refills, vouchers, transfers, payments), newest first',
    input: T.Object({ login: Login, limit: Limit, offset: Offset }),
    handler: (ctx, actor, input) => clientRefills(ctx, actor, input),
  },
  {
    name: 'client-callerids', method: 'GET', roles: [...reseller],
    summary: 'Caller IDs of the client; the active one is presented on calls',
    input: T.Object({ login: Login }),
    handler: (ctx, actor, input) => clientCallerIds(ctx, actor, input.login),
  },
  {
    name: 'client-rates', method: 'GET', roles: [...reseller],
    summary: 'Retail rates of the client\'s plan: prefix, destination, rate per minute, connect charge, billing blocks',
    input: T.Object({ login: Login, limit: Limit, offset: Offset }),
    handler: (ctx, actor, input) => clientRates(ctx, actor, input),
  },
];
