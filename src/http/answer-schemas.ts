// Output schemas of the records several endpoints answer with (a call, a refill, a SIP
// account, …), each exactly as the service renders it.
import { Type as T } from '@sinclair/typebox';
import { CursorPageOut, Flag01, LocalTime, Money4, MoneyNumber, Nullable } from './wire-types.js';

export const SipType = T.Union([T.Literal('main'), T.Literal('additional'), T.Literal('webphone'), T.Literal('ip-auth')]);

/** A SIP account as the Client API lists it (the password only where the endpoint shows it). */
export const SipAccountOut = T.Object({
  id: T.Integer(),
  name: T.String(),
  username: T.String(),
  password: Nullable(T.String()),
  host: T.String({ description: 'The SIP domain (registrar) of the switch' }),
  callerid: Nullable(T.String({ description: 'The active Caller ID presented on calls' })),
  type: SipType,
  active: Flag01,
  created_at: LocalTime,
});

/** The same without the password: portal answers never carry one. */
export const SipAccountNoSecretOut = T.Omit(SipAccountOut, ['password']);

export const IpAuthOut = T.Object({
  id: T.Integer(),
  sip_login: T.String(),
  peer_name: T.String({ description: '`<sip_login>_ipaN`' }),
  ip: T.String(),
  port: T.Integer(),
  status: Flag01,
  created_at: LocalTime,
});

export const CallerIdOut = T.Object({
  id: T.Integer(),
  cid: T.String({ description: 'E.164' }),
  name: Nullable(T.String()),
  active: Flag01,
  created_at: LocalTime,
});

export const CallOut = T.Object({
  id: T.Integer(),
  uniqueid: T.String(),
  starttime: LocalTime,
  sip_login: Nullable(T.String()),
  callerid: Nullable(T.String()),
  destination: T.String(),
  destination_name: Nullable(T.String()),
  prefix: Nullable(T.String()),
  sessiontime: T.Integer({ description: 'Answered seconds' }),
  billed_seconds: T.Integer(),
  cost: Money4,
  disposition: T.String({ description: 'ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION' }),
  hangup_cause: Nullable(T.String()),
});

export const CallsPageOut = T.Object({ ...CursorPageOut, calls: T.Array(CallOut) });

export const RefillOut = T.Object({
  id: T.Integer(),
  date: LocalTime,
  amount: Money4,
  balance_after: Money4,
  kind: T.String({ description: 'refill, voucher, transfer or payment' }),
  description: Nullable(T.String()),
});

export const RefillsPageOut = T.Object({ ...CursorPageOut, refills: T.Array(RefillOut) });

/** An account as the Admin API shows it. */
export const AdminAccountOut = T.Object({
  id: T.Integer(),
  login: T.String(),
  role: T.Union([T.Literal('admin'), T.Literal('reseller'), T.Literal('client'), T.Literal('switch')]),
  parent_id: Nullable(T.Integer()),
  plan_id: Nullable(T.Integer()),
  retail_plan_id: Nullable(T.Integer()),
  balance: Money4,
  credit_limit: Money4,
  postpaid: Flag01,
  active: Flag01,
  markup_percent: Nullable(T.String({ description: 'Percent with 2 decimals (resellers)' })),
  name: Nullable(T.String()),
  email: Nullable(T.String()),
  created_at: LocalTime,
});

export const AdminPlanOut = T.Object({
  id: T.Integer(),
  name: T.String(),
  signup: T.Boolean(),
  initial_credit: MoneyNumber,
  selectable: T.Boolean(),
  owner_id: Nullable(T.Integer({ description: 'The reseller owning a retail plan; null for the operator\'s plans' })),
  wholesale_plan_id: Nullable(T.Integer()),
});

/** A client as its reseller sees it: never a password or a SIP secret. */
export const ResellerClientOut = T.Object({
  id: T.Integer(),
  login: T.String(),
  username: T.String(),
  plan_id: Nullable(T.Integer()),
  plan_name: Nullable(T.String()),
  balance: MoneyNumber,
  active: T.Boolean(),
  name: Nullable(T.String()),
  email: Nullable(T.String()),
  phone: Nullable(T.String()),
  language: Nullable(T.String()),
  created_at: LocalTime,
});

/** A transfer or portal payment of a reseller. */
export const TransactionOut = T.Object({
  id: T.Integer(),
  type: T.Union([T.Literal('transfer'), T.Literal('payment')]),
  login: T.String(),
  amount: MoneyNumber,
  currency: Nullable(T.String()),
  status: T.String({ description: '`success` once credited; payments may also read pending, failed, expired, …' }),
  credited: T.Boolean(),
  external_id: Nullable(T.String()),
  provider: Nullable(T.String()),
  provider_txid: Nullable(T.String()),
  created_at: LocalTime,
  updated_at: LocalTime,
});

/** The agent (reseller) as its own portal shows it, in `portal-bootstrap` and `agent-auth`: never its balance. */
export const PortalAgentOut = T.Object({
  login: T.String(),
  name: T.String({ description: 'The account name; the login when it has none' }),
  active: T.Boolean(),
});

/** A client in the agent portal (the profile `client-auth`, `client-dashboard` and `client-profile-update` show). */
export const PortalClientOut = T.Object({
  id: T.Integer(),
  login: T.String(),
  username: T.String(),
  name: Nullable(T.String()),
  email: Nullable(T.String()),
  phone: Nullable(T.String()),
  language: Nullable(T.String()),
  active: T.Boolean(),
  id_plan: Nullable(T.Integer()),
  plan_name: Nullable(T.String()),
  created_at: LocalTime,
});

export const RetailPlanSummaryOut = T.Object({ id: T.Integer(), name: T.String(), agent_rates: T.Integer({ description: 'Rate rows of the retail plan: its wholesale rows at the markup and its own overrides, counted once per prefix' }) });

/** An API key as listed: never the key or its hash. */
export const ApiKeyOut = T.Object({
  id: T.Integer(),
  prefix: T.String({ description: 'The first characters of the key, to tell keys apart' }),
  role: T.String(),
  label: Nullable(T.String()),
  created_at: Nullable(LocalTime),
  last_used_at: Nullable(LocalTime),
  revoked_at: Nullable(T.String({ description: 'When it stopped (or, in a rotation grace period, will stop) working' })),
  active: T.Boolean(),
});

/** The answer of rotate-api-key, in each API's envelope. */
export const RotatedKeyOut = T.Object({
  api_key: T.String({ description: 'The new key, shown once' }),
  key: ApiKeyOut,
  previous_key: T.Object({ ...ApiKeyOut.properties, grace_seconds: T.Integer() }),
});

// The Reseller API renders amounts as JSON numbers and flags as booleans (CONTRACT §2): its
// portal answers carry the Client API's records in those types.
export const PortalSipAccountOut = T.Object({ ...SipAccountNoSecretOut.properties, active: T.Boolean() });
export const PortalCallOut = T.Object({ ...CallOut.properties, cost: MoneyNumber });
export const PortalRefillOut = T.Object({ ...RefillOut.properties, amount: MoneyNumber, balance_after: MoneyNumber });
export const PortalCallerIdOut = T.Object({ ...CallerIdOut.properties, active: T.Boolean() });
