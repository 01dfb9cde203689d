// eSIM API (`/esim-api/index.php`, CONTRACT §5): a client key buys for the client (a reseller's
// client at its reseller's price), a reseller key for the reseller itself. Flat envelope.
// Served so far: the catalog (`packages`, `coverage`) and `balance`; `buy`, `orders` and
// `sync-order` are to come (docs/esim.md).
import { Type as T } from '@sinclair/typebox';
import { esimBalance } from '../esim/balance.js';
import { esimCoverage, searchEsimPackages } from '../esim/catalog.js';
import { esimBuyerOf } from '../esim/prices.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { Money4, Opt, PageOut, PagingIn, Text } from './wire-types.js';

const buyers = ['client', 'reseller'] as const;

const endpoints: Endpoint[] = [
  {
    name: 'packages', method: 'GET', roles: [...buyers],
    summary: 'eSIM data packages with the price the caller pays; q searches name, country (name or ISO code) and region',
    input: T.Object({ q: Opt(Text('Words to find in the name, a country name or ISO code, a region')), ...PagingIn }),
    output: T.Object({
      ...PageOut,
      packages: T.Array(T.Object({
        package_code: T.String(), name: T.String(), price: Money4, currency: T.String(), data_gb: T.Number(),
        volume_bytes: T.Integer(), duration_days: T.Integer(), countries: T.Array(T.String({ description: 'ISO 3166-1 alpha-2' })),
      })),
    }),
    errors: { 503: ['UPSTREAM_UNAVAILABLE'] },
    handler: async (ctx, actor, input) => searchEsimPackages(ctx, await esimBuyerOf(ctx.db, actor), input),
  },
  {
    name: 'coverage', method: 'GET', roles: [...buyers], summary: 'The countries of a package with their operators and network types',
    input: T.Object({ package_code: Text('A package code from packages') }),
    output: T.Object({
      package_code: T.String(), name: T.String(),
      countries: T.Array(T.Object({ code: T.String(), name: T.String(), operators: T.Array(T.Object({ name: T.String(), network_type: T.String() })) })),
    }),
    errors: { 404: ['NOT_FOUND'], 503: ['UPSTREAM_UNAVAILABLE'] },
    handler: (ctx, _actor, input) => esimCoverage(ctx, input),
  },
  {
    name: 'balance', method: 'BOTH', roles: [...buyers], summary: 'The balance eSIM purchases are charged to, and what of it is available',
    output: T.Object({ login: T.String(), balance: Money4, available: Money4 }),
    handler: (ctx, actor) => esimBalance(ctx, actor),
  },
];

export const esimApi: ApiDefinition = {
  name: 'esim', basePath: '/esim-api', title: 'eSIM API', flag: 'success', endpoints,
};
