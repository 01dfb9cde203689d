// SMS API (`/sms-api/index.php`, CONTRACT §5): a client key sends for the client and is charged;
// a reseller key names its own client with `client_login` on every endpoint (another reseller's
// client answers 404). Flat envelope, fields as the original document's examples show them.
import { Type as T } from '@sinclair/typebox';
import {
  handOverSms, sendSms, smsHistory, smsProviderList, smsQuota, smsRates, smsStatus,
} from '../sms/messages.js';
import {
  cancelCampaign, cancelScheduledSms, createCampaign, listCampaigns, scheduledSms, scheduleSms,
} from '../sms/scheduling.js';
import type { ApiDefinition, Endpoint } from './endpoint.js';
import { ClientLoginIn, IdIn, Money4, Nullable, Opt, PageOut, PagingIn, Text } from './wire-types.js';

const payers = ['client', 'reseller'] as const;
const ClientLogin = ClientLoginIn('required with a reseller key; a client key acts for itself');
const Rate6 = T.String({ pattern: '^\\d+\\.\\d{6}$', description: 'Price of one segment, 6 decimals' });
const Status = T.String({ description: 'SCHEDULED, QUEUED, SENT_TO_PROVIDER, DELIVERED, FAILED or CANCELLED' });
const ProviderIn = Opt(Text('Provider code (see providers); default cryptosms'));
const TimeOut = Nullable(T.String({ description: 'YYYY-MM-DD HH:MM:SS in the server\'s time zone' }));

const MessageOut = T.Object({
  sms_id: T.Integer(), provider: T.String(), provider_name: T.String(), phone: T.String({ description: 'E.164' }),
  sender_id: Nullable(T.String()), message: T.String(), encoding: T.String({ description: 'GSM-7 or UCS-2' }),
  segments: T.Integer(), rate: Rate6, cost: Money4, status: Status,
  error_code: Nullable(T.String({ description: 'Why it failed: REJECTED, UNDELIVERED, INSUFFICIENT_BALANCE, …' })),
  campaign_id: Nullable(T.Integer()), scheduled_at: TimeOut, created_at: TimeOut, sent_at: TimeOut, finished_at: TimeOut,
});

