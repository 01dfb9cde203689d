// Client API (`/client-api/index.php`): a client manages its own account. Envelope
// `{"success":true,"data":…}` with an optional `message`, exactly as the original document.
import { Type as T, type TSchema } from '@sinclair/typebox';
import { MAX_ROTATION_GRACE_SECONDS, rotateOwnApiKey } from '../accounts/api-keys.js';
import { balance, changeOwnPassword, me } from '../accounts/self.js';
import { listCalls } from '../calls/history.js';
import { availablePlans, changeOwnPlan } from '../plans/plans.js';
import { listRefills } from '../refills/refills.js';
import { addCallerId, clearCallerId, deleteCallerId, listCallerIds, setActiveCallerId } from '../sip/caller-ids.js';
import { createIpAuth, deleteIpAuth, listIpAuth, setIpAuthStatus } from '../sip/ip-auth.js';
import { createAdditionalSip, deleteSip, listSipAccounts, updateSipPassword } from '../sip/sip-accounts.js';
import { bool, cursorPaging } from '../util/input.js';
import { redeemVoucher } from '../vouchers/vouchers.js';
import {
  CallerIdOut, CallsPageOut, IpAuthOut, RefillsPageOut, RotatedKeyOut, SipAccountOut,
} from './answer-schemas.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { CursorPagingIn, Flag01, FlagIn, IdIn, IntIn, LoginIn, Money4, Nullable, Opt, Text } from './wire-types.js';

const client = ['client'] as const;
const Paging = T.Object(CursorPagingIn);
/** `{"success":true,"data":…}`, with the sentence of a change beside it. */
const Data = <S extends TSchema>(data: S) => T.Object({ data });
const Changed = <S extends TSchema>(data: S) => T.Object({ message: T.String(), data });

const NotFound = (...codes: string[]) => ({ 404: ['NOT_FOUND', ...codes] });

