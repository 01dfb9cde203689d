// Hot-path queries built and compiled once per dialect, then run with fresh parameters.
// Building a Kysely query costs more than running it on SQLite; this keeps the type safety
// of the builder without paying for it on every request.
//
// Parameters are named: the query is built with `p.name` wherever a value goes, and run with an
// object of those names. A missing or misspelt name, or a value of the wrong type, does not
// compile; two columns of the same type cannot be swapped by position, because there is none.
import type { CompiledQuery, Compilable } from 'kysely';
import type { Db, Trx } from './connect.js';
import { dialectOf, type Dialect } from './dialect.js';
import { nameStatement } from './statement-names.js';

/** Stands for a parameter while the query is built; compiled, it marks the parameter's position. */
class ParameterRef {
  constructor(readonly name: string) {}
}

/** The parameters as the builder sees them: each name typed as its value, standing for it. */
type ParameterRefs<P> = { readonly [K in keyof P]: P[K] };

interface Prepared<Row> {
  compiled: CompiledQuery<Row>;
  /** The parameter name of each position of the compiled query. */
  names: string[];
}

function prepare<P, Row>(build: (db: Db | Trx, p: ParameterRefs<P>, dialect: Dialect) => Compilable<Row>,
  db: Db | Trx, dialect: Dialect): Prepared<Row> {
  const refs = new Proxy({}, {
    get: (_target, name) => {
      if (typeof name !== 'string') throw new TypeError('prepared query parameters have string names');
      return new ParameterRef(name);
    },
  }) as ParameterRefs<P>;
  const compiled = build(db, refs, dialect).compile();
  const names = compiled.parameters.map((value, i) => {
    // A literal value left in the query would be sent as it was at build time, on every run.
    if (!(value instanceof ParameterRef)) throw new Error(`prepared query parameter ${i + 1} is a literal; use p.<name> (${compiled.sql})`);
    return value.name;
  });
  return { compiled, names };
}

/**
 * `preparedQuery<{ id: number }>()((db, p) => db.selectFrom('accounts').selectAll().where('id', '=', p.id))`
 * gives `(db, { id }) => rows`. `build` also receives the dialect, for the few dialect-specific
 * clauses (dialect.ts).
 */
export function preparedQuery<P extends object>() {
  return <Row>(build: (db: Db | Trx, p: ParameterRefs<P>, dialect: Dialect) => Compilable<Row>) => {
    let sqlite: Prepared<Row> | undefined;
    let postgres: Prepared<Row> | undefined;
    return async (db: Db | Trx, parameters: P): Promise<Row[]> => {
      const dialect = dialectOf(db);
      let prepared = dialect === 'sqlite' ? sqlite : postgres;
      if (!prepared) {
        prepared = prepare(build, db, dialect);
        if (dialect === 'sqlite') sqlite = prepared;
        else {
          postgres = prepared;
          nameStatement(prepared.compiled.sql);
        }
      }
      const { compiled, names } = prepared;
      const values = new Array<unknown>(names.length);
      for (let i = 0; i < names.length; i++) values[i] = (parameters as Record<string, unknown>)[names[i]];
      const result = await db.executeQuery<Row>({ ...compiled, parameters: values });
      return result.rows;
    };
  };
}