const endpoints: Endpoint[] = [
  {
    name: 'providers', method: 'GET', roles: [...payers], summary: 'The SMS providers messages can be sent with',
    output: T.Object({ providers: T.Array(T.Object({ code: T.String(), name: T.String(), default: T.Boolean() })) }),
    handler: (ctx) => smsProviderList(ctx),
  },
  {
    name: 'rates', method: 'GET', roles: [...payers], summary: 'SMS prices of one segment by destination prefix, as the client pays them',
    input: T.Object({ provider: ProviderIn, ...ClientLogin }),
    output: T.Object({ rates: T.Array(T.Object({ provider: T.String(), provider_name: T.String(), prefix: T.String(), rate: Rate6 })) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => smsRates(ctx, actor, input),
  },
  {
    name: 'quota', method: 'BOTH', roles: [...payers], summary: 'How many one-segment SMS the available balance pays for, per destination prefix',
    input: T.Object({ provider: ProviderIn, ...ClientLogin }),
    output: T.Object({
      provider: T.String(), provider_name: T.String(), available: Money4,
      quota: T.Array(T.Object({ prefix: T.String(), rate: Rate6, messages: T.Integer() })),
    }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => smsQuota(ctx, actor, input),
  },
  {
    name: 'send', method: 'POST', roles: [...payers], transactional: true,
    summary: 'Send one SMS: recorded and charged per segment, then handed to the provider; send Idempotency-Key to retry safely',
    input: T.Object({
      ...ClientLogin, phone: T.Union([T.String(), T.Number()], { description: 'International number: +, country code, number' }),
      provider: ProviderIn, sender_id: Opt(Text('Up to 11 letters, digits and spaces, or a number; never guaranteed')),
      message: Text('The text: GSM-7 160 characters per SMS (153 each when longer), else UCS-2 70 (67); at most 10 segments'),
    }),
    output: T.Object({
      sms_id: T.Integer(), provider: T.String(), provider_name: T.String(), status: Status,
      error_code: T.Optional(T.String({ description: 'Why the provider did not take it' })),
      balance_after: Money4, segments: T.Integer(), encoding: T.String(), cost: Money4,
      sender_id: T.Object({ requested: Nullable(T.String()), guaranteed: T.Boolean(), warning: T.String() }),
    }),
    errors: { 400: ['NO_RATE'], 402: ['INSUFFICIENT_BALANCE', 'RESELLER_INSUFFICIENT_BALANCE'], 403: ['ACCOUNT_INACTIVE'], 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => sendSms(ctx, actor, input),
    afterCommit: (ctx, answer) => handOverSms(ctx, answer),
  },
  {
    name: 'schedule', method: 'POST', roles: [...payers],
    summary: 'Schedule one SMS for a time (server-local or ISO 8601 with offset, up to a year ahead); charged when sent',
    input: T.Object({
      ...ClientLogin, phone: T.Union([T.String(), T.Number()], { description: 'International number' }), provider: ProviderIn,
      sender_id: Opt(Text('Never guaranteed')), message: Text('The text, at most 10 segments'),
      scheduled_at: Text('YYYY-MM-DD HH:MM:SS in the server\'s time zone (see server_utc_offset), or ISO 8601 with an offset'),
    }),
    output: T.Object({ scheduled_sms_id: T.Integer(), provider: T.String(), status: Status, scheduled_at: TimeOut, server_utc_offset: T.String() }),
    errors: { 400: ['NO_RATE'], 403: ['ACCOUNT_INACTIVE'], 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => scheduleSms(ctx, actor, input),
  },
  {
    name: 'scheduled', method: 'BOTH', roles: [...payers], summary: 'The client\'s scheduled SMS not yet sent, soonest first',
    input: T.Object({ ...PagingIn, ...ClientLogin }),
    output: T.Object({ ...PageOut, server_utc_offset: T.String(), scheduled: T.Array(MessageOut) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => scheduledSms(ctx, actor, input),
  },
  {
    name: 'cancel-scheduled', method: 'POST', roles: [...payers], summary: 'Cancel a scheduled SMS not yet sent',
    input: T.Object({ scheduled_sms_id: IdIn, ...ClientLogin }),
    output: T.Object({ scheduled_sms_id: T.Integer(), status: Status }),
    errors: { 404: ['NOT_FOUND'], 409: ['NOT_CANCELLABLE'] },
    handler: (ctx, actor, input) => cancelScheduledSms(ctx, actor, input),
  },
  {
    name: 'bulk', method: 'POST', roles: [...payers],
    summary: 'A campaign: one text to many numbers (validated, de-duplicated), now or at scheduled_at; each charged when sent',
    input: T.Object({
      ...ClientLogin, phones: T.Array(T.Union([T.String(), T.Number()]), { description: 'International numbers, at most 100,000' }),
      provider: ProviderIn, sender_id: Opt(Text('Never guaranteed')), message: Text('The text, at most 10 segments'),
      scheduled_at: Opt(Text('When to send; absent: now')),
    }),
    output: T.Object({
      campaign_id: T.Integer(), recipients_queued: T.Integer(), status: T.String({ description: 'QUEUED' }),
      duplicates_removed: T.Integer(), rejected_count: T.Integer(),
      rejected: T.Array(T.Object({ phone: T.String(), reason: T.String({ description: 'INVALID_NUMBER or NO_RATE' }) }), { description: 'The first 100' }),
      estimated_cost: Money4, scheduled_at: TimeOut, server_utc_offset: T.String(),
    }),
    errors: { 402: ['INSUFFICIENT_BALANCE', 'RESELLER_INSUFFICIENT_BALANCE'], 403: ['ACCOUNT_INACTIVE'], 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => createCampaign(ctx, actor, input),
    afterCommit: async (ctx) => { ctx.sms?.wake(); return {}; },
  },
  {
    name: 'campaigns', method: 'BOTH', roles: [...payers], summary: 'The client\'s campaigns, newest first, with their messages by status',
    input: T.Object({ ...PagingIn, ...ClientLogin }),
    output: T.Object({
      ...PageOut,
      campaigns: T.Array(T.Object({
        campaign_id: T.Integer(), provider: T.String(), provider_name: T.String(), sender_id: Nullable(T.String()), message: T.String(),
        status: T.String({ description: 'QUEUED, SENDING, COMPLETED or CANCELLED' }), recipients: T.Integer(), rejected: T.Integer(),
        messages: T.Object({
          scheduled: T.Integer(), queued: T.Integer(), sent_to_provider: T.Integer(), delivered: T.Integer(), failed: T.Integer(), cancelled: T.Integer(),
        }),
        scheduled_at: TimeOut, created_at: TimeOut,
      })),
    }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => listCampaigns(ctx, actor, input),
  },
  {
    name: 'cancel-campaign', method: 'POST', roles: [...payers], summary: 'Cancel a campaign: every message not yet sent is cancelled',
    input: T.Object({ campaign_id: IdIn, ...ClientLogin }),
    output: T.Object({ campaign_id: T.Integer(), status: T.String(), messages_cancelled: T.Integer() }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => cancelCampaign(ctx, actor, input),
  },
  {
    name: 'status', method: 'GET', roles: [...payers], summary: 'One SMS with its status',
    input: T.Object({ id: IdIn, ...ClientLogin }),
    output: MessageOut,
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => smsStatus(ctx, actor, input),
  },
  {
    name: 'history', method: 'GET', roles: [...payers], summary: 'The client\'s SMS, newest first',
    input: T.Object({ ...PagingIn, ...ClientLogin }),
    output: T.Object({ ...PageOut, messages: T.Array(MessageOut) }),
    errors: { 404: ['NOT_FOUND'] },
    handler: (ctx, actor, input) => smsHistory(ctx, actor, input),
  },
];

export const smsApi: ApiDefinition = {
  name: 'sms', basePath: '/sms-api', title: 'SMS API', flag: 'success', endpoints,
};