const endpoints: Endpoint[] = [
  {
    name: 'me', method: 'GET', roles: [...client], summary: 'Account status: id, username, balance, active, plan',
    output: Data(T.Object({
      id: T.Integer(), username: T.String(), balance: Money4,
      active: T.Integer({ minimum: 0, maximum: 1, description: '0 for an inactive account, or a client of an inactive reseller' }),
      id_plan: Nullable(T.Integer()), plan_name: Nullable(T.String()),
    })),
    handler: async (_ctx, actor) => ({ data: me(actor) }),
  },
  {
    name: 'balance', method: 'GET', roles: [...client], summary: 'Current balance',
    output: Data(T.Object({ username: T.String(), balance: Money4, credit_limit: Money4 })),
    handler: async (ctx, actor) => ({ data: await balance(ctx, actor) }),
  },
  {
    name: 'plans', method: 'GET', roles: [...client], summary: 'Tariff plans available to this account',
    output: Data(T.Array(T.Object({ id: T.Integer(), name: T.String(), current: T.Boolean() }))),
    handler: async (ctx, actor) => {
      const { plans, currentPlanId } = await availablePlans(ctx, actor);
      return { data: plans.map((p) => ({ id: Number(p.id), name: p.name, current: Number(p.id) === currentPlanId })) };
    },
  },
  {
    name: 'change-plan', method: 'POST', roles: [...client], summary: 'Change to one of the available plans',
    input: T.Object({ id_plan: IdIn }),
    output: Changed(T.Object({ id_plan: T.Integer(), plan_name: T.String() })),
    errors: NotFound(),
    handler: async (ctx, actor, input) => {
      const plan = await changeOwnPlan(ctx, actor, input.id_plan);
      return { message: 'Plan changed', data: { id_plan: Number(plan.id), plan_name: plan.name } };
    },
  },
  {
    name: 'sip', method: 'GET', roles: [...client], summary: 'SIP accounts with login and password (service accounts with include_service=1)',
    input: T.Object({ include_service: Opt(FlagIn) }),
    output: Data(T.Array(SipAccountOut)),
    handler: async (ctx, actor, input) => ({
      data: await listSipAccounts(ctx, actor.id, { includeService: bool(input.include_service, 'include_service', false), withPassword: true }),
    }),
  },
  {
    name: 'create-sip', method: 'POST', roles: [...client], summary: 'Create an additional SIP account (password optional, generated when absent)',
    input: T.Object({ password: Opt(Text('At least 8 characters with letters and digits; generated when absent')) }),
    output: Changed(T.Object({ ...SipAccountOut.properties, password: T.String({ description: 'Shown here and by `sip`' }) })),
    errors: { 409: ['SIP_LIMIT', 'SIP_LOGIN_TAKEN'] },
    handler: async (ctx, actor, input) => ({
      message: 'SIP account created',
      data: await createAdditionalSip(ctx, actor, input.password as string | undefined),
    }),
  },
  {
    name: 'update-sip-password', method: 'POST', roles: [...client], summary: 'Change the password of one of your SIP accounts',
    input: T.Object({ name: LoginIn, password: Text('At least 8 characters with letters and digits') }),
    output: Changed(T.Object({ name: T.String() })),
    errors: NotFound(),
    handler: async (ctx, actor, input) => ({
      message: 'SIP password updated', data: await updateSipPassword(ctx, actor, input.name, input.password),
    }),
  },
  {
    name: 'delete-sip', method: 'POST', roles: [...client], summary: 'Delete an additional SIP account (never the main one)',
    input: T.Object({ name: LoginIn }),
    output: Changed(T.Object({ name: T.String() })),
    errors: { 403: ['MAIN_SIP_ACCOUNT'], ...NotFound() },
    handler: async (ctx, actor, input) => ({ message: 'SIP account deleted', data: await deleteSip(ctx, actor, input.name) }),
  },
  {
    name: 'ip-auth-list', method: 'GET', roles: [...client], summary: 'SIP accounts and active/inactive IP-auth records',
    output: Data(T.Object({
      sip_accounts: T.Array(T.Object({ name: T.String(), type: T.Union([T.Literal('main'), T.Literal('additional')]), active: Flag01 })),
      ip_auth: T.Array(IpAuthOut),
    })),
    handler: async (ctx, actor) => ({ data: await listIpAuth(ctx, actor) }),
  },
  {
    name: 'ip-auth-create', method: 'POST', roles: [...client], summary: 'Bind a public static PBX IP (and port, default 5060) to a SIP account; an IP belongs to one client: 409 IP_TAKEN when another holds it, 409 IP_IN_USE for a bound IP:port',
    input: T.Object({ sip_login: Text(), ip: Text('Public unicast IPv4 address'), port: Opt(IntIn('1-65535, default 5060')) }),
    output: Changed(IpAuthOut),
    errors: { 409: ['IP_IN_USE', 'IP_TAKEN', 'IP_AUTH_LIMIT'], ...NotFound() },
    handler: async (ctx, actor, input) => ({ message: 'IP authentication created', data: await createIpAuth(ctx, actor, input) }),
  },
  {
    name: 'ip-auth-disable', method: 'POST', roles: [...client], summary: 'Disable an IP-auth record (its peer is removed from the switch)',
    input: T.Object({ id: IdIn }),
    output: Changed(IpAuthOut),
    errors: NotFound(),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication disabled', data: await setIpAuthStatus(ctx, actor, input.id, false) }),
  },
  {
    name: 'ip-auth-enable', method: 'POST', roles: [...client], summary: 'Re-enable an IP-auth record',
    input: T.Object({ id: IdIn }),
    output: Changed(IpAuthOut),
    errors: { 409: ['IP_IN_USE', 'IP_TAKEN'], ...NotFound() },
    handler: async (ctx, actor, input) => ({ message: 'IP authentication enabled', data: await setIpAuthStatus(ctx, actor, input.id, true) }),
  },
  {
    name: 'ip-auth-delete', method: 'POST', roles: [...client], summary: 'Delete an IP-auth record permanently',
    input: T.Object({ id: IdIn }),
    output: Changed(T.Object({ id: T.Integer(), peer_name: T.String() })),
    errors: NotFound(),
    handler: async (ctx, actor, input) => ({ message: 'IP authentication deleted', data: await deleteIpAuth(ctx, actor, input.id) }),
  },
  {
    name: 'callerids', method: 'GET', roles: [...client], summary: 'Caller IDs; the active one is presented on calls',
    output: Data(T.Array(CallerIdOut)),
    handler: async (ctx, actor) => ({ data: await listCallerIds(ctx, actor.id) }),
  },
  {
    name: 'add-callerid', method: 'POST', roles: [...client], summary: 'Add a Caller ID (E.164), optionally making it active',
    input: T.Object({
      cid: T.Union([T.String(), T.Number()], { description: 'An E.164 number; spaces, dashes and a leading 00 are normalized' }),
      name: Opt(Text('At most 100 characters')), set_active: Opt(FlagIn),
    }),
    output: Changed(CallerIdOut),
    errors: { 409: ['CALLERID_EXISTS', 'CALLERID_LIMIT'] },
    handler: async (ctx, actor, input) => ({ message: 'Caller ID added', data: await addCallerId(ctx, actor, input) }),
  },
  {
    name: 'set-callerid', method: 'POST', roles: [...client], summary: 'Set an existing Caller ID as active',
    input: T.Object({ cid: T.Union([T.String(), T.Number()], { description: 'The E.164 number of one of your Caller IDs' }) }),
    output: Changed(CallerIdOut),
    errors: NotFound(),
    handler: async (ctx, actor, input) => ({ message: 'Caller ID set as active', data: await setActiveCallerId(ctx, actor, input.cid) }),
  },
  {
    name: 'delete-callerid', method: 'POST', roles: [...client], summary: 'Delete a Caller ID',
    input: T.Object({ id: IdIn }),
    output: Changed(T.Object({ id: T.Integer(), cid: T.String() })),
    errors: NotFound(),
    handler: async (ctx, actor, input) => ({ message: 'Caller ID deleted', data: await deleteCallerId(ctx, actor, input.id) }),
  },
  {
    name: 'clear-callerid', method: 'POST', roles: [...client], summary: 'Clear the active SIP Caller ID',
    input: T.Object({}),
    output: Changed(T.Object({ cleared: T.Boolean({ description: 'false when no Caller ID was active' }) })),
    handler: async (ctx, actor) => ({ message: 'Active Caller ID cleared', data: await clearCallerId(ctx, actor) }),
  },
  {
    name: 'calls', method: 'GET', roles: [...client], summary: 'Call history (answered calls), newest first',
    input: Paging,
    output: Data(CallsPageOut),
    handler: async (ctx, actor, input) => ({ data: await listCalls(ctx, actor.id, cursorPaging(input)) }),
  },
  {
    name: 'refills', method: 'GET', roles: [...client], summary: 'Refill history (refills, vouchers, transfers, payments), newest first',
    input: Paging,
    output: Data(RefillsPageOut),
    handler: async (ctx, actor, input) => ({ data: await listRefills(ctx, actor.id, cursorPaging(input)) }),
  },
  {
    name: 'redeem-voucher', method: 'POST', roles: [...client], summary: 'Redeem an unused voucher code and add its value to the balance',
    input: T.Object({ voucher: T.Union([T.String(), T.Integer()], { description: 'The voucher code (digits)' }) }),
    output: Changed(T.Object({ voucher: T.String(), amount: Money4, balance: Money4 })),
    errors: { 409: ['VOUCHER_USED'], 429: ['RATE_LIMITED'], ...NotFound() },
    handler: async (ctx, actor, input) => ({ message: 'Voucher redeemed', data: await redeemVoucher(ctx, actor, input.voucher) }),
  },
  {
    name: 'change-password', method: 'POST', roles: [...client], summary: 'Change the account password (rate-limited)',
    input: T.Object({ current_password: Text(), new_password: Text('At least 8 characters with letters and digits') }),
    output: Changed(T.Object({ changed: T.Literal(true) })),
    errors: { 403: ['INVALID_PASSWORD'], 429: ['RATE_LIMITED'] },
    handler: async (ctx, actor, input, req) => ({ message: 'Password changed', data: await changeOwnPassword(ctx, actor, input, req.ip) }),
  },
  {
    name: 'rotate-api-key', method: 'POST', roles: [...client],
    summary: 'Replace the calling API key: a new key, shown once; the calling one stops working at once or after grace_seconds (at most 86400)',
    input: T.Object({ grace_seconds: Opt(IntIn(`0-${MAX_ROTATION_GRACE_SECONDS} seconds the calling key keeps working, default 0`)) }),
    output: Changed(RotatedKeyOut),
    errors: { 401: ['UNAUTHORIZED'], 403: ['ACCOUNT_INACTIVE'] },
    handler: async (ctx, actor, input) => {
      const r = await rotateOwnApiKey(ctx, actor, input);
      return { message: 'API key rotated; store the new key now, it is not shown again', data: { api_key: r.apiKey, key: r.key, previous_key: r.previous } };
    },
  },
];

export const clientApi: ApiDefinition = {
  name: 'client', basePath: '/client-api', title: 'Client API', flag: 'success', endpoints,
};
