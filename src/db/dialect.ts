// The differences between SQLite and PostgreSQL, in one place: how a transaction starts, how
// rows are locked, whether a transaction can lose a race, how many rows are written at once.
// Everything else in Ledgerline speaks the same Kysely (and the same `on conflict` upserts) to
// both. Opening a database is in connect.ts; schema differences (id columns, types) live with
// the schema, in migrations.ts.
import type SqliteDatabase from 'better-sqlite3';
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

/**
 * Whether a transaction can lose a race it must run again (deadlock victim, serialization
 * failure): on PostgreSQL; never on SQLite, which has one writer at a time.
 */
export const hasTransientConflicts = (dialect: Dialect): boolean => dialect === 'postgres';

// ---------------------------------------------------------------------------------------------
// Bulk upserts: many rows of one table in as few statements as each dialect runs fastest.
// SQLite: prepared multi-row statements run on the connection under the open transaction (the
// query builder costs more than the insert). PostgreSQL: one statement per chunk, the columns
// sent as arrays and unnested, so a chunk of 25,000 rows has a handful of parameters; and, for
// rows the caller knows to be new, the same statement as a plain insert (pgBulkInsert).

export interface BulkColumn {
  name: string;
  /** The PostgreSQL array element type the column is sent as. */
  pgType: 'text' | 'bigint' | 'int';
  /**
   * PostgreSQL, text: the column takes few distinct values (a rate's destination). Each is sent
   * once per statement and the rows carry its number: the array a chunk sends shrinks by half.
   */
  fewValues?: true;
}

export interface BulkUpsertSpec {
  table: string;
  /** Columns with one value for every row (sent once per statement on PostgreSQL). */
  constants: readonly BulkColumn[];
  /** Columns with a value per row. */
  columns: readonly BulkColumn[];
  /** The unique key rows conflict on; every other column is updated from the new row. */
  conflict: readonly string[];
}

/**
 * Writes `count` rows: `fill(k, out, offset)` puts row k's values (in `columns` order, none of
 * them null) into `out` from `offset`. Runs inside the caller's transaction.
 */
export type BulkUpsert = (trx: Transaction<Database>, constants: readonly unknown[], count: number,
  fill: (k: number, out: unknown[], offset: number) => void) => Promise<void>;

/** Rows per SQLite statement: fewer calls into the driver, far below the 32766-parameter limit. */
const SQLITE_ROWS_PER_STATEMENT = 32;

function upsertClause(spec: BulkUpsertSpec): { columns: string; onConflict: string } {
  const all = [...spec.constants, ...spec.columns].map((c) => c.name);
  const updated = all.filter((c) => !spec.conflict.includes(c));
  return {
    columns: all.join(', '),
    onConflict: `on conflict (${spec.conflict.join(', ')}) do update set ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}`,
  };
}

/** The bulk upsert of the dialect; SQLite needs its connection (DbHandle.sqlite). */
export function bulkUpsert(dialect: Dialect, spec: BulkUpsertSpec, sqlite?: SqliteDatabase.Database): BulkUpsert {
  if (dialect === 'postgres') return pgBulkUpsert(spec);
  if (!sqlite) throw new Error('a SQLite bulk upsert needs the database connection (DbHandle.sqlite)');
  return sqliteBulkUpsert(spec, sqlite);
}

function sqliteBulkUpsert(spec: BulkUpsertSpec, sqlite: SqliteDatabase.Database): BulkUpsert {
  const { columns, onConflict } = upsertClause(spec);
  const constantCount = spec.constants.length;
  const width = constantCount + spec.columns.length;
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  const values = (n: number) => Array.from({ length: n }, () => row).join(', ');
  const many = sqlite.prepare(`insert into ${spec.table} (${columns}) values ${values(SQLITE_ROWS_PER_STATEMENT)} ${onConflict}`);
  const one = sqlite.prepare(`insert into ${spec.table} (${columns}) values ${values(1)} ${onConflict}`);
  const args: unknown[] = new Array(SQLITE_ROWS_PER_STATEMENT * width);
  return async (_trx, constants, count, fill) => {
    // The statements run on the connection under the open Kysely transaction.
    if (!sqlite.inTransaction) throw new Error('a SQLite bulk upsert must run inside its transaction');
    const put = (k: number, o: number) => {
      for (let c = 0; c < constantCount; c++) args[o + c] = constants[c];
      fill(k, args, o + constantCount);
    };
    let k = 0;
    for (; k + SQLITE_ROWS_PER_STATEMENT <= count; k += SQLITE_ROWS_PER_STATEMENT) {
      for (let j = 0; j < SQLITE_ROWS_PER_STATEMENT; j++) put(k + j, j * width);
      many.run(args);
    }
    for (; k < count; k++) {
      put(k, 0);
      one.run(args.slice(0, width));
    }
  };
}

