// Admin API (`/admin-api/index.php`): the operator runs the business without touching the
// database. Flat envelope like the SMS API. The `ledgerline` CLI calls the same services.
import { Type as T } from '@sinclair/typebox';
import { listApiKeys, revokeApiKey } from '../accounts/api-keys.js';
import { accountView, getAccount, listAccounts, refill, setAccountStatus } from '../accounts/admin-ops.js';
import { createApiKeyFor, createSwitchKey } from '../accounts/provisioning.js';
import { findLedgerMismatches } from '../ledger/ledger.js';
import { formatMoney } from '../money.js';
import { createClient, createReseller } from '../onboarding/onboarding.js';
import { addRates, createPlan, planView } from '../plans/plans.js';
import { createVouchers } from '../vouchers/vouchers.js';
import { AdminAccountOut, AdminPlanOut, ApiKeyOut as ApiKeyRecordOut } from './answer-schemas.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { FlagIn, IdIn, IntIn, LocalTime, LoginIn, Money4, MoneyIn, Nullable, Opt, PageOut, PagingIn, Text } from './wire-types.js';

const admin = ['admin'] as const;
const ApiKeyOut = T.String({ description: 'The API key, shown only in this answer' });
const PasswordOut = T.Optional(T.String({ description: 'The generated account password, shown only in this answer (absent when one was given)' }));

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
    input: T.Object({ name: Text('At most 100 characters'), signup: Opt(FlagIn), initial_credit: Opt(MoneyIn), selectable: Opt(FlagIn) }),
    output: T.Object({ plan: AdminPlanOut }),
    handler: (ctx, _a, input) => adminOperations['create-plan'](ctx, input),
  },
  {
    name: 'add-rates', method: 'POST', roles: [...admin], summary: 'Upsert rates by prefix (also into retail plans derived from this plan)',
    input: T.Object({
      plan_id: IdIn,
      rates: T.Array(T.Object({
        prefix: T.Union([T.String(), T.Integer()], { description: '1-15 digits' }), destination: Text(), rate: MoneyIn,
        connect_charge: Opt(MoneyIn), initblock: Opt(IntIn('Seconds, default 1')),
        billingblock: Opt(IntIn('Seconds, default 1')), minimal_time: Opt(IntIn('Seconds, default 0')),
      }), { description: 'At most 10,000 rows per request; the CSV import takes more' }),
    }),
    output: T.Object({ plan_id: T.Integer(), upserted: T.Integer(), retail_plans_updated: T.Integer() }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, _a, input) => adminOperations['add-rates'](ctx, input),
  },
  {
    name: 'create-reseller', method: 'POST', roles: [...admin], summary: 'Create a reseller on a wholesale plan, with its retail plan at +markup (default 20%)',
    input: T.Object({ login: Opt(LoginIn), password: Opt(Text()), plan_id: IdIn, balance: Opt(MoneyIn), markup_percent: Opt(MoneyIn) }),
    output: T.Object({
      reseller: AdminAccountOut,
      retail_plan: T.Object({ ...AdminPlanOut.properties, rates: T.Integer({ description: 'Rate rows written into the retail plan' }) }),
      api_key: ApiKeyOut,
      password: PasswordOut,
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['LOGIN_TAKEN'] },
    handler: (ctx, _a, input) => adminOperations['create-reseller'](ctx, input),
  },
  {
    name: 'create-client', method: 'POST', roles: [...admin], summary: 'Create a direct client with its main SIP account; API key and SIP password shown once',
    input: T.Object({ login: Opt(LoginIn), password: Opt(Text()), plan_id: IdIn, balance: Opt(MoneyIn) }),
    output: T.Object({
      client: AdminAccountOut,
      api_key: ApiKeyOut,
      sip: T.Object({ name: T.String(), password: T.String() }),
      password: PasswordOut,
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['LOGIN_TAKEN'] },
    handler: (ctx, _a, input) => adminOperations['create-client'](ctx, input),
  },
  {
    name: 'create-api-key', method: 'POST', roles: [...admin], summary: 'Issue another API key for an account (shown once)',
    input: T.Object({ login: LoginIn }),
    output: T.Object({ login: T.String(), api_key: ApiKeyOut }),
    errors: { 404: ['NOT_FOUND'] },
    handler: async (ctx, actor, input) => {
      const r = await createApiKeyFor(ctx, actor, input.login);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  {
    name: 'api-keys', method: 'GET', roles: [...admin],
    summary: 'The API keys of an account: id, prefix, role, label, created_at, last_used_at, revoked_at (never the key or its hash)',
    input: T.Object({ login: LoginIn, ...PagingIn }),
    output: T.Object({ login: T.String(), role: T.String(), ...PageOut, api_keys: T.Array(ApiKeyRecordOut) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, _a, input) => listApiKeys(ctx, input),
  },
  {
    name: 'revoke-api-key', method: 'POST', roles: [...admin],
    summary: 'Revoke an API key by id: it answers 401 from the next request on, on every instance; 409 LAST_ADMIN_KEY for the last admin key',
    input: T.Object({ id: IdIn }),
    output: T.Object({ login: T.String(), api_key: ApiKeyRecordOut, already_revoked: T.Boolean() }),
    errors: { 404: ['NOT_FOUND'], 409: ['LAST_ADMIN_KEY'] },
    handler: (ctx, _a, input) => revokeApiKey(ctx, input),
  },
  {
    name: 'refill', method: 'POST', roles: [...admin], summary: 'Credit (or, negative, correct) a balance by a ledger posting; send Idempotency-Key to retry safely',
    input: T.Object({ login: LoginIn, amount: MoneyIn, description: Opt(Text()) }),
    output: T.Object({ login: T.String(), amount: Money4, balance: Money4, posting_id: T.Integer() }),
    errors: { 402: ['INSUFFICIENT_BALANCE'], 404: ['NOT_FOUND'] },
    handler: (ctx, _a, input) => refill(ctx, input),
  },
  {
    name: 'create-vouchers', method: 'POST', roles: [...admin], summary: 'Create voucher codes for the operator\'s direct clients',
    input: T.Object({ value: MoneyIn, count: Opt(IntIn('1-10000, default 1')) }),
    output: T.Object({ vouchers: T.Array(T.String()), value: Money4, count: T.Integer() }),
    handler: (ctx, _a, input) => createVouchers(ctx, null, input),
  },
  {
    name: 'set-account-status', method: 'POST', roles: [...admin], summary: 'Activate or deactivate any account',
    input: T.Object({ login: LoginIn, active: FlagIn }),
    output: T.Object({ login: T.String(), active: T.Integer({ minimum: 0, maximum: 1 }) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, _a, input) => setAccountStatus(ctx, input),
  },
  {
    name: 'create-switch-key', method: 'POST', roles: [...admin], summary: 'API key of role switch for the Switch API',
    input: T.Object({ name: Text('Letters, digits, dot, dash or underscore; the account is named switch-NAME') }),
    output: T.Object({ login: T.String(), api_key: ApiKeyOut }),
    errors: { 409: ['LOGIN_TAKEN'] },
    handler: async (ctx, _a, input) => {
      const r = await createSwitchKey(ctx, input.name);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  {
    name: 'accounts', method: 'GET', roles: [...admin], summary: 'List accounts, optionally by role',
    input: T.Object({ role: Opt(Text('admin, reseller, client or switch')), ...PagingIn }),
    output: T.Object({ ...PageOut, accounts: T.Array(AdminAccountOut) }),
    handler: (ctx, _a, input) => listAccounts(ctx, input),
  },
  {
    name: 'account', method: 'GET', roles: [...admin], summary: 'One account with its API key prefixes',
    input: T.Object({ login: LoginIn }),
    output: T.Object({
      account: AdminAccountOut,
      api_keys: T.Array(T.Object({ prefix: T.String(), label: Nullable(T.String()), created_at: LocalTime, revoked: T.Boolean() })),
    }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, _a, input) => getAccount(ctx, input.login),
  },
  {
    name: 'verify-ledger', method: 'GET', roles: [...admin], summary: 'Check balance = sum(postings), reserved = sum(open reservations) >= 0 for every account',
    output: T.Object({
      ok_ledger: T.Boolean(),
      accounts_checked: T.Integer(),
      mismatches: T.Array(T.Object({
        login: T.String(), balance: T.String(), postings_sum: T.String(), reserved: T.String(), open_reservations_sum: T.String(),
      })),
    }),
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
