// Admin API (`/admin-api/index.php`): the operator runs the business without touching the
// database. Flat envelope like the SMS API. The `ledgerline` CLI calls the same services.
import { Type as T } from '@sinclair/typebox';
import { listApiKeys, revokeApiKey } from '../accounts/api-keys.js';
import { accountView, getAccount, listAccounts, refill, setAccountStatus } from '../accounts/admin-ops.js';
import { createApiKeyFor, createClient, createReseller, createSwitchKey } from '../accounts/provisioning.js';
import { findLedgerMismatches } from '../ledger/ledger.js';
import { formatMoney } from '../money.js';
import { addRates, createPlan, planView } from '../plans/plans.js';
import { createVouchers } from '../vouchers/vouchers.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';

const admin = ['admin'] as const;
const Money = T.Union([T.Number(), T.String({ pattern: '^-?\\d+(\\.\\d+)?$' })]);
const Id = T.Union([T.Integer({ minimum: 1 }), T.String({ pattern: '^\\d+$' })]);

export const adminOperations = {
  'create-plan': async (ctx: Parameters<typeof createPlan>[0], input: Record<string, unknown>) =>
    ({ plan: planView(await createPlan(ctx, input)) }),
  'add-rates': async (ctx: Parameters<typeof addRates>[0], input: Record<string, unknown>) => addRates(ctx, input),
  'create-reseller': async (ctx: Parameters<typeof createReseller>[0], input: Record<string, unknown>) => {
    const r = await createReseller(ctx, input);
    return {
      reseller: accountView(r.reseller),
      retail_plan: { ...planView(r.retailPlan), rates: r.retailRates },
      api_key: r.apiKey,
      ...(r.password ? { password: r.password } : {}),
    };
  },
  'create-client': async (ctx: Parameters<typeof createClient>[0], input: Record<string, unknown>) => {
    const c = await createClient(ctx, null, input);
    return {
      client: accountView(c.client),
      api_key: c.apiKey,
      sip: c.sip,
      ...(c.password ? { password: c.password } : {}),
    };
  },
} as const;

