// Who is calling: resolved from the X-API-Key, with what the tenancy guard needs.
import type SqliteDatabase from 'better-sqlite3';
import { sql, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import { CoalescedLookup } from '../db/coalesced-lookup.js';
import type { Db, Trx } from '../db/connect.js';
import { dialectOf } from '../db/dialect.js';
import { preparedQuery } from '../db/prepared.js';
import type { Role } from '../db/schema.js';
import { nowIso } from '../util/time.js';
import { hashApiKey } from './credentials.js';
import { noteKeyUse } from './key-usage.js';

export interface Actor {
  id: number;
  login: string;
  role: Role;
  /** The API key this request authenticated with; null for the CLI, which needs none. */
  keyId: number | null;
  /** The reseller of a reseller client. */
  parentId: number | null;
  /** False when the account, or the reseller above it, is inactive. */
  active: boolean;
  ownActive: boolean;
  /**
   * The account as read in the same query that authenticated the key. Fine for rendering a
   * read (`me` needs no second query); never for a decision about money, which re-reads in its
   * transaction.
   */
  readAtAuth: { balanceMicros: number; planId: number | null; planName: string | null };
}

const keyQuery = (db: Db) => db
  .selectFrom('api_keys as k')
  .innerJoin('accounts as a', 'a.id', 'k.account_id')
  .leftJoin('accounts as p', 'p.id', 'a.parent_id')
  .leftJoin('plans as pl', 'pl.id', 'a.plan_id')
  .select([
    sql<number>`k.id`.as('key_id'), 'k.revoked_at', 'a.id', 'a.login', 'a.role', 'a.parent_id', 'a.active', sql<number | null>`p.active`.as('parent_active'),
    'a.balance_micros', 'a.plan_id', sql<string | null>`pl.name`.as('plan_name'), 'k.key_hash',
  ]);
const byKeyHashQuery = (db: Db, keyHash: string | RawBuilder<string>) => keyQuery(db).where('k.key_hash', '=', keyHash);
const selectByKeyHash = preparedQuery<{ keyHash: string }>()((db, p) => byKeyHashQuery(db as Db, p.keyHash));
// One index probe per key (LATERAL ... LIMIT 1, as calls/caller.ts): `key_hash in (list)` was
// planned anew on every run (its generic plan looked dearer), which cost more than running it.
const selectByKeyHashes = preparedQuery<{ keyHashes: string[] }>()((db, p) => db
  .selectFrom(sql<{ u: string }>`unnest(${p.keyHashes}::text[])`.as('u'))
  .innerJoinLateral(byKeyHashQuery(db as Db, sql.ref<string>('u.u')).limit(sql.lit(1)).as('k1'), (join) => join.onTrue())
  .selectAll('k1'));
type KeyRow = Awaited<ReturnType<typeof selectByKeyHash>>[number];

/**
 * PostgreSQL: the lookups of one turn of the event loop in one query (db/coalesced-lookup.ts);
 * a switch sends all its calls with one key.
 */
const coalesced = new WeakMap<Db, CoalescedLookup<KeyRow>>();
function lookupCoalesced(db: Db, keyHash: string): Promise<KeyRow | undefined> {
  let lookup = coalesced.get(db);
  if (!lookup) {
    // A switch sends every call with one key: most turns look one key up, with the statement
    // whose generic plan PostgreSQL keeps (no planning per run).
    lookup = new CoalescedLookup((keyHashes) => (keyHashes.length === 1
      ? selectByKeyHash(db, { keyHash: keyHashes[0] })
      : selectByKeyHashes(db, { keyHashes })), (row) => row.key_hash);
    coalesced.set(db, lookup);
  }
  return lookup.get(keyHash);
}

/**
 * Looks API keys up on SQLite's read-only connection: synchronous, no queueing behind writes.
 * Rows are reused while `PRAGMA data_version` says no connection has committed since they were
 * read, so a reused row is exactly what the query would return now. The pragma itself takes
 * the WAL read lock (syscalls) and cost a sixth of a `me` request, so it is read once per turn
 * of the event loop: a write is acknowledged only after its fsync, in a later turn, so every
 * request that follows an acknowledged write (a revoked key, a deactivated account) sees it.
 */
interface Reader {
  lookup: SqliteDatabase.Statement;
  dataVersion: SqliteDatabase.Statement;
  rows: Map<string, { version: number; row: KeyRow | undefined }>;
  /** data_version as read in this turn of the event loop; null once the turn is over. */
  versionThisTurn: number | null;
}
const readers = new WeakMap<SqliteDatabase.Database, Reader>();
const MAX_CACHED_ROWS = 10_000;
function currentVersion(r: Reader): number {
  if (r.versionThisTurn === null) {
    r.versionThisTurn = r.dataVersion.get() as number;
    setImmediate(() => { r.versionThisTurn = null; });
  }
  return r.versionThisTurn;
}
function lookupOnReader(reader: SqliteDatabase.Database, db: Db, keyHash: string): KeyRow | undefined {
  let r = readers.get(reader);
  if (!r) {
    r = {
      lookup: reader.prepare(byKeyHashQuery(db, '').compile().sql),
      dataVersion: reader.prepare('PRAGMA data_version').pluck(),
      rows: new Map(),
      versionThisTurn: null,
    };
    readers.set(reader, r);
  }
  const version = currentVersion(r);
  const cached = r.rows.get(keyHash);
  if (cached && cached.version === version) return cached.row;
  const row = r.lookup.get(keyHash) as KeyRow | undefined;
  if (r.rows.size >= MAX_CACHED_ROWS && !cached) r.rows.delete(r.rows.keys().next().value as string);
  r.rows.set(keyHash, { version, row });
  return row;
}

/** SHA-256 of recently seen keys: hashing is a tenth of a `me` request. Bounded, oldest out. */
const MAX_CACHED_HASHES = 10_000;
const keyHashes = new Map<string, string>();
function cachedKeyHash(apiKey: string): string {
  let hash = keyHashes.get(apiKey);
  if (hash === undefined) {
    hash = hashApiKey(apiKey);
    if (keyHashes.size >= MAX_CACHED_HASHES) keyHashes.delete(keyHashes.keys().next().value as string);
    keyHashes.set(apiKey, hash);
  }
  return hash;
}

/**
 * A revoked key's row is still found (and cached): `revoked_at` may lie in the future while a
 * rotated key's grace period runs, so it is compared with the clock on every request.
 */
export async function actorByApiKey(db: Db, apiKey: string, reader?: SqliteDatabase.Database, log?: Logger): Promise<Actor | null> {
  if (apiKey.length > 200) return null;
  const keyHash = cachedKeyHash(apiKey);
  const row = reader ? lookupOnReader(reader, db, keyHash)
    : dialectOf(db) === 'postgres' && !(db as unknown as Trx).isTransaction ? await lookupCoalesced(db, keyHash)
    : (await selectByKeyHash(db, { keyHash }))[0];
  if (!row) return null;
  if (row.revoked_at !== null && row.revoked_at <= nowIso()) return null;
  const keyId = Number(row.key_id);
  noteKeyUse(db, keyId, log);
  const ownActive = row.active === 1;
  return {
    id: Number(row.id),
    keyId,
    login: row.login,
    role: row.role,
    parentId: row.parent_id === null ? null : Number(row.parent_id),
    ownActive,
    active: ownActive && (row.parent_active === null || row.parent_active === 1),
    readAtAuth: {
      balanceMicros: row.balance_micros,
      planId: row.plan_id === null ? null : Number(row.plan_id),
      planName: row.plan_name,
    },
  };
}
