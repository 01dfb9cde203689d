// Hot-path queries built and compiled once per dialect, then run with fresh parameters.
// Building a Kysely query costs more than running it on SQLite; this keeps the type safety
// of the builder without paying for it on every request.
import type { CompiledQuery, Compilable } from 'kysely';
import type { Db, Dialect, Trx } from './connect.js';

export function preparedQuery<Row>(build: (db: Db | Trx) => Compilable<Row>) {
  const compiledByDialect = new Map<Dialect, CompiledQuery<Row>>();
  return async (db: Db | Trx, dialect: Dialect, parameters: readonly unknown[]): Promise<Row[]> => {
    let compiled = compiledByDialect.get(dialect);
    if (!compiled) {
      compiled = build(db).compile();
      if (compiled.parameters.length !== parameters.length) {
        throw new Error(`prepared query expects ${compiled.parameters.length} parameters, got ${parameters.length}`);
      }
      compiledByDialect.set(dialect, compiled);
    }
    const result = await db.executeQuery<Row>({ ...compiled, parameters });
    return result.rows;
  };
}