const endpoints: Endpoint[] = [
  {
    name: 'create-plan', method: 'POST', roles: [...admin], summary: 'Create a plan (rate table) of the operator',
    input: T.Object({ name: T.String(), signup: T.Optional(T.Boolean()), initial_credit: T.Optional(Money), selectable: T.Optional(T.Boolean()) }),
    handler: (ctx, _a, input) => adminOperations['create-plan'](ctx, input),
  },
  {
    name: 'add-rates', method: 'POST', roles: [...admin], summary: 'Upsert rates by prefix (also into retail plans derived from this plan)',
    input: T.Object({
      plan_id: Id,
      rates: T.Array(T.Object({
        prefix: T.String({ pattern: '^\\d{1,15}$' }), destination: T.String(), rate: Money,
        connect_charge: T.Optional(Money), initblock: T.Optional(T.Integer({ minimum: 1 })),
        billingblock: T.Optional(T.Integer({ minimum: 1 })), minimal_time: T.Optional(T.Integer({ minimum: 0 })),
      }), { maxItems: 10000 }),
    }),
    handler: (ctx, _a, input) => adminOperations['add-rates'](ctx, input),
  },
  {
    name: 'create-reseller', method: 'POST', roles: [...admin], summary: 'Create a reseller on a wholesale plan, with its retail plan at +markup (default 20%)',
    input: T.Object({ login: T.Optional(T.String()), password: T.Optional(T.String()), plan_id: Id, balance: T.Optional(Money), markup_percent: T.Optional(Money) }),
    handler: (ctx, _a, input) => adminOperations['create-reseller'](ctx, input),
  },
  {
    name: 'create-client', method: 'POST', roles: [...admin], summary: 'Create a direct client with its main SIP account; API key and SIP password shown once',
    input: T.Object({ login: T.Optional(T.String()), password: T.Optional(T.String()), plan_id: Id, balance: T.Optional(Money) }),
    handler: (ctx, _a, input) => adminOperations['create-client'](ctx, input),
  },
  {
    name: 'create-api-key', method: 'POST', roles: [...admin], summary: 'Issue another API key for an account (shown once)',
    input: T.Object({ login: T.String() }),
    handler: async (ctx, actor, input) => {
      const r = await createApiKeyFor(ctx, actor, input.login);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  {
    name: 'api-keys', method: 'GET', roles: [...admin],
    summary: 'The API keys of an account: id, prefix, role, label, created_at, last_used_at, revoked_at (never the key or its hash)',
    input: T.Object({
      login: T.String(),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 })), offset: T.Optional(T.Integer({ minimum: 0, default: 0 })),
    }),
    handler: (ctx, _a, input) => listApiKeys(ctx, input),
  },
  {
    name: 'revoke-api-key', method: 'POST', roles: [...admin],
    summary: 'Revoke an API key by id: it answers 401 from the next request on, on every instance; 409 LAST_ADMIN_KEY for the last admin key',
    input: T.Object({ id: Id }),
    handler: (ctx, _a, input) => revokeApiKey(ctx, input),
  },
  {
    name: 'refill', method: 'POST', roles: [...admin], summary: 'Credit (or, negative, correct) a balance by a ledger posting; send Idempotency-Key to retry safely',
    input: T.Object({ login: T.String(), amount: Money, description: T.Optional(T.String()) }),
    handler: (ctx, _a, input) => refill(ctx, input),
  },
  {
    name: 'create-vouchers', method: 'POST', roles: [...admin], summary: 'Create voucher codes for the operator\'s direct clients',
    input: T.Object({ value: Money, count: T.Optional(T.Integer({ minimum: 1, maximum: 10000 })) }),
    handler: (ctx, _a, input) => createVouchers(ctx, null, input),
  },
  {
    name: 'set-account-status', method: 'POST', roles: [...admin], summary: 'Activate or deactivate any account',
    input: T.Object({ login: T.String(), active: T.Boolean() }),
    handler: (ctx, _a, input) => setAccountStatus(ctx, input),
  },
  {
    name: 'create-switch-key', method: 'POST', roles: [...admin], summary: 'API key of role switch for the Switch API',
    input: T.Object({ name: T.String() }),
    handler: async (ctx, _a, input) => {
      const r = await createSwitchKey(ctx, input.name);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  {
    name: 'accounts', method: 'GET', roles: [...admin], summary: 'List accounts, optionally by role',
    input: T.Object({ role: T.Optional(T.String()), limit: T.Optional(T.Integer()), offset: T.Optional(T.Integer()) }),
    handler: (ctx, _a, input) => listAccounts(ctx, input),
  },
  {
    name: 'account', method: 'GET', roles: [...admin], summary: 'One account with its API key prefixes',
    input: T.Object({ login: T.String() }),
    handler: (ctx, _a, input) => getAccount(ctx, input.login),
  },
  {
    name: 'verify-ledger', method: 'GET', roles: [...admin], summary: 'Check balance = sum(postings), reserved = sum(open reservations) >= 0 for every account',
    handler: async (ctx) => {
      const r = await findLedgerMismatches(ctx.db as never);
      return {
        ok_ledger: r.mismatches.length === 0,
        accounts_checked: r.accountsChecked,
        mismatches: r.mismatches.map((m) => ({
          login: m.login, balance: formatMoney(m.balanceMicros, 6), postings_sum: formatMoney(m.postingsSumMicros, 6),
          reserved: formatMoney(m.reservedMicros, 6), open_reservations_sum: formatMoney(m.openReservationsMicros, 6),
        })),
      };
    },
  },
];

export const adminApi: ApiDefinition = {
  name: 'admin', basePath: '/admin-api', title: 'Admin API', flag: 'success', endpoints,
};
