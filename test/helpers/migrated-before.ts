// A scratch database (a SQLite file, or a PostgreSQL schema of its own) migrated up to, not
// including, one migration: what a migration test runs that migration against.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';
import { migrationsFor } from '../../src/db/migrations.js';
import { isPostgres, testDatabaseUrl } from './server.js';

async function onPostgres(query: string): Promise<void> {
  const c = new pg.Client({ connectionString: testDatabaseUrl() });
  await c.connect();
  try {
    await c.query(query);
  } finally {
    await c.end();
  }
}

/** The database as the migrations named before `migration` (e.g. '0010') left it; `dispose` closes and removes it. */
export async function databaseBeforeMigration(migration: string): Promise<{ handle: DbHandle; dispose(): Promise<void> }> {
  let handle: DbHandle;
  let remove: () => Promise<void>;
  if (isPostgres()) {
    const schema = `t_${crypto.randomBytes(6).toString('hex')}`;
    await onPostgres(`create schema ${schema}`);
    handle = openDatabase(testDatabaseUrl(), schema);
    remove = () => onPostgres(`drop schema if exists ${schema} cascade`);
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-mig-'));
    handle = openDatabase(`sqlite:${path.join(dir, 'm.db')}`);
    remove = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
  const schema = isPostgres() ? (await sql<{ s: string }>`select current_schema() as s`.execute(handle.db)).rows[0].s : undefined;
  const earlier = Object.fromEntries(Object.entries(migrationsFor(handle.dialect)).filter(([name]) => name < migration));
  const { error } = await new Migrator({
    db: handle.db, provider: { getMigrations: async () => earlier }, ...(schema ? { migrationTableSchema: schema } : {}),
  }).migrateToLatest();
  assert.equal(error, undefined);
  return { handle, dispose: async () => { await handle.close(); await remove(); } };
}
