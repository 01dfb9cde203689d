// Schema migrations, applied on start. Each is dialect-neutral except the id column.
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import { applyMarkupSql } from '../money.js';
import type { Dialect } from './connect.js';
import type { Database } from './schema.js';

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
 * API key life-cycle and secrets at rest: when each key was last used (written at most once a
 * minute per key, see accounts/key-usage.ts), the keys of an account listed by index, the
 * idempotency records swept by age, and an operator-chosen ADMIN_API_KEY cut down to the
 * short prefix every other key keeps in clear.
 */
function apiKeyLifecycle(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('api_keys').addColumn('last_used_at', 'varchar(32)').execute();
      await db.schema.createIndex('api_keys_account_idx').on('api_keys').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute();
      // A literal, not the constant of credentials.ts: a migration must mean the same forever.
      await sql`update api_keys set key_prefix = substr(key_prefix, 1, 4) where label = 'ADMIN_API_KEY'`.execute(db);
    },
  };
}

/**
 * One client per IP address for IP auth (sip/ip-auth.ts): `ip_auth_owners` holds each address's
 * client, its primary key the constraint. Existing records that broke the rule are settled: the
 * client of the oldest record of an address keeps it; other clients' records of that address are
 * disabled (peer out of the switch tables, kept so the client sees what happened) and each is
 * written to the audit log (api `migration`, code IP_TAKEN) for the operator. Addresses with
 * several active peers of their client then match by `ip:port` in ps_endpoint_id_ips. Written
 * against the tables directly, so later changes of the services cannot change what it did.
 */
function ipAuthOwners(): Migration {
  return {
    async up(anyDb: AnyDb) {
      const db = anyDb as unknown as Kysely<Database>;
      await db.schema.createTable('ip_auth_owners')
        .addColumn('ip', 'varchar(45)', (c) => c.primaryKey())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      const now = new Date().toISOString();
      const records = await db.selectFrom('ip_auth as i').innerJoin('accounts as a', 'a.id', 'i.account_id')
        .select(['i.id', 'i.account_id', 'i.ip', 'i.port', 'i.peer_name', 'i.status', 'a.login', 'a.role'])
        .orderBy('i.id').execute();
      const ownerOf = new Map<string, number>();
      for (const r of records) if (!ownerOf.has(r.ip)) ownerOf.set(r.ip, Number(r.account_id));
      for (const [ip, accountId] of ownerOf) {
        await db.insertInto('ip_auth_owners').values({ ip, account_id: accountId, created_at: now }).execute();
      }
      for (const r of records) {
        if (Number(r.account_id) === ownerOf.get(r.ip) || r.status !== 1) continue;
        await db.updateTable('ip_auth').set({ status: 0 }).where('id', '=', r.id).execute();
        await db.updateTable('sip_accounts').set({ active: 0 }).where('name', '=', r.peer_name).execute();
        await db.deleteFrom('ps_endpoints').where('id', '=', r.peer_name).execute();
        await db.deleteFrom('ps_aors').where('id', '=', r.peer_name).execute();
        await db.deleteFrom('ps_endpoint_id_ips').where('id', '=', r.peer_name).execute();
        await db.deleteFrom('address').where('tag', '=', r.peer_name).execute();
        await db.insertInto('audit_log').values({
          actor_id: Number(r.account_id), actor_login: r.login, actor_role: r.role, api: 'migration',
          endpoint: `ip-auth-disable ${r.id}`.slice(0, 64), method: 'MIGRATE', ip: r.ip, status_code: 409, error_code: 'IP_TAKEN', created_at: now,
        }).execute();
      }
      const active = await db.selectFrom('ip_auth').select(['ip', 'peer_name', 'port']).where('status', '=', 1).orderBy('id').execute();
      const byIp = new Map<string, typeof active>();
      for (const r of active) byIp.set(r.ip, [...(byIp.get(r.ip) ?? []), r]);
      for (const [ip, peers] of byIp) {
        if (peers.length < 2) continue;
        for (const p of peers) {
          await db.updateTable('ps_endpoint_id_ips').set({ match: `${ip}:${p.port}` }).where('id', '=', p.peer_name).execute();
        }
      }
    },
  };
}

