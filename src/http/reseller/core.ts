// Reseller API core: the reseller's account and plans, its clients, retail credit (transfers
// and portal payments), its transactions, and its markup over wholesale.
import { Type as T } from '@sinclair/typebox';
import {
  changeResellerClientPlan, createResellerClient, getResellerClient, listResellerClients,
  resellerMe, resellerPlans, setResellerClientStatus,
} from '../../resellers/clients.js';
import { agentMarkup, previewAgentMarkup, setAgentMarkup } from '../../resellers/markup.js';
import { registerAgentPayment } from '../../resellers/payments.js';
import { listTransactions } from '../../resellers/transactions.js';
import { transfer } from '../../resellers/transfers.js';
import type { Endpoint } from '../endpoint.js';

const reseller = ['reseller'] as const;
const Money = T.Union([T.Number(), T.String({ pattern: '^\\d+(\\.\\d+)?$' })]);
const Id = T.Union([T.Integer({ minimum: 1 }), T.String({ pattern: '^\\d+$' })]);
const Percent = T.Union([T.Number({ minimum: 0, maximum: 1000 }), T.String({ pattern: '^\\d+(\\.\\d+)?$' })]);
const Paging = {
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: T.Optional(T.Integer({ minimum: 0, default: 0 })),
};

export const coreEndpoints: Endpoint[] = [
  {
    name: 'me', method: 'GET', roles: [...reseller], summary: 'Reseller account: id, username, group, balance (wholesale), active',
    handler: async (_ctx, actor) => ({ reseller: resellerMe(actor) }),
  },
  {
    name: 'plans', method: 'GET', roles: [...reseller], summary: 'The reseller\'s own plans with their number of retail rate rows (agent_rates)',
    handler: async (ctx, actor) => ({ plans: await resellerPlans(ctx, actor) }),
  },
  {
    name: 'create-client', method: 'POST', roles: [...reseller],
    summary: 'Create a client on one of your plans with its main SIP account; SIP password, API key and a generated password are shown only here',
    input: T.Object({ plan_id: Id, login: T.Optional(T.String()), password: T.Optional(T.String({ minLength: 8 })) }),
    handler: (ctx, actor, input) => createResellerClient(ctx, actor, input),
  },
  {
    name: 'client', method: 'GET', roles: [...reseller], summary: 'One of your clients (no passwords)',
    input: T.Object({ login: T.String() }),
    handler: (ctx, actor, input) => getResellerClient(ctx, actor, input.login),
  },
  {
    name: 'clients', method: 'GET', roles: [...reseller], summary: 'Your clients, with the total count',
    input: T.Object(Paging),
    handler: (ctx, actor, input) => listResellerClients(ctx, actor, input),
  },
  {
    name: 'transfer', method: 'POST', roles: [...reseller],
    summary: 'Credit retail balance to one of your clients (you are charged at wholesale only when it calls); a repeated external_id replays',
    input: T.Object({ login: T.String(), amount: Money, external_id: T.Optional(T.String({ maxLength: 200 })) }),
    idempotencyField: 'external_id',
    handler: (ctx, actor, input) => transfer(ctx, actor, input),
  },
  {
    name: 'transactions', method: 'GET', roles: [...reseller], summary: 'Your transfers and payments, newest first; status=success keeps the credited ones',
    input: T.Object({ status: T.Optional(T.String()), ...Paging }),
    handler: (ctx, actor, input) => listTransactions(ctx, actor, input),
  },
  {
    name: 'set-client-status', method: 'POST', roles: [...reseller], summary: 'Activate or deactivate one of your clients',
    input: T.Object({ login: T.String(), active: T.Boolean() }),
    handler: (ctx, actor, input) => setResellerClientStatus(ctx, actor, input),
  },
  {
    name: 'change-plan', method: 'POST', roles: [...reseller], summary: 'Move one of your clients to another of your plans',
    input: T.Object({ login: T.String(), plan_id: Id }),
    handler: (ctx, actor, input) => changeResellerClientPlan(ctx, actor, input),
  },
  {
    name: 'register-agent-payment', method: 'POST', roles: [...reseller],
    summary: 'Record a payment your portal received for a client; credits the client only when status is paid, once per external_id',
    input: T.Object({
      login: T.String(), amount: Money, currency: T.Optional(T.String({ maxLength: 8 })), provider: T.Optional(T.String({ maxLength: 64 })),
      external_id: T.String({ maxLength: 200 }), provider_txid: T.Optional(T.String({ maxLength: 200 })), status: T.String({ maxLength: 16 }),
    }),
    handler: (ctx, actor, input) => registerAgentPayment(ctx, actor, input),
  },
  {
    name: 'agent-markup', method: 'BOTH', roles: [...reseller], summary: 'Current markup over wholesale and the retail plan it applies to',
    handler: (ctx, actor) => agentMarkup(ctx, actor),
  },
  {
    name: 'preview-agent-markup', method: 'BOTH', roles: [...reseller],
    summary: 'Retail prices a new markup would give for the first rows (wholesale, current, new); changes nothing',
    input: T.Object({ markup_percent: Percent, limit: T.Optional(T.Integer({ minimum: 1, maximum: 100, default: 10 })) }),
    handler: (ctx, actor, input) => previewAgentMarkup(ctx, actor, input),
  },
  {
    name: 'set-agent-markup', method: 'POST', roles: [...reseller],
    summary: 'Apply a new markup: rewrites the retail plan from wholesale; when that markup is already active nothing is rewritten',
    input: T.Object({ markup_percent: Percent }),
    handler: (ctx, actor, input) => setAgentMarkup(ctx, actor, input),
  },
];
