// PostgreSQL server-side prepared statements for the hot path. Kysely sends every query as an
// unnamed statement, which PostgreSQL parses, analyses and plans anew each time; for the short
// statements of authorize/cdr that is most of a backend's work. The queries built once
// (prepared.ts) register their SQL here, and the main pool's connections (connect.ts) send
// those as named statements: parsed and planned once per connection, then only bound and run.
// Names are per process and per connection; the set is bounded by the preparedQuery
// definitions in the code (a few dozen), never by data.
const names = new Map<string, string>();

export function nameStatement(sql: string): void {
  if (!names.has(sql)) names.set(sql, `ll_${names.size + 1}`);
}

export function statementName(sql: string): string | undefined {
  return names.get(sql);
}
