// White-label agent portal endpoints: a reseller's own portal logs the agent and its clients in
// and shows the clients their dashboard, SIP accounts, calls, refills, caller IDs and retail
// rates. Answers never carry the reseller's balance, wholesale rates, markup or credit logic.
import { Type as T } from '@sinclair/typebox';
import { agentAuth, clientAuth } from '../../resellers/portal-auth.js';
import {
  clientCallerIds, clientCalls, clientDashboard, clientRates, clientRefills, clientSip, portalBootstrap,
} from '../../resellers/portal-views.js';
import {
  PortalAgentOut, PortalCallerIdOut, PortalCallOut, PortalClientOut, PortalRefillOut, PortalSipAccountOut,
} from '../answer-schemas.js';
import type { Endpoint } from '../endpoint.js';
import { CursorPageOut, CursorPagingIn, FlagIn, IntIn, LocalTime, MoneyNumber, Nullable, Opt, PageOut, Text } from '../wire-types.js';

const reseller = ['reseller'] as const;
const Login = T.Union([T.String(), T.Integer()], { description: 'The client login; an all-digit login may be sent as a number' });
const Paging = { limit: Opt(IntIn('Page size, default 50, at most 500')), offset: Opt(IntIn('Rows to skip, default 0')) };
const NotFound = { 404: ['NOT_FOUND'] };
const ClientIp = Opt(Text('The end user\'s address as the portal saw it: failed checks are limited per this address (within your portal) as well as per login; without it, per login only'));
const PortalCallsOut = T.Object({ login: T.String(), ...CursorPageOut, calls: T.Array(PortalCallOut) });
/** Days of the calls' start time; `total` and the cursor then count and walk those days only. */
const StartedWithinIn = {
  from: Opt(Text('First day, YYYY-MM-DD in the billing timezone (that of starttime): calls started from its 00:00:00; malformed answers 400')),
  to: Opt(Text('Last day, YYYY-MM-DD in the billing timezone: calls started through its 23:59:59; before from answers 400 naming to')),
};

/**
 * `portal-bootstrap` lists the Reseller API's endpoints, of which it is one: the API hands in
 * their names (read at request time), so this file need not import the API built from it.
 */
export const portalBootstrapEndpoint = (apiEndpointNames: () => string[]): Endpoint => ({
  name: 'portal-bootstrap', method: 'GET', roles: [...reseller],
  summary: 'API and installation check: portal login and name, API version, server time and UTC offset, available endpoints',
  output: T.Object({
    portal: PortalAgentOut,
    api: T.Literal('reseller'),
    api_version: T.String(),
    sip_domain: T.String(),
    server_time: LocalTime,
    server_utc_offset: T.String({ pattern: '^[+-]\\d{2}:\\d{2}$', description: 'Offset of the billing timezone, e.g. +03:00' }),
    endpoints: T.Array(T.String()),
  }),
  handler: (ctx, actor) => portalBootstrap(ctx, actor, apiEndpointNames()),
});

