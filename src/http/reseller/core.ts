// Reseller API core: the reseller's account and plans, its clients, retail credit (transfers
// and portal payments), its transactions, and its markup over wholesale.
import { Type as T } from '@sinclair/typebox';
import {
  changeResellerClientPlan, createResellerClient, getResellerClient, listResellerClients,
  resellerMe, resellerPlans, setResellerClientStatus,
} from '../../resellers/clients.js';
import { agentMarkup, previewAgentMarkup, setAgentMarkup } from '../../resellers/markup.js';
import { registerAgentPayment } from '../../resellers/payments.js';
import { ACCEPTED_PAYMENT_STATUSES } from '../../resellers/payment-statuses.js';
import { listTransactions } from '../../resellers/transactions.js';
import { transfer } from '../../resellers/transfers.js';
import { ResellerClientOut, RetailPlanSummaryOut, TransactionOut } from '../answer-schemas.js';
import type { Endpoint } from '../endpoint.js';
import { CursorPageOut, CursorPagingIn, FlagIn, IdIn, IntIn, LoginIn, MoneyIn, MoneyNumber, Nullable, Opt, Text } from '../wire-types.js';

const reseller = ['reseller'] as const;
const ExternalId = T.Union([T.String(), T.Integer()], { description: 'Your own id of this credit (at most 200 characters); a repeat replays the first answer' });
const Percent = T.Union([T.Number(), T.String()], { description: 'Markup in percent over wholesale (0-1000), as a number or a decimal string' });
const PercentOut = T.Number({ description: 'Percent over wholesale' });
const NotFound = { 404: ['NOT_FOUND'] };