/**
 * Calls and reservations belong to (switch, uniqueid), not to the uniqueid alone: two Asterisk
 * hosts without a systemname hand out the same ids. Existing rows get switch_ref '' (they match
 * any switch, for their own caller only) and reservations learn their caller. The ledger's
 * `reserved >= 0` and `reservation >= 0` become database rules: CHECK constraints on
 * PostgreSQL; on SQLite, which cannot add a CHECK to an existing table, a trigger on accounts
 * and a CHECK in the rebuilt reservations table. SQLite cannot drop the old unique constraint
 * either, so it rebuilds both tables (a one-time copy of the calls history).
 */
function callsPerSwitch(dialect: Dialect): Migration {
  const id = withId(dialect);
  // Each reservation row of a call: the caller is the payer that is a client.
  const backfillCaller = sql`update reservations set caller_account_id = coalesce((
      select r2.account_id from reservations r2 join accounts a on a.id = r2.account_id
      where r2.uniqueid = reservations.uniqueid and a.role = 'client' limit 1), account_id)`;
  return {
    async up(db: AnyDb) {
      if (dialect === 'postgres') {
        await sql`alter table reservations add column switch_ref varchar(100) not null default ''`.execute(db);
        await sql`alter table reservations add column caller_account_id bigint`.execute(db);
        await backfillCaller.execute(db);
        await sql`alter table reservations drop constraint reservations_call_account_uq`.execute(db);
        await sql`alter table reservations add constraint reservations_call_uq unique (uniqueid, switch_ref, account_id)`.execute(db);
        await sql`alter table reservations add constraint reservations_amount_nonnegative check (amount_micros >= 0)`.execute(db);
        await sql`alter table calls add column switch_ref varchar(100) not null default ''`.execute(db);
        await sql`alter table calls drop constraint calls_uniqueid_key`.execute(db);
        await sql`alter table calls add constraint calls_switch_uniqueid_uq unique (uniqueid, switch_ref)`.execute(db);
        await sql`alter table accounts add constraint accounts_reserved_nonnegative check (reserved_micros >= 0)`.execute(db);
        return;
      }
      await id(db.schema.createTable('reservations_0006'))
        .addColumn('uniqueid', 'varchar(100)', (c) => c.notNull())
        .addColumn('switch_ref', 'varchar(100)', (c) => c.notNull().defaultTo(''))
        .addColumn('caller_account_id', 'bigint')
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('amount_micros', 'bigint', (c) => c.notNull().check(sql`amount_micros >= 0`))
        .addColumn('max_duration', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('rate_prefix', 'varchar(20)')
        .addColumn('rate_destination', 'varchar(100)')
        .addColumn('rate_micros', 'bigint')
        .addColumn('connect_charge_micros', 'bigint')
        .addColumn('initblock', 'integer')
        .addColumn('billingblock', 'integer')
        .addColumn('minimal_time', 'integer')
        .addUniqueConstraint('reservations_call_uq', ['uniqueid', 'switch_ref', 'account_id'])
        .execute();
      await sql`insert into reservations_0006 (id, uniqueid, switch_ref, caller_account_id, account_id, amount_micros, max_duration,
          expires_at, created_at, rate_prefix, rate_destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time)
        select id, uniqueid, '', null, account_id, amount_micros, max_duration,
          expires_at, created_at, rate_prefix, rate_destination, rate_micros, connect_charge_micros, initblock, billingblock, minimal_time
        from reservations`.execute(db);
      await sql`drop table reservations`.execute(db);
      await sql`alter table reservations_0006 rename to reservations`.execute(db);
      await backfillCaller.execute(db);
      await db.schema.createIndex('reservations_expiry_idx').on('reservations').column('expires_at').execute();

      await id(db.schema.createTable('calls_0006'))
        .addColumn('uniqueid', 'varchar(100)', (c) => c.notNull())
        .addColumn('switch_ref', 'varchar(100)', (c) => c.notNull().defaultTo(''))
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
        .addUniqueConstraint('calls_switch_uniqueid_uq', ['uniqueid', 'switch_ref'])
        .execute();
      const columns = sql.raw(`id, uniqueid, account_id, sip_account_id, sip_login, destination, rate_prefix, rate_destination, caller_id,
        started_at, answered_seconds, billed_seconds, cost_micros, reseller_id, reseller_cost_micros, disposition, hangup_cause, created_at`);
      await sql`insert into calls_0006 (${columns}) select ${columns} from calls`.execute(db);
      await sql`drop table calls`.execute(db);
      await sql`alter table calls_0006 rename to calls`.execute(db);
      await db.schema.createIndex('calls_account_idx').on('calls').columns(['account_id', 'id']).execute();

      for (const event of ['insert', 'update of reserved_micros']) {
        const name = event === 'insert' ? 'accounts_reserved_nonnegative_ins' : 'accounts_reserved_nonnegative_upd';
        await sql.raw(`create trigger ${name} before ${event} on accounts when new.reserved_micros < 0
          begin select raise(abort, 'accounts.reserved_micros must not be negative'); end`).execute(db);
      }
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

/**
 * Lists whose time does not grow with history. Each list gets an index that matches its filter
 * and its order (newest first by id), so page one and a keyset page (`after`) read one page of
 * index entries however long the history is. The answered and failed calls of an account get a
 * partial index each, replacing the one over all calls: every CDR still writes one account
 * index entry. The refills are the few credits among an account's many call postings: a
 * partial index holds just them. The literals here are the ones the list queries repeat
 * (calls/history.ts, refills/refills.ts): a partial index is used only for a query that names
 * its condition.
 *
 * Totals: `list_counts` holds the row count of each list per owner, kept by triggers in the
 * transaction of every insert, delete or re-filing of a counted row, so it is exact for every
 * write path, including ones added later, and a total is one primary-key read. Lists and their
 * keys (owner is the account the list belongs to; 0 for the operator's own lists):
 *   calls.answered, calls.failed   calls of the account (disposition ANSWERED or not)
 *   refills                        its credits of kind refill, voucher, transfer, payment
 *   clients                        accounts of role client under the reseller
 *   transactions, transactions:S   the reseller's transfers and payments, all and by status S
 *   accounts, accounts:R           (owner 0) every account, and those of role R
 * Existing rows are counted here, before the triggers take over. Every step may run again
 * (a database taken back to an earlier migration): the counts are then counted afresh.
 */
const REFILL_KINDS_SQL = `('refill', 'voucher', 'transfer', 'payment')`;
const CALL_LIST = (row: string) => `case when ${row}.disposition = 'ANSWERED' then 'calls.answered' else 'calls.failed' end`;

/**
 * Each counted table: the counters (owner, list) one of its rows adds to, the columns that file
 * it, and which rows count at all (`counts`: checked by the trigger itself, so a call's posting,
 * the commonest row, runs no trigger body).
 */
interface CountedTable {
  table: string;
  filedBy: string[];
  /**
   * PostgreSQL: a trigger that names a column pins its type (ALTER ... TYPE is refused while it
   * stands). A column whose width has changed before, and may again, is left unnamed: the
   * trigger fires on every update of the table and compares the filing columns itself.
   */
  unpinned?: true;
  counts?: (row: 'new' | 'old') => string;
  counters: (row: 'new' | 'old') => Array<{ owner: string; list: string; when?: string }>;
}
const COUNTED: CountedTable[] = [
  { table: 'calls', filedBy: ['account_id', 'disposition'], counters: (r) => [{ owner: `${r}.account_id`, list: CALL_LIST(r) }] },
  {
    table: 'ledger_postings', filedBy: ['account_id', 'kind', 'amount_micros'],
    counts: (r) => `${r}.kind in ${REFILL_KINDS_SQL} and ${r}.amount_micros > 0`,
    counters: (r) => [{ owner: `${r}.account_id`, list: `'refills'` }],
  },
  {
    table: 'accounts', filedBy: ['role', 'parent_id'],
    counters: (r) => [
      { owner: '0', list: `'accounts'` },
      { owner: '0', list: `'accounts:' || ${r}.role` },
      { owner: `${r}.parent_id`, list: `'clients'`, when: `${r}.role = 'client' and ${r}.parent_id is not null` },
    ],
  },
  {
    table: 'reseller_transactions', filedBy: ['reseller_id', 'status'], unpinned: true,
    counters: (r) => [
      { owner: `${r}.reseller_id`, list: `'transactions'` },
      { owner: `${r}.reseller_id`, list: `'transactions:' || ${r}.status` },
    ],
  },
];

/**
 * Statements that count every list from its rows into an empty `list_counts`: migration 0010's
 * backfill, and the way to recount after a bulk load made with the triggers off. (On PostgreSQL,
 * a single transaction that adds very many rows to one list by many statements is slow with the
 * triggers on: each updates the same count row, and those updates pile up until the transaction
 * ends. The calls are counted per statement: migration 0013.)
 */
export const LIST_COUNTS_FROM_ROWS: readonly string[] = [
  `insert into list_counts (owner_id, list, n)
    select account_id, ${CALL_LIST('old').replaceAll('old.', '')}, count(*) from calls
    group by account_id, ${CALL_LIST('old').replaceAll('old.', '')}`,
  `insert into list_counts (owner_id, list, n)
    select account_id, 'refills', count(*) from ledger_postings
    where kind in ${REFILL_KINDS_SQL} and amount_micros > 0 group by account_id`,
  `insert into list_counts (owner_id, list, n)
    select parent_id, 'clients', count(*) from accounts where role = 'client' and parent_id is not null group by parent_id`,
  `insert into list_counts (owner_id, list, n) select 0, 'accounts', count(*) from accounts having count(*) > 0`,
  `insert into list_counts (owner_id, list, n) select 0, 'accounts:' || role, count(*) from accounts group by role`,
  `insert into list_counts (owner_id, list, n)
    select reseller_id, 'transactions', count(*) from reseller_transactions group by reseller_id`,
  `insert into list_counts (owner_id, list, n)
    select reseller_id, 'transactions:' || status, count(*) from reseller_transactions group by reseller_id, status`,
];

function listCounts(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      await sql.raw(`create table if not exists list_counts (
          owner_id bigint not null,
          list varchar(48) not null,
          n bigint not null,
          primary key (owner_id, list)
        )${dialect === 'sqlite' ? ' without rowid' : ''}`).execute(db);

      await sql`drop index if exists calls_account_idx`.execute(db);
      await sql`create index if not exists calls_answered_idx on calls (account_id, id) where disposition = 'ANSWERED'`.execute(db);
      await sql`create index if not exists calls_failed_idx on calls (account_id, id) where disposition <> 'ANSWERED'`.execute(db);
      await sql.raw(`create index if not exists ledger_refills_idx on ledger_postings (account_id, id)
        where kind in ${REFILL_KINDS_SQL} and amount_micros > 0`).execute(db);
      await sql`create index if not exists reseller_transactions_status_idx on reseller_transactions (reseller_id, status, id)`.execute(db);
      await sql`create index if not exists accounts_parent_role_idx on accounts (parent_id, role, id)`.execute(db);
      await sql`create index if not exists accounts_role_idx on accounts (role, id)`.execute(db);

      await sql`delete from list_counts`.execute(db);
      for (const statement of LIST_COUNTS_FROM_ROWS) await sql.raw(statement).execute(db);

      if (dialect === 'sqlite') {
        for (const { table, filedBy, counts, counters } of COUNTED) {
          const bump = (row: 'new' | 'old', delta: 1 | -1, whole = false) => counters(row).map((c) => {
            const when = [c.when, whole ? counts?.(row) : undefined].filter(Boolean).join(' and ') || 'true';
            return `insert into list_counts (owner_id, list, n) select ${c.owner}, ${c.list}, ${delta} where ${when}
              on conflict (owner_id, list) do update set n = n + excluded.n;`;
          }).join('\n');
          const only = (row: 'new' | 'old') => (counts ? ` when ${counts(row)}` : '');
          await sql.raw(`create trigger if not exists ${table}_counted_ins after insert on ${table}${only('new')} begin ${bump('new', 1)} end`).execute(db);
          await sql.raw(`create trigger if not exists ${table}_counted_del after delete on ${table}${only('old')} begin ${bump('old', -1)} end`).execute(db);
          await sql.raw(`create trigger if not exists ${table}_counted_upd after update of ${filedBy.join(', ')} on ${table}
            begin ${bump('old', -1, true)} ${bump('new', 1, true)} end`).execute(db);
        }
        return;
      }
      // PostgreSQL: one trigger function per table, naming the table by its schema so that it
      // counts in the right place whatever the search_path of the connection that writes.
      const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0].s;
      const countsTable = `"${schema.replaceAll('"', '""')}".list_counts`;
      for (const { table, filedBy, unpinned, counts, counters } of COUNTED) {
        const bump = (row: 'new' | 'old', delta: 1 | -1) => counters(row).map((c) => {
          const when = [c.when, counts?.(row)].filter(Boolean).join(' and ') || 'true';
          return `
            if ${when} then
              insert into ${countsTable} as lc (owner_id, list, n) values (${c.owner}, ${c.list}, ${delta})
              on conflict (owner_id, list) do update set n = lc.n + excluded.n;
            end if;`;
        }).join('');
        await sql.raw(`create or replace function ${table}_counted() returns trigger language plpgsql as $fn$
          begin
            if tg_op = 'UPDATE' and (${filedBy.map((c) => `old.${c}`).join(', ')}) is not distinct from (${filedBy.map((c) => `new.${c}`).join(', ')}) then
              return null;
            end if;
            if tg_op in ('UPDATE', 'DELETE') then ${bump('old', -1)}
            end if;
            if tg_op in ('UPDATE', 'INSERT') then ${bump('new', 1)}
            end if;
            return null;
          end $fn$`).execute(db);
        const only = (row: 'new' | 'old') => (counts ? ` when (${counts(row)})` : '');
        for (const event of ['ins', 'del', 'upd']) await sql.raw(`drop trigger if exists ${table}_counted_${event} on ${table}`).execute(db);
        await sql.raw(`create trigger ${table}_counted_ins after insert on ${table}
          for each row${only('new')} execute function ${table}_counted()`).execute(db);
        await sql.raw(`create trigger ${table}_counted_del after delete on ${table}
          for each row${only('old')} execute function ${table}_counted()`).execute(db);
        await sql.raw(`create trigger ${table}_counted_upd after update${unpinned ? '' : ` of ${filedBy.join(', ')}`} on ${table}
          for each row execute function ${table}_counted()`).execute(db);
        }
      },
    };
  }

/**
 * Retail plans stop being copies of their wholesale plan: a reseller's client is rated from the
 * wholesale rows at its reseller's markup (plans/retail-rates.ts), and a retail plan keeps only
 * the rows set for it on purpose. This removes from every derived plan each row that equals its
 * wholesale row marked up at the reseller's current markup (same prefix, destination, blocks
 * and prices, by applyMarkupSql: the rule the copies were written with); any other row (a price
 * an operator set on the retail plan, or a row the wholesale plan no longer has) stays, as an
 * override. Plans that lose rows get a new rates_version, so the rate caches drop the copies.
 */
function retailOverridesOnly(): Migration {
  const defaultMarkupMicroPercent = 20_000_000n;
  return {
    async up(db: AnyDb) {
      const derived = await sql<{ id: number | string; wholesale_plan_id: number | string; markup: number | string | null }>`
        select p.id, p.wholesale_plan_id, a.markup_micro_percent as markup
        from plans p left join accounts a on a.id = p.owner_id
        where p.wholesale_plan_id is not null order by p.id`.execute(db);
      for (const plan of derived.rows) {
        const markup = plan.markup === null ? defaultMarkupMicroPercent : BigInt(plan.markup);
        const rate = applyMarkupSql(sql, sql.ref('w.rate_micros'), markup);
        const connect = applyMarkupSql(sql, sql.ref('w.connect_charge_micros'), markup);
        const removed = await sql`delete from rates where plan_id = ${Number(plan.id)} and exists (
            select 1 from rates w where w.plan_id = ${Number(plan.wholesale_plan_id)} and w.prefix = rates.prefix
              and w.destination = rates.destination and w.initblock = rates.initblock
              and w.billingblock = rates.billingblock and w.minimal_time = rates.minimal_time
              and ${rate} = rates.rate_micros and ${connect} = rates.connect_charge_micros)`.execute(db);
        if ((removed.numAffectedRows ?? 0n) > 0n) {
          await sql`update plans set rates_version = rates_version + 1 where id = ${Number(plan.id)}`.execute(db);
        }
      }
    },
  };
}

/**
 * The journal of CSV rate imports (plans/import-journal.ts): on SQLite an import commits in
 * many short transactions, so one cut short must be visible, and resumable from where it stopped.
 */
function rateImports(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      // If not exists: migrations after 0008 may run again (test/tenancy/ip-auth.test.ts takes them back).
      await id(db.schema.createTable('rate_imports').ifNotExists())
        .addColumn('plan_id', 'bigint', (c) => c.notNull().references('plans.id'))
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('file_bytes', 'bigint', (c) => c.notNull())
        .addColumn('file_mtime', 'varchar(32)', (c) => c.notNull())
        .addColumn('rows_total', 'bigint', (c) => c.notNull())
        .addColumn('rows_written', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('finished_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('rate_imports_plan_idx').ifNotExists().on('rate_imports').columns(['plan_id', 'status']).execute();
    },
  };
}

/**
 * PostgreSQL: the calls are counted once per statement, not once per row. A batch of the switch
 * path (calls/switch-batch.ts) inserts the calls rows of up to 200 CDRs in one statement; a row
 * trigger ran a PL/pgSQL body and an upsert for each (and, for the many calls of one account,
 * each upsert rewrote the same count row again within the transaction: 20,000 calls of one
 * account took 2.7 s to insert, 0.17 s counted per statement). The statement trigger adds the
 * rows it was given, grouped by counter, in counter order. Re-filing a call (UPDATE OF its
 * account or disposition) keeps its row trigger: PostgreSQL allows no transition table on a
 * trigger that names columns, and such updates are rare. SQLite's triggers run in process and
 * stay as they are.
 */
function callsCountedPerStatement(dialect: Dialect): Migration {
  return {
    async up(db: AnyDb) {
      if (dialect === 'sqlite') return;
      const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0].s;
      const countsTable = `"${schema.replaceAll('"', '""')}".list_counts`;
      const add = (rows: string, sign: '' | '-') => `
        insert into ${countsTable} as lc (owner_id, list, n)
          select account_id, ${CALL_LIST('r')}, ${sign}count(*) from ${rows} as r group by 1, 2 order by 1, 2
          on conflict (owner_id, list) do update set n = lc.n + excluded.n;`;
      await sql.raw(`create or replace function calls_counted_added() returns trigger language plpgsql as $fn$
        begin ${add('added_rows', '')} return null; end $fn$`).execute(db);
      await sql.raw(`create or replace function calls_counted_removed() returns trigger language plpgsql as $fn$
        begin ${add('removed_rows', '-')} return null; end $fn$`).execute(db);
      await sql`drop trigger if exists calls_counted_ins on calls`.execute(db);
      await sql`drop trigger if exists calls_counted_del on calls`.execute(db);
      await sql`create trigger calls_counted_ins after insert on calls referencing new table as added_rows
        for each statement execute function calls_counted_added()`.execute(db);
      await sql`create trigger calls_counted_del after delete on calls referencing old table as removed_rows
        for each statement execute function calls_counted_removed()`.execute(db);
    },
  };
}

