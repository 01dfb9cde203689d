// The audit log (CONTRACT §3): state-changing requests with who, what, when and from where.
// This file only writes rows; each edge decides when, and the guarantees differ:
// - HTTP writes (http/api-plugin.ts): a success's row is written in the transaction of its
//   change, so a change whose row cannot be written is rolled back and answered 500; for a
//   service that runs several transactions, in the first one that commits (request-audit.ts),
//   and on its own at the end when none did. A refusal's row is written on its own after the
//   rollback, with its code, except 404 and 405 refusals. Reads (also a read sent by POST)
//   leave no row.
// - FastAGI scripts (agi/scripts.ts): the same, as api `agi` from Asterisk's address.
// - CLI commands (cli/main.ts): one row on its own once the command has succeeded, not in its
//   transaction (a failure to write it fails the command after its change was made); a
//   refused command leaves no row.
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Trx } from '../db/connect.js';
import { preparedQuery } from '../db/prepared.js';
import type { Role } from '../db/schema.js';
import { nowIso } from '../util/time.js';

export interface AuditEntry {
  actor: { id: number; login: string; role: Role } | null;
  /** `client`, `reseller`, `admin`, `switch` (HTTP APIs), `cli` or `agi`. */
  api: string;
  endpoint: string;
  method: string;
  ip: string | null;
  status: number;
  errorCode: string | null;
}

interface AuditRow {
  actorId: number | null;
  actorLogin: string | null;
  actorRole: Role | null;
  api: string;
  endpoint: string;
  method: string;
  ip: string | null;
  statusCode: number;
  errorCode: string | null;
  createdAt: string;
}
function insertValues(db: Db | Trx, p: AuditRow) {
  return db.insertInto('audit_log').values({
    actor_id: p.actorId, actor_login: p.actorLogin, actor_role: p.actorRole, api: p.api, endpoint: p.endpoint, method: p.method,
    ip: p.ip, status_code: p.statusCode, error_code: p.errorCode, created_at: p.createdAt,
  });
}
const insertAudit = preparedQuery<AuditRow>()((db, p) => insertValues(db, p));
const insertAuditReturningId = preparedQuery<AuditRow>()((db, p) => insertValues(db, p).returning('id'));
const updateOutcome = preparedQuery<{ id: number; statusCode: number; errorCode: string | null }>()((db, p) => db.updateTable('audit_log')
  .set({ status_code: p.statusCode, error_code: p.errorCode }).where('id', '=', p.id));

const parameters = (e: AuditEntry): AuditRow => ({
  actorId: e.actor?.id ?? null, actorLogin: e.actor?.login ?? null, actorRole: e.actor?.role ?? null, api: e.api,
  endpoint: e.endpoint.slice(0, 64), method: e.method, ip: e.ip, statusCode: e.status, errorCode: e.errorCode, createdAt: nowIso(),
});

export async function writeAudit(db: Db | Trx, e: AuditEntry): Promise<void> {
  await insertAudit(db, parameters(e));
}

/** Writes the rows of many requests with one statement (PostgreSQL: the switch batch, calls/switch-batch.ts). */
export async function writeAuditRows(trx: Trx, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map(parameters);
  const col = <K extends keyof AuditRow>(k: K) => rows.map((r) => (r[k] === null ? null : String(r[k])));
  await sql`insert into audit_log (actor_id, actor_login, actor_role, api, endpoint, method, ip, status_code, error_code, created_at)
    select * from unnest(${col('actorId')}::bigint[], ${col('actorLogin')}::text[], ${col('actorRole')}::text[], ${col('api')}::text[],
      ${col('endpoint')}::text[], ${col('method')}::text[], ${col('ip')}::text[], ${col('statusCode')}::int[], ${col('errorCode')}::text[],
      ${col('createdAt')}::text[])`.execute(trx);
}

/** Writes one audit row and answers its id, for a request whose outcome is known only later (request-audit.ts). */
export async function writeAuditReturningId(db: Db | Trx, e: AuditEntry): Promise<number> {
  const [row] = await insertAuditReturningId(db, parameters(e));
  return Number(row.id);
}

/** Sets the outcome of an audit row written before the request ended. */
export async function setAuditOutcome(db: Db | Trx, id: number, status: number, errorCode: string | null): Promise<void> {
  await updateOutcome(db, { id, statusCode: status, errorCode });
}

/** Audits a refused or failed request on its own: nothing of it was written, and the answer must not fail for the log. */
export async function writeAuditLogged(db: Db | Trx, e: AuditEntry, log: Logger): Promise<void> {
  try {
    await writeAudit(db, e);
  } catch (err) {
    log.error({ err }, 'audit log write failed');
  }
}
