// The differences between SQLite and PostgreSQL, in one place: how a transaction starts, how
// rows are locked. Everything else in Ledgerline speaks the
// same Kysely (and the same `on conflict` upserts) to both. Schema differences (id columns,
// types) live with the schema, in migrations.ts.
import {
  CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver,
  type DatabaseConnection, type Kysely, type Transaction,
} from 'kysely';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';
type AnyDb = Kysely<Database> | Transaction<Database>;

export function dialectOf(db: AnyDb): Dialect {
  return db.getExecutor().adapter instanceof SqliteAdapter ? 'sqlite' : 'postgres';
}

// ---------------------------------------------------------------------------------------------
// Transaction start. SQLite: take the write lock at BEGIN, so a read-then-write transaction never
// dead-ends on upgrade; it then holds the whole database, which is why every row lock below is a
// no-op there. PostgreSQL: a plain BEGIN and row locks.

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver() {
    return new ImmediateSqliteDriver(this.#config);
  }
}

// ---------------------------------------------------------------------------------------------
// Row locks.

/** The select with FOR UPDATE on PostgreSQL; as it is on SQLite, whose transaction holds the database. */
export function forUpdate<Q extends { forUpdate(): Q }>(query: Q, dialect: Dialect): Q {
  return dialect === 'postgres' ? query.forUpdate() : query;
}

/**
 * Locks rows of `table` by id, in ascending id (no deadlock between two transactions doing the
 * same), as an UPDATE of them would: FOR NO KEY UPDATE, which, unlike FOR UPDATE, does not wait
 * for inserts whose foreign keys point at the rows. Nothing to do on SQLite.
 */
export async function lockRowsForChange(trx: Transaction<Database>, table: 'plans' | 'accounts', ids: readonly number[]): Promise<void> {
  if (ids.length === 0 || dialectOf(trx) !== 'postgres') return;
  await trx.selectFrom(table).select('id').where('id', 'in', [...ids]).orderBy('id').forNoKeyUpdate().execute();
}