/**
 * SMS (sms/): the operator's wholesale prices per provider and destination prefix, every
 * message, from its record (made with its charge, before the hand-over) to its final status,
 * and the campaigns of `bulk` (their messages carry `campaign_id`).
 * `charged_at` is set with the message's charge; `handover_started_at` in the transaction that
 * makes it ready for its provider: a message with it set and still QUEUED after a crash may or
 * may not have reached the provider, so it is reconciled, never sent again blindly. A message
 * the provider could not be asked for goes back to the dispatcher, not before `next_attempt_at`. (provider, provider_message_id)
 * finds a message from its delivery report.
 */
function sms(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema.createTable('sms_rates').ifNotExists()
        .addColumn('provider', 'varchar(32)', (c) => c.notNull())
        .addColumn('prefix', 'varchar(20)', (c) => c.notNull())
        .addColumn('rate_micros', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('sms_rates_pk', ['provider', 'prefix'])
        .execute();
      await id(db.schema.createTable('sms_messages').ifNotExists())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('reseller_id', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('provider', 'varchar(32)', (c) => c.notNull())
        .addColumn('phone', 'varchar(20)', (c) => c.notNull())
        .addColumn('sender_id', 'varchar(16)')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('encoding', 'varchar(8)', (c) => c.notNull())
        .addColumn('segments', 'integer', (c) => c.notNull())
        .addColumn('rate_micros', 'bigint', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('reseller_cost_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('error_code', 'varchar(40)')
        .addColumn('provider_message_id', 'varchar(80)')
        .addColumn('campaign_id', 'bigint')
        .addColumn('scheduled_at', 'varchar(32)')
        .addColumn('charged_at', 'varchar(32)')
        .addColumn('handover_started_at', 'varchar(32)')
        .addColumn('next_attempt_at', 'varchar(32)')
        .addColumn('sent_at', 'varchar(32)')
        .addColumn('finished_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await id(db.schema.createTable('sms_campaigns').ifNotExists())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('reseller_id', 'bigint', (c) => c.references('accounts.id'))
        .addColumn('provider', 'varchar(32)', (c) => c.notNull())
        .addColumn('sender_id', 'varchar(16)')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('scheduled_at', 'varchar(32)')
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('recipients', 'integer', (c) => c.notNull())
        .addColumn('rejected', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sms_campaigns_account_idx').ifNotExists().on('sms_campaigns').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('sms_messages_campaign_idx').ifNotExists().on('sms_messages').columns(['campaign_id', 'status']).execute();
      // The dispatcher's claim: messages not yet handed over, by when they are due.
      await db.schema.createIndex('sms_messages_due_idx').ifNotExists().on('sms_messages').columns(['handover_started_at', 'status', 'scheduled_at', 'id']).execute();
      await db.schema.createIndex('sms_messages_account_idx').ifNotExists().on('sms_messages').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('sms_messages_reseller_idx').ifNotExists().on('sms_messages').columns(['reseller_id', 'id']).execute();
      await db.schema.createIndex('sms_messages_report_idx').ifNotExists().on('sms_messages').columns(['provider', 'provider_message_id']).execute();
      await db.schema.createIndex('sms_messages_status_idx').ifNotExists().on('sms_messages').columns(['status', 'id']).execute();
    },
  };
}

/**
 * eSIM (esim/): the upstream's catalog as last fetched (one row per package, its coverage as
 * JSON, and the text `q` searches), and the operator's margins (per package, or `*` for all).
 */
function esimCatalog(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.createTable('esim_packages').ifNotExists()
        .addColumn('package_code', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('upstream_price_micros', 'bigint', (c) => c.notNull())
        .addColumn('upstream_price_units', 'bigint', (c) => c.notNull())
        .addColumn('currency', 'varchar(8)', (c) => c.notNull())
        .addColumn('volume_bytes', 'bigint', (c) => c.notNull())
        .addColumn('duration_days', 'integer', (c) => c.notNull())
        .addColumn('countries', 'text', (c) => c.notNull())
        .addColumn('coverage_json', 'text', (c) => c.notNull())
        .addColumn('search_text', 'text', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('refreshed_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createTable('esim_margins').ifNotExists()
        .addColumn('package_code', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('margin_micro_percent', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * eSIM orders (esim/orders.ts): one row per purchase, from its debit (PENDING, with the
 * transactionId the upstream order carries) to its profile (READY) or its refund (REFUNDED).
 */
function esimOrders(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      await id(db.schema.createTable('esim_orders').ifNotExists())
        .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
        .addColumn('package_code', 'varchar(64)', (c) => c.notNull())
        .addColumn('package_name', 'varchar(200)', (c) => c.notNull())
        .addColumn('price_micros', 'bigint', (c) => c.notNull())
        .addColumn('upstream_price_units', 'bigint', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('transaction_id', 'varchar(64)', (c) => c.unique())
        .addColumn('order_no', 'varchar(64)')
        .addColumn('error_code', 'varchar(40)')
        .addColumn('iccid', 'varchar(32)')
        .addColumn('activation_code', 'varchar(300)')
        .addColumn('smdp_status', 'varchar(32)')
        .addColumn('esim_status', 'varchar(32)')
        .addColumn('total_volume_bytes', 'bigint')
        .addColumn('used_bytes', 'bigint')
        .addColumn('expires_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('synced_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('esim_orders_account_idx').ifNotExists().on('esim_orders').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('esim_orders_status_idx').ifNotExists().on('esim_orders').columns(['status', 'updated_at']).execute();
    },
  };
}

/**
 * Kamailio checks the version of each table it reads in a `version` table (its standard
 * schema): subscriber at 7 (auth_db), address at 6 (permissions). The projections match those
 * versions of the tables, so Kamailio reads Ledgerline's database as it is (deploy/kamailio).
 */
function kamailioTableVersions(dialect: Dialect): Migration {
  const id = withId(dialect);
  return {
    async up(db: AnyDb) {
      // Runs again when a migration test takes back an earlier one: changes nothing then.
      await id(db.schema.createTable('version').ifNotExists())
        .addColumn('table_name', 'varchar(32)', (c) => c.notNull().unique())
        .addColumn('table_version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`insert into version (table_name, table_version) values ('subscriber', 7), ('address', 6)
        on conflict (table_name) do nothing`.execute(db);
    },
  };
}

/**
 * The calls of an account by start time, answered and failed apart as migration 0010 keeps
 * them: a list filtered to days (the portal's `client-calls?from&to`, calls/history.ts) reads
 * and counts the calls of those days here, index only, instead of stepping through the whole
 * history in id order. `id` ends the key so the page's ids are read from the index too. A CDR
 * writes one more index entry (in one of the two).
 */
function callsByStartTime(): Migration {
  return {
    async up(db: AnyDb) {
      await sql`create index if not exists calls_answered_started_idx on calls (account_id, started_at, id) where disposition = 'ANSWERED'`.execute(db);
      await sql`create index if not exists calls_failed_started_idx on calls (account_id, started_at, id) where disposition <> 'ANSWERED'`.execute(db);
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
    '0006_calls_per_switch': callsPerSwitch(dialect),
    '0007_api_key_lifecycle': apiKeyLifecycle(),
    '0008_ip_auth_owners': ipAuthOwners(),
    '0009_payment_status_width': paymentStatusWidth(dialect),
    '0010_list_counts': listCounts(dialect),
    '0011_retail_overrides_only': retailOverridesOnly(),
    '0012_rate_imports': rateImports(dialect),
    '0013_calls_counted_per_statement': callsCountedPerStatement(dialect),
    '0014_sms': sms(dialect),
    '0015_esim_catalog': esimCatalog(),
    '0016_esim_orders': esimOrders(dialect),
    '0017_kamailio_table_versions': kamailioTableVersions(dialect),
    '0018_calls_by_start_time': callsByStartTime(),
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
  // Kysely checks for its tables by introspecting every schema of the database; a schema, or a
  // table of it, dropped by someone else at that moment fails the check (3F000 invalid schema,
  // 42P01 undefined table). No migration had run then (none is named as failed), so a bounded
  // retry is safe.
  const INTROSPECTION_RACES = new Set(['3F000', '42P01']);
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    const failed = results?.find((r) => r.status === 'Error');
    const raceOnAnotherSchema = !failed && INTROSPECTION_RACES.has((error as { code?: string }).code ?? '') && attempt < 5;
    if (raceOnAnotherSchema) {
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      continue;
    }
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`);
  }
}
