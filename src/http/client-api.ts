// Client API (`/client-api/index.php`): a client manages its own account. Envelope
// `{"success":true,"data":…}` with an optional `message`, exactly as the original document.
import { Type as T } from '@sinclair/typebox';
import { MAX_ROTATION_GRACE_SECONDS, rotateOwnApiKey } from '../accounts/api-keys.js';
import { balance, changeOwnPassword, me } from '../accounts/self.js';
import { listCalls } from '../calls/history.js';
import { availablePlans, changeOwnPlan } from '../plans/plans.js';
import { listRefills } from '../refills/refills.js';
import { addCallerId, clearCallerId, deleteCallerId, listCallerIds, setActiveCallerId } from '../sip/caller-ids.js';
import { createIpAuth, deleteIpAuth, listIpAuth, setIpAuthStatus } from '../sip/ip-auth.js';
import { createAdditionalSip, deleteSip, listSipAccounts, updateSipPassword } from '../sip/sip-accounts.js';
import { bool, paging } from '../util/input.js';
import { redeemVoucher } from '../vouchers/vouchers.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';

const client = ['client'] as const;
const Id = T.Union([T.Integer({ minimum: 1 }), T.String({ pattern: '^\\d+$' })]);
const Paging = T.Object({
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: T.Optional(T.Integer({ minimum: 0, default: 0 })),
});

