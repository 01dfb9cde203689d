// Hot-path queries built and compiled once per dialect, then run with fresh parameters.
// Building a Kysely query costs more than running it on SQLite; this keeps the type safety
// of the builder without paying for it on every request.
import type { CompiledQuery, Compilable } from 'kysely';
import type { Db, Trx } from './connect.js';
import { dialectOf, type Dialect } from './dialect.js';

/**
 * `build` receives the dialect so the few dialect-specific clauses (row locks, dialect.ts) can differ.
 * The parameters are positional, in the order the built query uses them.
 */
export function preparedQuery<Row>(build: (db: Db | Trx, dialect: Dialect) => Compilable<Row>) {
  const compiledByDialect = new Map<Dialect, CompiledQuery<Row>>();
  return async (db: Db | Trx, parameters: readonly unknown[]): Promise<Row[]> => {
    const dialect = dialectOf(db);
    let compiled = compiledByDialect.get(dialect);
    if (!compiled) {
      compiled = build(db, dialect).compile();
      if (compiled.parameters.length !== parameters.length) {
        throw new Error(`prepared query expects ${compiled.parameters.length} parameters, got ${parameters.length}`);
      }
      compiledByDialect.set(dialect, compiled);
    }
    const result = await db.executeQuery<Row>({ ...compiled, parameters });
    return result.rows;
  };
}
