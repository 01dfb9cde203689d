// A worker thread of the SQLite read pool (read-workers.ts): one read-only connection to the
// database file, on which it runs the selects the main thread compiled and sends back the rows.
// better-sqlite3 blocks the thread that calls it; here that is this thread, not the event loop
// that answers the switch. WAL lets this connection read committed data beside the writer.
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

export interface ReadRequest {
  id: number;
  sql: string;
  parameters: readonly unknown[];
}

export type ReadReply =
  | { id: number; rows: unknown[] }
  | { id: number; error: { name: string; message: string; code?: string } };

export interface ReadWorkerData {
  file: string;
}

/**
 * A report scanning a million rows wants a whole core for a second; the switch path wants the
 * same core for a thousand short requests. On Linux this thread takes a lower priority (nice 10,
 * as a thread of its own), so where cores are short the switch path's thread runs first and
 * reads take longer instead. Elsewhere, or if refused, reads share the CPU as equals.
 */
export const READER_NICE = 10;

function lowerThisThreadsPriority(): void {
  try {
    // setpriority() on a thread id changes that thread alone (Linux); /proc names this one.
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), READER_NICE));
  } catch {
    // Not Linux, or not permitted.
  }
}

lowerThisThreadsPriority();
const { file } = workerData as ReadWorkerData;
const sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
sqlite.pragma('busy_timeout = 5000');
// Reports scan whole tables: a page cache of their own, smaller than the writer's 64 MiB.
sqlite.pragma('cache_size = -16384');

// The same few list and report queries come again and again: prepare each once.
const MAX_STATEMENTS = 200;
const statements = new Map<string, SqliteDatabase.Statement>();

function prepare(sql: string): SqliteDatabase.Statement {
  let stmt = statements.get(sql);
  if (!stmt) {
    stmt = sqlite.prepare(sql);
    if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value as string);
    statements.set(sql, stmt);
  }
  return stmt;
}

parentPort!.on('message', (req: ReadRequest) => {
  let reply: ReadReply;
  try {
    const stmt = prepare(req.sql);
    // The connection is read-only anyway; this says which query was wrong instead of SQLITE_READONLY.
    if (!stmt.reader) throw new TypeError(`not a read: ${req.sql.slice(0, 80)}`);
    reply = { id: req.id, rows: stmt.all(req.parameters as unknown[]) };
  } catch (err) {
    const e = err as Error & { code?: string };
    reply = { id: req.id, error: { name: e.name, message: e.message, ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort!.postMessage(reply);
});