function pgBulkUpsert(spec: BulkUpsertSpec): BulkUpsert {
  return pgBulkWrite(spec, upsertClause(spec).onConflict);
}

/**
 * PostgreSQL: the rows as a plain insert, for rows the caller knows to be absent. ON CONFLICT
 * inserts every new row speculatively (checked, inserted, then confirmed): a million new rates
 * cost the server ~1.6 times the CPU of a plain insert. A row there after all (another writer
 * added it since) fails the statement with 23505 (unique_violation): the caller then writes
 * those rows again with the upsert.
 */
export function pgBulkInsert(spec: BulkUpsertSpec): BulkUpsert {
  return pgBulkWrite(spec, '');
}

/** A text value as an element of a PostgreSQL array literal: always quoted, so any text is itself. */
function arrayElement(value: string): string {
  return value.includes('"') || value.includes('\\') ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

/**
 * The statement of a chunk, its columns sent as array literals built here: the driver's own
 * array serialization quoted and escaped every element one by one, and took the import process
 * ~2.6 s of CPU for a million rates (here ~1.2 s), on a machine whose cores the server's
 * inserting connections want. Numbers go bare (integers print exactly: bigint values as
 * bigints, or as doubles below 2^53); text is quoted.
 */
function pgBulkWrite(spec: BulkUpsertSpec, onConflict: string): BulkUpsert {
  const { columns } = upsertClause(spec);
  const constantCount = spec.constants.length;
  const constantsSql = spec.constants.map((c, i) => `$${i + 1}::${c.pgType}`);
  const width = spec.columns.length;
  // Parameters: the constants, one array per column, then the value list of each fewValues column.
  const valueLists = spec.columns.flatMap((c, i) => (c.fewValues ? [i] : []));
  const listParam = new Map(valueLists.map((col, j) => [col, constantCount + width + j + 1]));
  const unnested = spec.columns.map((c, i) => `$${constantCount + i + 1}::${c.fewValues ? 'int' : c.pgType}[]`);
  const names = spec.columns.map((_, i) => `c${i}`);
  const selected = spec.columns.map((c, i) => (c.fewValues ? `($${listParam.get(i)}::text[])[u.${names[i]}]` : `u.${names[i]}`));
  const text = `insert into ${spec.table} (${columns})
  select ${[...constantsSql, ...selected].join(', ')}
  from unnest(${unnested.join(', ')}) as u(${names.join(', ')})
  ${onConflict}`;
  const quoted = spec.columns.map((c) => c.pgType === 'text' && !c.fewValues);
  return async (trx, constants, count, fill) => {
    const arrays = spec.columns.map(() => new Array<unknown>(count));
    const lists = valueLists.map(() => new Map<string, number>());
    const listOf = spec.columns.map((_, i) => lists[valueLists.indexOf(i)]);
    const row = new Array<unknown>(width);
    for (let k = 0; k < count; k++) {
      fill(k, row, 0);
      for (let c = 0; c < width; c++) {
        const list = listOf[c];
        if (list) {
          const value = row[c] as string;
          let n = list.get(value);
          if (n === undefined) list.set(value, (n = list.size + 1)); // PostgreSQL arrays count from 1
          arrays[c][k] = n;
        } else {
          arrays[c][k] = quoted[c] ? arrayElement(row[c] as string) : row[c];
        }
      }
    }
    const literal = (values: unknown[]) => `{${values.join(',')}}`;
    const listLiterals = lists.map((list) => literal([...list.keys()].map(arrayElement)));
    await trx.executeQuery(CompiledQuery.raw(text, [...constants, ...arrays.map(literal), ...listLiterals]));
  };
}
