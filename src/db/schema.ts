// Table types for Kysely. Money columns hold integer micro-units (see money.ts).
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';

/** A money column: read as a number (exact below 2^53 micros), written as bigint or number. */
export type MoneyColumn = ColumnType<number, bigint | number, bigint | number>;
type Id = Generated<number>;

export type Role = 'admin' | 'reseller' | 'client' | 'switch';

export interface AccountsTable {
  id: Id;
  login: string;
  role: Role;
  /** The reseller of a reseller client; null for the admin's direct clients and for non-clients. */
  parent_id: number | null;
  plan_id: number | null;
  balance_micros: MoneyColumn;
  credit_limit_micros: MoneyColumn;
  postpaid: number;
  active: number;
  password_hash: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  language: string | null;
  /** Resellers: markup of the retail plan over wholesale, in micro-percent (20% = 20000000). */
  markup_micro_percent: MoneyColumn | null;
  /** Resellers: the retail plan derived from their wholesale plan. */
  retail_plan_id: number | null;
  /** Sum of open call reservations (kept in step with the reservations table). */
  reserved_micros: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: Id;
  account_id: number;
  key_hash: string;
  key_prefix: string;
  label: string | null;
  created_at: string;
  /** When the key stops working; in the future while a rotated key's grace period runs. */
  revoked_at: string | null;
  /** Refreshed at most once a minute per key and instance. */
  last_used_at: string | null;
}

export interface PlansTable {
  id: Id;
  /** null: the admin's (wholesale or direct-client) plan; else the reseller that owns it. */
  owner_id: number | null;
  name: string;
  signup: number;
  initial_credit_micros: MoneyColumn;
  selectable: number;
  tariff_limit: number;
  /** Retail plans: the wholesale plan they are derived from. */
  wholesale_plan_id: number | null;
  /** Bumped in the transaction of every rate change, so rate caches know when to rebuild. */
  rates_version: Generated<number>;
  created_at: string;
}

export interface RatesTable {
  id: Id;
  plan_id: number;
  prefix: string;
  destination: string;
  rate_micros: MoneyColumn;
  connect_charge_micros: MoneyColumn;
  initblock: number;
  billingblock: number;
  minimal_time: number;
  updated_at: string;
}

/** Row counts of the lists, per owner (migration 0010 lists them); kept by triggers, read-only here. */
export interface ListCountsTable {
  owner_id: number;
  list: string;
  n: number | string | bigint;
}

export interface LedgerPostingsTable {
  id: Id;
  account_id: number;
  amount_micros: MoneyColumn;
  balance_after_micros: MoneyColumn;
  kind: string;
  ref_type: string | null;
  ref_id: string | null;
  description: string | null;
  created_at: string;
}

export interface VouchersTable {
  id: Id;
  code: string;
  value_micros: MoneyColumn;
  /** null: issued by the admin, redeemable by the admin's direct clients; else the reseller. */
  issuer_id: number | null;
  used_by: number | null;
  used_at: string | null;
  created_at: string;
}

export type SipKind = 'main' | 'extra' | 'web' | 'ipa';

export interface SipAccountsTable {
  id: Id;
  account_id: number;
  name: string;
  kind: SipKind;
  secret_enc: string | null;
  ha1: string | null;
  ha1b: string | null;
  active: number;
  created_at: string;
}

export interface IpAuthTable {
  id: Id;
  account_id: number;
  sip_account_id: number;
  peer_name: string;
  ip: string;
  port: number;
  status: number;
  created_at: string;
}

/** Who holds an IP address for IP auth: one client per address (sip/ip-auth.ts). */
export interface IpAuthOwnersTable {
  ip: string;
  account_id: number;
  created_at: string;
}

export interface CallerIdsTable {
  id: Id;
  account_id: number;
  cid: string;
  name: string | null;
  active: number;
  created_at: string;
}

export interface CallsTable {
  id: Id;
  uniqueid: string;
  /** The switch that reported the call (calls/switch-ref.ts); '' on calls from before 0006. */
  switch_ref: string;
  account_id: number;
  sip_account_id: number | null;
  sip_login: string | null;
  destination: string;
  rate_prefix: string | null;
  rate_destination: string | null;
  caller_id: string | null;
  started_at: string;
  answered_seconds: number;
  billed_seconds: number;
  cost_micros: MoneyColumn;
  reseller_id: number | null;
  reseller_cost_micros: MoneyColumn;
  disposition: string;
  hangup_cause: string | null;
  created_at: string;
}