const endpoints: Endpoint[] = [
  {
    name: 'me', method: 'GET', roles: [...client], summary: 'Account status: id, username, balance, active, plan',
    handler: async (_ctx, actor) => ({ data: me(actor) }),
  },
  {
    name: 'balance', method: 'GET', roles: [...client], summary: 'Current balance',
    handler: async (ctx, actor) => ({ data: await balance(ctx, actor) }),
  },
  {
    name: 'plans', method: 'GET', roles: [...client], summary: 'Tariff plans available to this account',
    handler: async (ctx, actor) => {
      const { plans, currentPlanId } = await availablePlans(ctx, actor);
      return { data: plans.map((p) => ({ id: Number(p.id), name: p.name, current: Number(p.id) === currentPlanId })) };
    },
  },
  {
    name: 'change-plan', method: 'POST', roles: [...client], summary: 'Change to one of the available plans',
    input: T.Object({ id_plan: Id }),
    handler: async (ctx, actor, input) => {
      const plan = await changeOwnPlan(ctx, actor, input.id_plan);
      return { message: 'Plan changed', data: { id_plan: Number(plan.id), plan_name: plan.name } };
    },
  },
  {
    name: 'sip', method: 'GET', roles: [...client], summary: 'SIP accounts with login and password (service accounts with include_service=1)',
    input: T.Object({ include_service: T.Optional(T.Union([T.Literal('0'), T.Literal('1')])) }),
    handler: async (ctx, actor, input) => ({
      data: await listSipAccounts(ctx, actor.id, { includeService: bool(input.include_service, 'include_service', false), withPassword: true }),
    }),
  },
  {
    name: 'create-sip', method: 'POST', roles: [...client], summary: 'Create an additional SIP account (password optional, generated when absent)',
    input: T.Object({ password: T.Optional(T.String({ minLength: 8 })) }),
    handler: async (ctx, actor, input) => ({
      message: 'SIP account created',
      data: await createAdditionalSip(ctx, actor, input.password as string | undefined),
    }),
  },
  {
    name: 'update-sip-password', method: 'POST', roles: [...client], summary: 'Change the password of one of your SIP accounts',
    input: T.Object({ name: T.String(), password: T.String({ minLength: 8 }) }),
    handler: async (ctx, actor, input) => ({
      message: 'SIP password updated', data: await updateSipPassword(ctx, actor, input.name, input.password),
    }),
  },
  {
    name: 'delete-sip', method: 'POST', roles: [...client], summary: 'Delete an additional SIP account (never the main one)',
    input: T.Object({ name: T.String() }),
    handler: async (ctx, actor, input) => ({ message: 'SIP account deleted', data: await deleteSip(ctx, actor, input.name) }),
  },
  {
    name: 'ip-auth-list', method: 'GET', roles: [...client], summary: 'SIP accounts and active/inactive IP-auth records',
    handler: async (ctx, actor) => ({ data: await listIpAuth(ctx, actor) }),
  },
  {
    name: 'ip-auth-create', method: 'POST', roles: [...client], summary: 'Bind a public static PBX IP (and port, default 5060) to a SIP account; an IP belongs to one client: 409 IP_TAKEN when another holds it, 409 IP_IN_USE for a bound IP:port',
    input: T.Object({ sip_login: T.String(), ip: T.String({ format: 'ipv4' }), port: T.Optional(T.Integer({ minimum: 1, maximum: 65535 })) }),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication created', data: await createIpAuth(ctx, actor, input) }),
  },
  {
    name: 'ip-auth-disable', method: 'POST', roles: [...client], summary: 'Disable an IP-auth record (its peer is removed from the switch)',
    input: T.Object({ id: Id }),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication disabled', data: await setIpAuthStatus(ctx, actor, input.id, false) }),
  },
  {
    name: 'ip-auth-enable', method: 'POST', roles: [...client], summary: 'Re-enable an IP-auth record',
    input: T.Object({ id: Id }),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication enabled', data: await setIpAuthStatus(ctx, actor, input.id, true) }),
  },
  {
    name: 'ip-auth-delete', method: 'POST', roles: [...client], summary: 'Delete an IP-auth record permanently',
    input: T.Object({ id: Id }),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication deleted', data: await deleteIpAuth(ctx, actor, input.id) }),
  },
  {
    name: 'callerids', method: 'GET', roles: [...client], summary: 'Caller IDs; the active one is presented on calls',
    handler: async (ctx, actor) => ({ data: await listCallerIds(ctx, actor.id) }),
  },
  {
    name: 'add-callerid', method: 'POST', roles: [...client], summary: 'Add a Caller ID (E.164), optionally making it active',
    input: T.Object({ cid: T.String(), name: T.Optional(T.String()), set_active: T.Optional(T.Boolean()) }),
    handler: async (ctx, actor, input) => ({ message: 'Caller ID added', data: await addCallerId(ctx, actor, input) }),
  },
  {
    name: 'set-callerid', method: 'POST', roles: [...client], summary: 'Set an existing Caller ID as active',
    input: T.Object({ cid: T.String() }),
    handler: async (ctx, actor, input) => ({ message: 'Caller ID set as active', data: await setActiveCallerId(ctx, actor, input.cid) }),
  },
  {
    name: 'delete-callerid', method: 'POST', roles: [...client], summary: 'Delete a Caller ID',
    input: T.Object({ id: Id }),
    handler: async (ctx, actor, input) => ({ message: 'Caller ID deleted', data: await deleteCallerId(ctx, actor, input.id) }),
  },
  {
    name: 'clear-callerid', method: 'POST', roles: [...client], summary: 'Clear the active SIP Caller ID',
    input: T.Object({}),
    handler: async (ctx, actor) => ({ message: 'Active Caller ID cleared', data: await clearCallerId(ctx, actor) }),
  },
  {
    name: 'calls', method: 'GET', roles: [...client], summary: 'Call history (answered calls), newest first',
    input: Paging,
    handler: async (ctx, actor, input) => ({ data: await listCalls(ctx, actor.id, paging(input)) }),
  },
  {
    name: 'refills', method: 'GET', roles: [...client], summary: 'Refill history (refills, vouchers, transfers, payments), newest first',
    input: Paging,
    handler: async (ctx, actor, input) => ({ data: await listRefills(ctx, actor.id, paging(input)) }),
  },
  {
    name: 'redeem-voucher', method: 'POST', roles: [...client], summary: 'Redeem an unused voucher code and add its value to the balance',
    input: T.Object({ voucher: T.String() }),
    handler: async (ctx, actor, input) => ({ message: 'Voucher redeemed', data: await redeemVoucher(ctx, actor, input.voucher) }),
  },
  {
    name: 'change-password', method: 'POST', roles: [...client], summary: 'Change the account password (rate-limited)',
    input: T.Object({ current_password: T.String(), new_password: T.String({ minLength: 8 }) }),
    handler: async (ctx, actor, input, req) => ({ message: 'Password changed', data: await changeOwnPassword(ctx, actor, input, req.ip) }),
  },
  {
    name: 'rotate-api-key', method: 'POST', roles: [...client],
    summary: 'Replace the calling API key: a new key, shown once; the calling one stops working at once or after grace_seconds (at most 86400)',
    input: T.Object({ grace_seconds: T.Optional(T.Integer({ minimum: 0, maximum: MAX_ROTATION_GRACE_SECONDS, default: 0 })) }),
    handler: async (ctx, actor, input) => {
      const r = await rotateOwnApiKey(ctx, actor, input);
      return { message: 'API key rotated; store the new key now, it is not shown again', data: { api_key: r.apiKey, key: r.key, previous_key: r.previous } };
    },
  },
];

export const clientApi: ApiDefinition = {
  name: 'client', basePath: '/client-api', title: 'Client API', flag: 'success', endpoints,
};
