// The journal of CSV rate imports: one row per import, `running` until the plan's
// rates_version bump commits, with (SQLite) or after (PostgreSQL) its last rows, then `done`.
// On SQLite an import commits in many short transactions (so the server's writes get in
// between them), so an import cut short (killed, crashed, power lost) leaves rows written but
// the version not bumped: the journal shows it (`ledgerline import-rates` warns of it), and
// running the same file again resumes after the rows already committed (the upsert is
// idempotent, so rewriting them would be harmless too). On PostgreSQL the import commits chunk by chunk too, on several connections
// at once: `rows_written` counts the rows, in prefix order, up to the first chunk not yet
// committed (chunks after it may be in already, and are simply written again on a resume).
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db, Trx } from '../db/connect.js';
import { nowIso } from '../util/time.js';

export interface JournalEntry {
  id: number;
  /** Rows (in prefix order) already committed by an earlier run of the same file. */
  resumeFrom: number;
}

export interface UnfinishedImport {
  id: number;
  plan_id: number;
  file: string;
  rows_total: number;
  rows_written: number;
  started_at: string;
  updated_at: string;
}

function fileIdentity(file: string): { file: string; bytes: number; mtime: string } {
  const stat = fs.statSync(file);
  return { file: path.resolve(file), bytes: stat.size, mtime: stat.mtime.toISOString() };
}

/** Imports of the plan (or of every plan) that started and never finished. */
export async function unfinishedImports(db: Db | Trx, planId?: number): Promise<UnfinishedImport[]> {
  let q = db.selectFrom('rate_imports').select(['id', 'plan_id', 'file', 'rows_total', 'rows_written', 'started_at', 'updated_at'])
    .where('status', '=', 'running');
  if (planId !== undefined) q = q.where('plan_id', '=', planId);
  const rows = await q.orderBy('id').execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), plan_id: Number(r.plan_id), rows_total: Number(r.rows_total), rows_written: Number(r.rows_written) }));
}

/**
 * Starts (or, for an unfinished import of the same file into the same plan, takes up again) the
 * journal row of an import. The same file is the same path, size, modification time and row count.
 */
export async function openImportJournal(db: Db, planId: number, file: string, rowsTotal: number): Promise<JournalEntry> {
  const identity = fileIdentity(file);
  const earlier = (await unfinishedImports(db, planId)).reverse()
    .find((u) => u.file === identity.file && u.rows_total === rowsTotal);
  if (earlier) {
    const row = await db.selectFrom('rate_imports').select(['file_bytes', 'file_mtime']).where('id', '=', earlier.id).executeTakeFirstOrThrow();
    if (Number(row.file_bytes) === identity.bytes && row.file_mtime === identity.mtime) {
      return { id: earlier.id, resumeFrom: earlier.rows_written };
    }
  }
  const now = nowIso();
  const inserted = await db.insertInto('rate_imports').values({
    plan_id: planId, file: identity.file, file_bytes: identity.bytes, file_mtime: identity.mtime,
    rows_total: rowsTotal, rows_written: 0, status: 'running', started_at: now, updated_at: now, finished_at: null,
  }).returning('id').executeTakeFirstOrThrow();
  return { id: Number(inserted.id), resumeFrom: 0 };
}

/** Records rows committed so far, in the transaction that committed them. */
export async function recordImportProgress(trx: Trx, id: number, rowsWritten: number): Promise<void> {
  await trx.updateTable('rate_imports').set({ rows_written: rowsWritten, updated_at: nowIso() }).where('id', '=', id).execute();
}

/**
 * Records rows committed so far, in the transaction that committed the last of them, unless a
 * transaction beside it has recorded more (PostgreSQL imports commit on several connections).
 */
export async function recordImportProgressAtLeast(trx: Trx, id: number, rowsWritten: number): Promise<void> {
  await trx.updateTable('rate_imports')
    .set({ rows_written: sql<number>`greatest(rows_written, ${rowsWritten})`, updated_at: nowIso() })
    .where('id', '=', id).execute();
}

/** Closes the journal row, in the transaction that bumps the plan's rates_version. */
export async function finishImportJournal(trx: Trx, id: number, rowsWritten: number): Promise<void> {
  const now = nowIso();
  await trx.updateTable('rate_imports').set({ rows_written: rowsWritten, status: 'done', updated_at: now, finished_at: now }).where('id', '=', id).execute();
}
