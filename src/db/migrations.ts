// Schema migrations, applied on start. Each is dialect-neutral except the id column.
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './connect.js';

type AnyDb = Kysely<unknown>;

function withId(dialect: Dialect) {
  return <T extends string>(t: CreateTableBuilder<T, never>) =>
    dialect === 'sqlite'
      ? t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      : t.addColumn('id', 'bigserial', (c) => c.primaryKey());
}

function initial(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      await id(db.schema.createTable('accounts'))
        .addColumn('login', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('parent_id', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('plan_id', 'bigint')
        .addColumn('balance_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('credit_limit_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('postpaid', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('password_hash', 'text')
        .addColumn('name', 'varchar(200)')
        .addColumn('email', 'varchar(254)')
        .addColumn('phone', 'varchar(20)')
        .addColumn('language', 'varchar(8)')
        .addColumn('markup_micro_percent', 'bigint')
        .addColumn('retail_plan_id', 'bigint')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('accounts_parent_idx').on('accounts').columns(['parent_id', 'id']).execute();

      await id(db.schema.createTable('api_keys'))
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('key_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('key_prefix', 'varchar(16)', (c) => c.notNull())
        .addColumn('label', 'varchar(100)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('revoked_at', 'varchar(32)')
        .execute();

      await id(db.schema.createTable('plans'))
        .addColumn('owner_id', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('signup', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('initial_credit_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('selectable', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tariff_limit', 'integer', (c) => c.notNull().defaultTo(3))
        .addColumn('wholesale_plan_id', 'bigint')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();

      await id(db.schema.createTable('rates'))
        .addColumn('plan_id', 'bigint', (c) => c.notNull().references('plans.id'))
        .addColumn('prefix', 'varchar(20)', (c) => c.notNull())
        .addColumn('destination', 'varchar(100)', (c) => c.notNull())
        .addColumn('rate_micros', 'bigint', (c) => c.notNull())
        .addColumn('connect_charge_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('initblock', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('billingblock', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('minimal_time', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addUniqueConstraint('rates_plan_prefix_uq', ['plan_id', 'prefix'])
        .execute();

      await id(db.schema.createTable('ledger_postings'))
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('balance_after_micros', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'varchar(24)', (c) => c.notNull())
        .addColumn('ref_type', 'varchar(24)')
        .addColumn('ref_id', 'varchar(100)')
        .addColumn('description', 'varchar(255)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_account_idx').on('ledger_postings').columns(['account_id', 'id']).execute();

      await id(db.schema.createTable('vouchers'))
        .addColumn('code', 'varchar(32)', (c) => c.notNull().unique())
        .addColumn('value_micros', 'bigint', (c) => c.notNull())
        .addColumn('issuer_id', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('used_by', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('used_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();

      await id(db.schema.createTable('sip_accounts'))
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'varchar(80)', (c) => c.notNull().unique())
        .addColumn('kind', 'varchar(8)', (c) => c.notNull())
        .addColumn('secret_enc', 'text')
        .addColumn('ha1', 'varchar(32)')
        .addColumn('ha1b', 'varchar(32)')
        .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sip_accounts_account_idx').on('sip_accounts').columns(['account_id', 'id']).execute();

      await id(db.schema.createTable('ip_auth'))
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('sip_account_id', 'bigint', (c) => c.notNull().references('sip_accounts.id'))
        .addColumn('peer_name', 'varchar(90)', (c) => c.notNull().unique())
        .addColumn('ip', 'varchar(45)', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addUniqueConstraint('ip_auth_ip_port_uq', ['ip', 'port'])
        .execute();

      await id(db.schema.createTable('callerids'))
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('cid', 'varchar(20)', (c) => c.notNull())
        .addColumn('name', 'varchar(100)')
        .addColumn('active', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addUniqueConstraint('callerids_account_cid_uq', ['account_id', 'cid'])
        .execute();

      await id(db.schema.createTable('calls'))
        .addColumn('uniqueid', 'varchar(100)', (c) => c.notNull().unique())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('sip_account_id', 'bigint')
        .addColumn('sip_login', 'varchar(80)')
        .addColumn('destination', 'varchar(32)', (c) => c.notNull())
        .addColumn('rate_prefix', 'varchar(20)')
        .addColumn('rate_destination', 'varchar(100)')
        .addColumn('caller_id', 'varchar(32)')
        .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('answered_seconds', 'integer', (c) => c.notNull())
        .addColumn('billed_seconds', 'integer', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('reseller_id', 'bigint')
        .addColumn('reseller_cost_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('disposition', 'varchar(16)', (c) => c.notNull())
        .addColumn('hangup_cause', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('calls_account_idx').on('calls').columns(['account_id', 'id']).execute();

      await db.schema.createTable('idempotency_keys')
        .addColumn('account_id', 'bigint', (c) => c.notNull())
        .addColumn('scope', 'varchar(64)', (c) => c.notNull())
        .addColumn('key', 'varchar(200)', (c) => c.notNull())
        .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('response_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['account_id', 'scope', 'key'])
        .execute();

      await id(db.schema.createTable('audit_log'))
        .addColumn('actor_id', 'bigint')
        .addColumn('actor_login', 'varchar(64)')
        .addColumn('actor_role', 'varchar(16)')
        .addColumn('api', 'varchar(16)', (c) => c.notNull())
        .addColumn('endpoint', 'varchar(64)', (c) => c.notNull())
        .addColumn('method', 'varchar(8)', (c) => c.notNull())
        .addColumn('ip', 'varchar(64)')
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'varchar(48)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();

      await db.schema.createTable('settings')
        .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      // Asterisk PJSIP realtime (column names as in Asterisk's own schema).
      await db.schema.createTable('ps_endpoints')
        .addColumn('id', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('transport', 'varchar(40)')
        .addColumn('aors', 'varchar(200)')
        .addColumn('auth', 'varchar(80)')
        .addColumn('context', 'varchar(40)')
        .addColumn('disallow', 'varchar(200)')
        .addColumn('allow', 'varchar(200)')
        .addColumn('callerid', 'varchar(80)')
        .addColumn('direct_media', 'varchar(8)')
        .addColumn('identify_by', 'varchar(80)')
        .addColumn('from_domain', 'varchar(80)')
        .addColumn('accountcode', 'varchar(80)')
        .execute();
      await db.schema.createTable('ps_auths')
        .addColumn('id', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('auth_type', 'varchar(16)', (c) => c.notNull())
        .addColumn('username', 'varchar(80)')
        .addColumn('realm', 'varchar(80)')
        .addColumn('md5_cred', 'varchar(40)')
        .addColumn('password', 'varchar(80)')
        .execute();
      await db.schema.createTable('ps_aors')
        .addColumn('id', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('max_contacts', 'integer')
        .addColumn('remove_existing', 'varchar(8)')
        .addColumn('contact', 'varchar(255)')
        .execute();
      await db.schema.createTable('ps_endpoint_id_ips')
        .addColumn('id', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('endpoint', 'varchar(80)', (c) => c.notNull())
        .addColumn('match', 'varchar(80)', (c) => c.notNull())
        .execute();
      // Kamailio (auth_db subscriber, permissions address).
      await id(db.schema.createTable('subscriber'))
        .addColumn('username', 'varchar(64)', (c) => c.notNull())
        .addColumn('domain', 'varchar(64)', (c) => c.notNull())
        .addColumn('password', 'varchar(64)', (c) => c.notNull().defaultTo(''))
        .addColumn('ha1', 'varchar(128)', (c) => c.notNull())
        .addColumn('ha1b', 'varchar(128)', (c) => c.notNull())
        .addUniqueConstraint('subscriber_account_idx', ['username', 'domain'])
        .execute();
      await id(db.schema.createTable('address'))
        .addColumn('grp', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('ip_addr', 'varchar(50)', (c) => c.notNull())
        .addColumn('mask', 'integer', (c) => c.notNull().defaultTo(32))
        .addColumn('port', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tag', 'varchar(64)')
        .execute();
    },
  };
}

/** Call authorization: reservations against balances, and plan versions for the rate cache. */
function reservations(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('accounts')
        .addColumn('reserved_micros', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('plans')
        .addColumn('rates_version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
      await id(db.schema.createTable('reservations'))
        .addColumn('uniqueid', 'varchar(100)', (c) => c.notNull())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('max_duration', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addUniqueConstraint('reservations_call_account_uq', ['uniqueid', 'account_id'])
        .execute();
      await db.schema.createIndex('reservations_expiry_idx').on('reservations').column('expires_at').execute();
    },
  };
}

/** Reseller money movements toward its clients: transfers and portal payments. */
function resellerTransactions(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      await id(db.schema.createTable('reseller_transactions'))
        .addColumn('reseller_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('client_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'varchar(8)')
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('external_id', 'varchar(200)')
        .addColumn('provider', 'varchar(64)')
        .addColumn('provider_txid', 'varchar(200)')
        .addColumn('posting_id', 'bigint')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addUniqueConstraint('reseller_transactions_external_uq', ['reseller_id', 'kind', 'external_id'])
        .execute();
      await db.schema.createIndex('reseller_transactions_reseller_idx').on('reseller_transactions').columns(['reseller_id', 'id']).execute();
    },
  };
}

/**
 * Failed-attempt counters shared by the instances of one PostgreSQL database (see
 * accounts/attempt-limiter.ts); SQLite keeps them in the memory of its one server process.
 */
function attemptCounters(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.createTable('attempt_counters')
        .addColumn('key', 'varchar(200)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('reset_at_ms', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * The tariff each payer's reservation was made at, so the CDR is charged at the rate in force
 * when the call started: a rate raised during the call can neither overcharge it nor take the
 * balance past what was reserved. Rows from before this migration have none (re-rated).
 */
function reservationTariffs(): Migration {
  const columns: Array<[string, 'varchar(20)' | 'varchar(100)' | 'bigint' | 'integer']> = [
    ['rate_prefix', 'varchar(20)'], ['rate_destination', 'varchar(100)'], ['rate_micros', 'bigint'],
    ['connect_charge_micros', 'bigint'], ['initblock', 'integer'], ['billingblock', 'integer'], ['minimal_time', 'integer'],
  ];
  return {
    async up(db: AnyDb) {
      for (const [name, type] of columns) await db.schema.alterTable('reservations').addColumn(name, type).execute();
    },
  };
}

/**
 * Payment statuses are the provider's own words (Heleket's `wrong_amount_waiting` has 20
 * letters): room for 32. SQLite does not enforce varchar lengths.
 */
function paymentStatusWidth(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      if (dialect !== 'postgres') return;
      await sql`alter table reseller_transactions alter column status type varchar(32)`.execute(db);
    },
  };
}

export function migrationsFor(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_reservations': reservations(dialect),
    '0003_reseller_transactions': resellerTransactions(dialect),
    '0004_attempt_counters': attemptCounters(),
    '0005_reservation_tariffs': reservationTariffs(),
    '0009_payment_status_width': paymentStatusWidth(dialect),
  };
}

export async function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<void> {
  // PostgreSQL: pin the migration tables to the schema in use. Without it Kysely looks for them
  // in every schema, finds another instance's, and never creates (or reads) its own.
  const schema = dialect === 'postgres'
    ? (await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)).rows[0]?.schema ?? undefined
    : undefined;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrationsFor(dialect) },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  // Kysely checks for its tables by introspecting every schema of the database; a schema
  // dropped by someone else at that moment fails the check (3F000). Nothing was applied then,
  // so a bounded retry is safe.
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    const failed = results?.find((r) => r.status === 'Error');
    const raceOnAnotherSchema = !failed && (error as { code?: string }).code === '3F000' && attempt < 5;
    if (raceOnAnotherSchema) {
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      continue;
    }
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`);
  }
}
