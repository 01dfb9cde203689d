// Admin API (`/admin-api/index.php`): the operator runs the business without touching the
// database. Flat envelope like the SMS API. The operations are the CLI's too (admin/operations.ts);
// this file says how each is spoken over HTTP.
import { Type as T } from '@sinclair/typebox';
import { ADMIN_OPERATIONS, type AdminOperationName } from '../admin/operations.js';
import { AdminAccountOut, AdminPlanOut, ApiKeyOut as ApiKeyRecordOut } from './answer-schemas.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { CursorPageOut, CursorPagingIn, Flag01, FlagIn, IdIn, IntIn, LocalTime, LoginIn, Money4, MoneyIn, Nullable, Opt, PageOut, PagingIn, Text } from './wire-types.js';

const ApiKeyOut = T.String({ description: 'The API key, shown only in this answer' });
const PasswordOut = T.Optional(T.String({ description: 'The generated account password, shown only in this answer (absent when one was given)' }));

/** How each Admin operation (admin/operations.ts, shared with the CLI) is spoken over HTTP. */
const wire: Record<AdminOperationName, Pick<Endpoint, 'input' | 'output' | 'errors'>> = {
  'create-plan': {
    input: T.Object({ name: Text('At most 100 characters'), signup: Opt(FlagIn), initial_credit: Opt(MoneyIn), selectable: Opt(FlagIn) }),
    output: T.Object({ plan: AdminPlanOut }),
  },
  'add-rates': {
    input: T.Object({
      plan_id: IdIn,
      rates: T.Array(T.Object({
        prefix: T.Union([T.String(), T.Integer()], { description: '1-15 digits' }), destination: Text(), rate: MoneyIn,
        connect_charge: Opt(MoneyIn), initblock: Opt(IntIn('Seconds, default 1')),
        billingblock: Opt(IntIn('Seconds, default 1')), minimal_time: Opt(IntIn('Seconds, default 0')),
      }), { description: 'At most 10,000 rows per request; the CSV import takes more' }),
    }),
    output: T.Object({ plan_id: T.Integer(), upserted: T.Integer(), retail_plans_updated: T.Integer({ description: 'Retail plans written: 0, derived plans are marked up when rated' }) }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'create-reseller': {
    input: T.Object({ login: Opt(LoginIn), password: Opt(Text()), plan_id: IdIn, balance: Opt(MoneyIn), markup_percent: Opt(MoneyIn) }),
    output: T.Object({
      reseller: AdminAccountOut,
      retail_plan: T.Object({ ...AdminPlanOut.properties, rates: T.Integer({ description: 'Rate rows written into the retail plan: 0, its prices are the wholesale rows at the markup, computed when rating' }) }),
      api_key: ApiKeyOut,
      password: PasswordOut,
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['LOGIN_TAKEN'] },
  },
  'create-client': {
    input: T.Object({ login: Opt(LoginIn), password: Opt(Text()), plan_id: IdIn, balance: Opt(MoneyIn) }),
    output: T.Object({
      client: AdminAccountOut,
      api_key: ApiKeyOut,
      sip: T.Object({ name: T.String(), password: T.String() }),
      password: PasswordOut,
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['LOGIN_TAKEN'] },
  },
  'create-api-key': {
    input: T.Object({ login: LoginIn }),
    output: T.Object({ login: T.String(), api_key: ApiKeyOut }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'api-keys': {
    input: T.Object({ login: LoginIn, ...PagingIn }),
    output: T.Object({ login: T.String(), role: T.String(), ...PageOut, api_keys: T.Array(ApiKeyRecordOut) }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'revoke-api-key': {
    input: T.Object({ id: IdIn }),
    output: T.Object({ login: T.String(), api_key: ApiKeyRecordOut, already_revoked: T.Boolean() }),
    errors: { 404: ['NOT_FOUND'], 409: ['LAST_ADMIN_KEY'] },
  },
  'refill': {
    input: T.Object({ login: LoginIn, amount: MoneyIn, description: Opt(Text()) }),
    output: T.Object({ login: T.String(), amount: Money4, balance: Money4, posting_id: T.Integer() }),
    errors: { 402: ['INSUFFICIENT_BALANCE'], 404: ['NOT_FOUND'] },
  },
  'create-vouchers': {
    input: T.Object({ value: MoneyIn, count: Opt(IntIn('1-10000, default 1')) }),
    output: T.Object({ vouchers: T.Array(T.String()), value: Money4, count: T.Integer() }),
  },
  'set-sms-rate': {
    input: T.Object({
      provider: Text('SMS provider code, e.g. cryptosms'), prefix: T.Union([T.String(), T.Integer()], { description: '1-15 digits' }),
      rate: MoneyIn,
    }),
    output: T.Object({ provider: T.String(), prefix: T.String(), rate: T.String({ pattern: '^\\d+\\.\\d{6}$', description: 'One segment, 6 decimals' }) }),
  },
  'set-esim-margin': {
    input: T.Object({ package_code: Opt(Text('One package; absent: every package without its own')), margin_percent: MoneyIn }),
    output: T.Object({ package_code: T.String({ description: 'The package, or * for all others' }), margin_percent: T.Number() }),
  },
  'refresh-esim-catalog': {
    output: T.Object({ packages: T.Integer(), deactivated: T.Integer() }),
    errors: { 503: ['UPSTREAM_UNAVAILABLE'] },
  },
  'set-account-status': {
    input: T.Object({ login: LoginIn, active: FlagIn }),
    output: T.Object({ login: T.String(), active: T.Integer({ minimum: 0, maximum: 1 }) }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'set-credit': {
    input: T.Object({
      login: LoginIn, postpaid: FlagIn,
      credit_limit: Opt(T.Union([T.Number(), T.String()], { description: 'A decimal amount, as a JSON number or a decimal string: required when postpaid, 0 or absent when not' })),
    }),
    output: T.Object({
      login: T.String(), postpaid: Flag01, credit_limit: Money4, balance: Money4,
      available: T.String({ pattern: Money4.pattern, description: 'balance + credit_limit − open call reservations, 4 decimals; negative when the account owes more than its limit' }),
    }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'create-switch-key': {
    input: T.Object({ name: Text('Letters, digits, dot, dash or underscore; the account is named switch-NAME') }),
    output: T.Object({ login: T.String(), api_key: ApiKeyOut }),
    errors: { 409: ['LOGIN_TAKEN'] },
  },
  'accounts': {
    input: T.Object({ role: Opt(Text('admin, reseller, client or switch')), ...CursorPagingIn }),
    output: T.Object({ ...CursorPageOut, accounts: T.Array(AdminAccountOut) }),
  },
  'account': {
    input: T.Object({ login: LoginIn }),
    output: T.Object({
      account: AdminAccountOut,
      api_keys: T.Array(T.Object({ prefix: T.String(), label: Nullable(T.String()), created_at: LocalTime, revoked: T.Boolean() })),
    }),
    errors: { 404: ['NOT_FOUND'] },
  },
  'verify-ledger': {
    output: T.Object({
      ok_ledger: T.Boolean(),
      accounts_checked: T.Integer(),
      mismatches: T.Array(T.Object({
        login: T.String(), balance: T.String(), postings_sum: T.String(), reserved: T.String(), open_reservations_sum: T.String(),
      })),
    }),
  },
};

const endpoints: Endpoint[] = ADMIN_OPERATIONS.map((op) => ({
  name: op.name, method: op.method, roles: ['admin'], summary: op.summary, ...wire[op.name],
  handler: (ctx, actor, input) => op.run(ctx, actor, input),
}));

export const adminApi: ApiDefinition = {
  name: 'admin', basePath: '/admin-api', title: 'Admin API', flag: 'success', endpoints,
};
