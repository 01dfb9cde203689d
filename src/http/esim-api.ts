// eSIM API (`/esim-api/index.php`, CONTRACT §5): a client key buys for the client (a reseller's
// client at its reseller's price), a reseller key for the reseller itself, or, naming one of its
// clients with `client_login`, for that client exactly as the client's own key would. Flat envelope.
// A purchase is a saga (esim/orders.ts): recorded and debited, then ordered upstream once
// durable; refused, refunded; unconfirmed, resolved by the worker (docs/esim.md).
import { Type as T } from '@sinclair/typebox';
import { actingFor } from '../accounts/tenancy.js';
import { esimBalance } from '../esim/balance.js';
import { esimCoverage, searchEsimPackages } from '../esim/catalog.js';
import { buyEsim, listEsimOrders, placeBoughtEsim, syncEsimOrder } from '../esim/orders.js';
import { esimBuyerOf } from '../esim/prices.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { ClientLoginIn, IdIn, Money4, Nullable, Opt, PageOut, PagingIn, Text } from './wire-types.js';

const buyers = ['client', 'reseller'] as const;
const ClientLogin = ClientLoginIn('optional with a reseller key (absent: the reseller itself); a client key acts for itself');

/**
 * The handler run as the buyer: the reseller's client named by `client_login`, else the caller.
 * Every step after this sees only the buyer, so prices, the account charged and the orders
 * listed cannot differ from the client's own key's.
 */
const asBuyer = (handler: Endpoint['handler']): Endpoint['handler'] =>
  async (ctx, actor, input, req) => handler(ctx, await actingFor(ctx.db, actor, input.client_login), input, req);

const OrderOut = T.Object({
  order_id: T.Integer(), package_code: T.String(), name: T.String(), price: Money4,
  status: T.String({ description: 'PENDING, ALLOCATING, READY or REFUNDED' }), error_code: Nullable(T.String()),
  iccid: Nullable(T.String()), activation_code: Nullable(T.String({ description: 'LPA:1$…' })),
  qr_code: Nullable(T.String({ description: 'The activation code as a QR code, a PNG data URL' })),
  total_volume_bytes: Nullable(T.Integer()), used_bytes: Nullable(T.Integer()), remaining_bytes: Nullable(T.Integer()),
  expires_at: Nullable(T.String()), created_at: Nullable(T.String()),
});

const endpoints: Endpoint[] = [
  {
    name: 'packages', method: 'GET', roles: [...buyers],
    summary: 'eSIM data packages with the price the buyer pays (the caller, or the client named by client_login); q searches name, country (name or ISO code) and region',
    input: T.Object({ q: Opt(Text('Words to find in the name, a country name or ISO code, a region')), ...PagingIn, ...ClientLogin }),
    output: T.Object({
      ...PageOut,
      packages: T.Array(T.Object({
        package_code: T.String(), name: T.String(), price: Money4, currency: T.String(), data_gb: T.Number(),
        volume_bytes: T.Integer(), duration_days: T.Integer(), countries: T.Array(T.String({ description: 'ISO 3166-1 alpha-2' })),
      })),
    }),
    errors: { 404: ['NOT_FOUND'], 503: ['UPSTREAM_UNAVAILABLE'] },
    handler: asBuyer(async (ctx, actor, input) => searchEsimPackages(ctx, await esimBuyerOf(ctx.db, actor), input)),
  },
  {
    name: 'coverage', method: 'GET', roles: [...buyers], summary: 'The countries of a package with their operators and network types',
    input: T.Object({ package_code: Text('A package code from packages'), ...ClientLogin }),
    output: T.Object({
      package_code: T.String(), name: T.String(),
      countries: T.Array(T.Object({ code: T.String(), name: T.String(), operators: T.Array(T.Object({ name: T.String(), network_type: T.String() })) })),
    }),
    errors: { 404: ['NOT_FOUND'], 503: ['UPSTREAM_UNAVAILABLE'] },
    handler: asBuyer((ctx, _actor, input) => esimCoverage(ctx, input)),
  },
  {
    name: 'buy', method: 'POST', roles: [...buyers],
    summary: 'Buy a package: debited, then ordered upstream; refused upstream, refunded; send Idempotency-Key to retry safely',
    input: T.Object({ package_code: Text('A package code from packages'), ...ClientLogin }),
    output: T.Object({
      order_id: T.Integer(), package_code: T.String(), name: T.String(), price: Money4, balance_after: Money4,
      status: T.String({ description: 'ALLOCATING (ordered), PENDING (not yet confirmed: resolved shortly), REFUNDED (refused, money returned)' }),
      error_code: T.Optional(T.String()),
    }),
    errors: { 402: ['INSUFFICIENT_BALANCE'], 404: ['NOT_FOUND'], 409: ['PACKAGE_UNAVAILABLE'], 403: ['ACCOUNT_INACTIVE'] },
    handler: asBuyer((ctx, actor, input) => buyEsim(ctx, actor, input)),
    afterCommit: (ctx, answer) => placeBoughtEsim(ctx, answer),
  },
  {
    name: 'orders', method: 'BOTH', roles: [...buyers], summary: 'The buyer\'s eSIM orders, newest first, with activation data, QR code and usage as far as known',
    input: T.Object({ ...PagingIn, ...ClientLogin }),
    output: T.Object({ ...PageOut, orders: T.Array(OrderOut) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: asBuyer((ctx, actor, input) => listEsimOrders(ctx, actor, input)),
  },
  {
    name: 'sync-order', method: 'BOTH', roles: [...buyers], summary: 'One order refreshed from the provider: profile, activation data and usage',
    input: T.Object({ order_id: IdIn, ...ClientLogin }),
    output: OrderOut,
    errors: { 404: ['NOT_FOUND'] },
    handler: asBuyer((ctx, actor, input) => syncEsimOrder(ctx, actor, input)),
  },
  {
    name: 'balance', method: 'BOTH', roles: [...buyers], summary: 'The balance eSIM purchases are charged to (the caller\'s, or the client\'s named by client_login), and what of it is available',
    input: T.Object({ ...ClientLogin }),
    output: T.Object({ login: T.String(), balance: Money4, available: Money4 }),
    errors: { 404: ['NOT_FOUND'] },
    handler: asBuyer((ctx, actor) => esimBalance(ctx, actor)),
  },
];

export const esimApi: ApiDefinition = {
  name: 'esim', basePath: '/esim-api', title: 'eSIM API', flag: 'success', endpoints,
};