export const portalEndpoints: Endpoint[] = [
  {
    name: 'client-auth', method: 'POST', roles: [...reseller],
    summary: 'Client login in the agent portal: checks the password (rate-limited per login and address); 403 INVALID_CREDENTIALS or ACCOUNT_INACTIVE',
    input: T.Object({ login: Login, password: Text(), client_ip: ClientIp }),
    output: T.Object({ authenticated: T.Literal(true), client: PortalClientOut }),
    errors: { 403: ['INVALID_CREDENTIALS'], 404: ['NOT_FOUND'], 429: ['RATE_LIMITED'] },
    handler: (ctx, actor, input) => clientAuth(ctx, actor, input),
  },
  {
    name: 'agent-auth', method: 'POST', roles: [...reseller],
    summary: 'Agent login in the agent\'s own portal pages (a Ledgerline addition, not in the original API document): checks the password '
      + 'of the account this API key belongs to (rate-limited per login and address, like client-auth); 403 INVALID_CREDENTIALS or ACCOUNT_INACTIVE',
    input: T.Object({ password: Text('Your own account password'), client_ip: ClientIp }),
    output: T.Object({ agent: PortalAgentOut }),
    errors: { 403: ['INVALID_CREDENTIALS', 'ACCOUNT_INACTIVE'], 429: ['RATE_LIMITED'] },
    handler: (ctx, actor, input) => agentAuth(ctx, actor, input),
  },
  {
    name: 'client-dashboard', method: 'GET', roles: [...reseller],
    summary: 'Client dashboard: profile, balance, plan, status and counts',
    input: T.Object({ login: Login }),
    output: T.Object({
      client: T.Object({ ...PortalClientOut.properties, balance: MoneyNumber, callerid: Nullable(T.String()) }),
      counts: T.Object({ sip_accounts: T.Integer(), callerids: T.Integer(), calls: T.Integer(), failed_calls: T.Integer(), refills: T.Integer() }),
    }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientDashboard(ctx, actor, input.login),
  },
  {
    name: 'client-sip', method: 'GET', roles: [...reseller],
    summary: 'Client SIP accounts without passwords; service accounts (_webN, _ipaN) only with include_service=1',
    input: T.Object({ login: Login, include_service: Opt(FlagIn) }),
    output: T.Object({ login: T.String(), sip_accounts: T.Array(PortalSipAccountOut) }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientSip(ctx, actor, input),
  },
  {
    name: 'client-calls', method: 'GET', roles: [...reseller],
    summary: 'Answered calls of the client, newest first; from and to keep the days they started on',
    input: T.Object({ login: Login, ...CursorPagingIn, ...StartedWithinIn }),
    output: PortalCallsOut,
    errors: NotFound,
    handler: (ctx, actor, input) => clientCalls(ctx, actor, input, 'answered'),
  },
  {
    name: 'client-failed-calls', method: 'GET', roles: [...reseller],
    summary: 'Failed (unanswered) calls of the client, newest first; from and to keep the days they started on',
    input: T.Object({ login: Login, ...CursorPagingIn, ...StartedWithinIn }),
    output: PortalCallsOut,
    errors: NotFound,
    handler: (ctx, actor, input) => clientCalls(ctx, actor, input, 'failed'),
  },
  {
    name: 'client-refills', method: 'GET', roles: [...reseller],
    summary: 'Refill history of the client (refills, vouchers, transfers, payments), newest first',
    input: T.Object({ login: Login, ...CursorPagingIn }),
    output: T.Object({ login: T.String(), ...CursorPageOut, refills: T.Array(PortalRefillOut) }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientRefills(ctx, actor, input),
  },
  {
    name: 'client-callerids', method: 'GET', roles: [...reseller],
    summary: 'Caller IDs of the client; the active one is presented on calls',
    input: T.Object({ login: Login }),
    output: T.Object({ login: T.String(), total: T.Integer(), callerids: T.Array(PortalCallerIdOut) }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientCallerIds(ctx, actor, input.login),
  },
  {
    name: 'client-rates', method: 'GET', roles: [...reseller],
    summary: 'Retail rates of the client\'s plan: prefix, destination, rate per minute, connect charge, billing blocks; search by prefix or destination',
    input: T.Object({
      login: Login, ...Paging,
      search: Opt(Text('All digits: the prefixes starting with them (44: 44, 447, …); other text: the destinations whose name contains it, case aside. total counts what it keeps')),
    }),
    output: T.Object({
      login: T.String(),
      plan: Nullable(T.Object({ id: T.Integer(), name: T.String() })),
      ...PageOut,
      rates: T.Array(T.Object({
        prefix: T.String(), destination: T.String(),
        rate: T.Number({ description: 'Per minute, exact to the 6 stored decimals' }), connect_charge: MoneyNumber,
        initblock: T.Integer(), billingblock: T.Integer(), minimal_time: T.Integer(),
      })),
    }),
    errors: NotFound,
    handler: (ctx, actor, input) => clientRates(ctx, actor, input),
  },
];
