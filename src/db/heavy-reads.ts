// Long or heavy reads (history pages, reports, ledger verification): the way list and report
// queries are run, so that they can be kept off the event loop that serves the switch.
// This first form runs them in place; a query built here is only ever read, never written.
import type { CompiledQuery } from 'kysely';

/** A Kysely select, before it runs. */
export interface ReadQuery<R> {
  compile(): CompiledQuery<R>;
  execute(): Promise<R[]>;
}

export interface HeavyReads {
  /** The rows of a read-only query built on the base database (never on a transaction). */
  all<R>(query: ReadQuery<R>): Promise<R[]>;
  close(): Promise<void>;
}

export class InlineReads implements HeavyReads {
  all<R>(query: ReadQuery<R>): Promise<R[]> {
    return query.execute();
  }

  async close(): Promise<void> {}
}