export const coreEndpoints: Endpoint[] = [
  {
    name: 'me', method: 'GET', roles: [...reseller], summary: 'Reseller account: id, username, group, balance (wholesale), active',
    output: T.Object({
      reseller: T.Object({ id: T.Integer(), username: T.String(), group: T.Literal('Agent'), balance: MoneyNumber, active: T.Boolean() }),
    }),
    handler: async (_ctx, actor) => ({ reseller: resellerMe(actor) }),
  },
  {
    name: 'plans', method: 'GET', roles: [...reseller], summary: 'The reseller\'s own plans with their number of retail rate rows (agent_rates)',
    output: T.Object({
      plans: T.Array(T.Object({
        id: T.Integer(), name: T.String(), signup: T.Boolean(), initial_credit: MoneyNumber, tariff_limit: T.Integer(), agent_rates: T.Integer(),
      })),
    }),
    handler: async (ctx, actor) => ({ plans: await resellerPlans(ctx, actor) }),
  },
  {
    name: 'create-client', method: 'POST', roles: [...reseller],
    summary: 'Create a client on one of your plans with its main SIP account; SIP password, API key and a generated password are shown only here',
    input: T.Object({ plan_id: IdIn, login: Opt(LoginIn), password: Opt(Text('At least 8 characters with letters and digits; generated when absent')) }),
    output: T.Object({
      client: ResellerClientOut,
      sip: T.Object({ name: T.String(), password: T.String({ description: 'Shown only here' }) }),
      api_key: T.String({ description: 'The client\'s API key, shown only here' }),
      password: T.Optional(T.String({ description: 'The generated account password, shown only here (absent when one was given)' })),
    }),
    errors: { ...NotFound, 409: ['LOGIN_TAKEN'] },
    handler: (ctx, actor, input) => createResellerClient(ctx, actor, input),
  },
  {
    name: 'client', method: 'GET', roles: [...reseller], summary: 'One of your clients (no passwords)',
    input: T.Object({ login: LoginIn }),
    output: T.Object({
      client: T.Object({
        ...ResellerClientOut.properties,
        sip_accounts: T.Array(T.Object({ name: T.String(), type: T.Union([T.Literal('main'), T.Literal('additional')]), active: T.Boolean() })),
      }),
    }),
    errors: NotFound,
    handler: (ctx, actor, input) => getResellerClient(ctx, actor, input.login),
  },
  {
    name: 'clients', method: 'GET', roles: [...reseller], summary: 'Your clients, with the total count',
    input: T.Object({ ...CursorPagingIn, search: Opt(Text('Ledgerline\'s addition: the start of a login or a part of the name, any case; total then counts the matches')) }),
    output: T.Object({ ...CursorPageOut, clients: T.Array(ResellerClientOut) }),
    handler: (ctx, actor, input) => listResellerClients(ctx, actor, input),
  },
  {
    name: 'transfer', method: 'POST', roles: [...reseller],
    summary: 'Credit retail balance to one of your clients (you are charged at wholesale only when it calls); a repeated external_id replays',
    input: T.Object({ login: LoginIn, amount: MoneyIn, external_id: Opt(ExternalId) }),
    idempotencyField: 'external_id',
    output: T.Object({ transaction: TransactionOut, client: T.Object({ login: T.String(), balance: MoneyNumber }) }),
    errors: { ...NotFound, 409: ['DUPLICATE_EXTERNAL_ID'] },
    handler: (ctx, actor, input) => transfer(ctx, actor, input),
  },
  {
    name: 'transactions', method: 'GET', roles: [...reseller], summary: 'Your transfers and payments, newest first; status=success keeps the credited ones',
    input: T.Object({ status: Opt(Text('A status word: success, pending, failed, …')), ...CursorPagingIn }),
    output: T.Object({ ...CursorPageOut, transactions: T.Array(TransactionOut) }),
    handler: (ctx, actor, input) => listTransactions(ctx, actor, input),
  },
  {
    name: 'set-client-status', method: 'POST', roles: [...reseller], summary: 'Activate or deactivate one of your clients',
    input: T.Object({ login: LoginIn, active: FlagIn }),
    output: T.Object({ login: T.String(), active: T.Boolean(), changed: T.Boolean() }),
    errors: NotFound,
    handler: (ctx, actor, input) => setResellerClientStatus(ctx, actor, input),
  },
  {
    name: 'change-plan', method: 'POST', roles: [...reseller], summary: 'Move one of your clients to another of your plans',
    input: T.Object({ login: LoginIn, plan_id: IdIn }),
    output: T.Object({ login: T.String(), plan_id: T.Integer(), plan_name: T.String(), changed: T.Boolean() }),
    errors: NotFound,
    handler: (ctx, actor, input) => changeResellerClientPlan(ctx, actor, input),
  },
  {
    name: 'register-agent-payment', method: 'POST', roles: [...reseller],
    summary: 'Record a payment your portal received for a client; credits the client once per external_id when the status means paid (paid; Plisio completed, mismatch; Heleket paid_over)',
    input: T.Object({
      login: LoginIn, amount: MoneyIn, currency: Opt(Text('Currency code such as EUR, USD or USDT')), provider: Opt(Text('plisio, heleket, …')),
      external_id: ExternalId, provider_txid: Opt(Text()), status: Text(`The provider's own status word: ${ACCEPTED_PAYMENT_STATUSES.join(', ')}`),
    }),
    output: T.Object({
      transaction: TransactionOut,
      credited: T.Boolean({ description: 'Whether the client has been credited (now or by an earlier report)' }),
      duplicate: T.Boolean({ description: 'true when this external_id was reported before' }),
    }),
    errors: { 400: ['UNKNOWN_PAYMENT_STATUS'], ...NotFound, 409: ['IDEMPOTENCY_MISMATCH'] },
    handler: (ctx, actor, input) => registerAgentPayment(ctx, actor, input),
  },
  {
    name: 'agent-markup', method: 'BOTH', roles: [...reseller], summary: 'Current markup over wholesale and the retail plan it applies to',
    output: T.Object({ markup_percent: PercentOut, retail_plan: RetailPlanSummaryOut }),
    errors: { 409: ['NO_RETAIL_PLAN'] },
    handler: (ctx, actor) => agentMarkup(ctx, actor),
  },
  {
    name: 'preview-agent-markup', method: 'BOTH', roles: [...reseller],
    summary: 'Retail prices a new markup would give for the first rows (wholesale, current, new); changes nothing',
    input: T.Object({ markup_percent: Percent, limit: Opt(IntIn('Rows, 1-100, default 10')) }),
    output: T.Object({
      markup_percent: PercentOut,
      current_markup_percent: PercentOut,
      changed: T.Boolean(),
      retail_plan: RetailPlanSummaryOut,
      rates: T.Array(T.Object({
        prefix: T.String(), destination: T.String(),
        wholesale_rate: MoneyNumber, current_rate: Nullable(MoneyNumber), new_rate: MoneyNumber,
        wholesale_connect_charge: MoneyNumber, current_connect_charge: Nullable(MoneyNumber), new_connect_charge: MoneyNumber,
        override: T.Boolean({ description: 'The retail plan has its own price for this prefix: it stays at any markup' }),
      })),
    }),
    errors: { 409: ['NO_RETAIL_PLAN'] },
    handler: (ctx, actor, input) => previewAgentMarkup(ctx, actor, input),
  },
  {
    name: 'set-agent-markup', method: 'POST', roles: [...reseller],
    summary: 'Apply a new markup: the next call of every client is rated at it (retail prices are computed from wholesale, never rewritten: rates_rewritten is 0); overrides keep their prices',
    input: T.Object({ markup_percent: Percent }),
    output: T.Object({
      changed: T.Boolean(),
      markup_percent: PercentOut,
      previous_markup_percent: T.Optional(PercentOut),
      retail_plan: RetailPlanSummaryOut,
      rates_rewritten: T.Optional(T.Integer({ description: 'Rows rewritten: 0, retail prices are computed from wholesale when rating' })),
      message: T.Optional(T.String({ description: 'Present when the markup was already active' })),
    }),
    errors: { 409: ['NO_RETAIL_PLAN'] },
    handler: (ctx, actor, input) => setAgentMarkup(ctx, actor, input),
  },
];
