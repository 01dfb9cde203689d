// The audit log (CONTRACT §3): every state-changing request — over HTTP, the CLI or FastAGI —
// with who, what, when and from where. Written in the transaction of the change when it
// succeeded, and on its own when it was refused.
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

const insertAudit = preparedQuery((db) => db.insertInto('audit_log').values({
  actor_id: 0, actor_login: '', actor_role: '', api: '', endpoint: '', method: '', ip: '', status_code: 0, error_code: '', created_at: '',
}));

export async function writeAudit(db: Db | Trx, e: AuditEntry): Promise<void> {
  await insertAudit(db, [
    e.actor?.id ?? null, e.actor?.login ?? null, e.actor?.role ?? null, e.api, e.endpoint.slice(0, 64), e.method,
    e.ip, e.status, e.errorCode, nowIso(),
  ]);
}

/** Audits a refused or failed request on its own: nothing of it was written, and the answer must not fail for the log. */
export async function writeAuditLogged(db: Db | Trx, e: AuditEntry, log: Logger): Promise<void> {
  try {
    await writeAudit(db, e);
  } catch (err) {
    log.error({ err }, 'audit log write failed');
  }
}