export interface ReservationsTable {
  id: Id;
  uniqueid: string;
  /** The switch that authorized the call (calls/switch-ref.ts); '' on rows from before 0006. */
  switch_ref: string;
  /** The client placing the call (the payer is the client or its reseller). */
  caller_account_id: number | null;
  account_id: number;
  amount_micros: MoneyColumn;
  max_duration: number;
  expires_at: string;
  created_at: string;
  /** The matched rate row of this payer at authorization (null on rows from before 0005). */
  rate_prefix: string | null;
  rate_destination: string | null;
  rate_micros: MoneyColumn | null;
  connect_charge_micros: MoneyColumn | null;
  initblock: number | null;
  billingblock: number | null;
  minimal_time: number | null;
}

export interface ResellerTransactionsTable {
  id: Id;
  reseller_id: number;
  client_id: number;
  /** `transfer` or `payment`. */
  kind: string;
  amount_micros: MoneyColumn;
  currency: string | null;
  /** `success` once credited; payments may also be `pending`, `failed`, `expired`, … */
  status: string;
  /** Unique per reseller and kind (null: no key). */
  external_id: string | null;
  provider: string | null;
  provider_txid: string | null;
  /** The ledger posting that credited the client, once credited. */
  posting_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface IdempotencyKeysTable {
  account_id: number;
  scope: string;
  key: string;
  request_hash: string;
  status_code: number;
  response_json: string;
  created_at: string;
}

export interface AuditLogTable {
  id: Id;
  actor_id: number | null;
  actor_login: string | null;
  actor_role: string | null;
  api: string;
  endpoint: string;
  method: string;
  ip: string | null;
  status_code: number;
  error_code: string | null;
  created_at: string;
}

/** Failed password/voucher attempts per key in a fixed window (PostgreSQL deployments). */
export interface AttemptCountersTable {
  key: string;
  failures: number;
  reset_at_ms: number;
}

/** A CSV rate import, from start to finish (plans/import-journal.ts). */
export interface RateImportsTable {
  id: Id;
  plan_id: number;
  /** The file as given, its size and modification time: what makes a re-run "the same file". */
  file: string;
  file_bytes: number;
  file_mtime: string;
  rows_total: number;
  /** Rows committed, in prefix order: a re-run of the same file resumes after them. */
  rows_written: number;
  /** running | done | failed */
  status: string;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** The operator's wholesale SMS price per provider and destination prefix (sms/rates.ts). */
export interface SmsRatesTable {
  provider: string;
  prefix: string;
  rate_micros: MoneyColumn;
  updated_at: string;
}

export type SmsStatus = 'SCHEDULED' | 'QUEUED' | 'SENT_TO_PROVIDER' | 'DELIVERED' | 'FAILED' | 'CANCELLED';

/** One SMS to one phone (sms/messages.ts). */
export interface SmsMessagesTable {
  id: Id;
  /** The client who sends it and pays the retail price. */
  account_id: number;
  /** For a reseller's client: the reseller, who pays the wholesale price. */
  reseller_id: number | null;
  provider: string;
  /** E.164, with its `+`. */
  phone: string;
  sender_id: string | null;
  message: string;
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  /** The price of one segment the client pays. */
  rate_micros: MoneyColumn;
  cost_micros: MoneyColumn;
  reseller_cost_micros: MoneyColumn;
  status: SmsStatus;
  error_code: string | null;
  provider_message_id: string | null;
  campaign_id: number | null;
  scheduled_at: string | null;
  /** When it was charged: set once, so a message handed back for a retry is not charged again. */
  charged_at: string | null;
  handover_started_at: string | null;
  /** A message its provider could not be asked for (down, throttling) is retried from then. */
  next_attempt_at: string | null;
  sent_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
}

export type SmsCampaignStatus = 'QUEUED' | 'SENDING' | 'COMPLETED' | 'CANCELLED';

/** A `bulk` send: one message row per recipient (sms/campaigns.ts). */
export interface SmsCampaignsTable {
  id: Id;
  account_id: number;
  reseller_id: number | null;
  provider: string;
  sender_id: string | null;
  message: string;
  scheduled_at: string | null;
  status: SmsCampaignStatus;
  /** Recipients queued (after de-duplication); `rejected` were refused as numbers. */
  recipients: number;
  rejected: number;
  created_at: string;
  updated_at: string;
}

/** The eSIM upstream's catalog as last fetched (esim/catalog.ts). */
export interface EsimPackagesTable {
  package_code: string;
  name: string;
  /** The upstream's price in micro-units (its 1/10,000 units times 100). */
  upstream_price_micros: MoneyColumn;
  /** The upstream's price as it names it (1/10,000), sent back with an order. */
  upstream_price_units: number;
  currency: string;
  volume_bytes: number;
  duration_days: number;
  /** ISO codes, comma-separated. */
  countries: string;
  /** locationNetworkList: countries with operators and network types. */
  coverage_json: string;
  /** Lower-case name, country names and codes, region: what `q` searches. */
  search_text: string;
  /** 0 once the upstream no longer lists it. */
  active: number;
  refreshed_at: string;
}

/** The operator's margin on upstream prices: per package, or `*` for every other. */
export interface EsimMarginsTable {
  package_code: string;
  margin_micro_percent: MoneyColumn;
  updated_at: string;
}

export type EsimOrderStatus = 'PENDING' | 'ALLOCATING' | 'READY' | 'REFUNDED';

/** One eSIM purchase (esim/orders.ts). */
export interface EsimOrdersTable {
  id: Id;
  account_id: number;
  package_code: string;
  package_name: string;
  price_micros: MoneyColumn;
  upstream_price_units: number;
  status: EsimOrderStatus;
  /** `LL<debit posting id>`: the upstream order's transactionId. */
  transaction_id: string | null;
  order_no: string | null;
  error_code: string | null;
  iccid: string | null;
  activation_code: string | null;
  smdp_status: string | null;
  esim_status: string | null;
  total_volume_bytes: number | null;
  used_bytes: number | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  synced_at: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

// Projections read by the switches (Asterisk PJSIP realtime, Kamailio).
export interface PsEndpointsTable {
  id: string;
  transport: string | null;
  aors: string | null;
  auth: string | null;
  context: string | null;
  disallow: string | null;
  allow: string | null;
  callerid: string | null;
  direct_media: string | null;
  identify_by: string | null;
  from_domain: string | null;
  accountcode: string | null;
}
export interface PsAuthsTable {
  id: string;
  auth_type: string;
  username: string | null;
  realm: string | null;
  md5_cred: string | null;
  password: string | null;
}
export interface PsAorsTable {
  id: string;
  max_contacts: number | null;
  remove_existing: string | null;
  contact: string | null;
}
export interface PsEndpointIdIpsTable {
  id: string;
  endpoint: string;
  match: string;
}
export interface SubscriberTable {
  id: Id;
  username: string;
  domain: string;
  password: string;
  ha1: string;
  ha1b: string;
}
export interface AddressTable {
  id: Id;
  grp: number;
  ip_addr: string;
  mask: number;
  port: number;
  tag: string | null;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  plans: PlansTable;
  rates: RatesTable;
  ledger_postings: LedgerPostingsTable;
  vouchers: VouchersTable;
  sip_accounts: SipAccountsTable;
  ip_auth: IpAuthTable;
  ip_auth_owners: IpAuthOwnersTable;
  callerids: CallerIdsTable;
  calls: CallsTable;
  reservations: ReservationsTable;
  reseller_transactions: ResellerTransactionsTable;
  list_counts: ListCountsTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
  rate_imports: RateImportsTable;
  sms_rates: SmsRatesTable;
  sms_messages: SmsMessagesTable;
  sms_campaigns: SmsCampaignsTable;
  esim_packages: EsimPackagesTable;
  esim_margins: EsimMarginsTable;
  esim_orders: EsimOrdersTable;
  attempt_counters: AttemptCountersTable;
  ps_endpoints: PsEndpointsTable;
  ps_auths: PsAuthsTable;
  ps_aors: PsAorsTable;
  ps_endpoint_id_ips: PsEndpointIdIpsTable;
  subscriber: SubscriberTable;
  address: AddressTable;
}

/** The database, and a transaction on it (connect.ts opens them; tx.ts runs transactions). */
export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;

export type Account = Selectable<AccountsTable>;
export type Plan = Selectable<PlansTable>;
export type Rate = Selectable<RatesTable>;
export type SipAccount = Selectable<SipAccountsTable>;
export type NewRate = Insertable<RatesTable>;
