// Who is calling: resolved from the X-API-Key, with what the tenancy guard needs.
import { sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Role } from '../db/schema.js';
import { hashApiKey } from './credentials.js';

export interface Actor {
  id: number;
  login: string;
  role: Role;
  /** The reseller of a reseller client. */
  parentId: number | null;
  /** False when the account, or the reseller above it, is inactive. */
  active: boolean;
  ownActive: boolean;
}

export async function actorByApiKey(db: Db, apiKey: string): Promise<Actor | null> {
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('accounts as a', 'a.id', 'k.account_id')
    .leftJoin('accounts as p', 'p.id', 'a.parent_id')
    .select(['a.id', 'a.login', 'a.role', 'a.parent_id', 'a.active', sql<number | null>`p.active`.as('parent_active')])
    .where('k.key_hash', '=', hashApiKey(apiKey))
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  const ownActive = row.active === 1;
  return {
    id: Number(row.id),
    login: row.login,
    role: row.role,
    parentId: row.parent_id === null ? null : Number(row.parent_id),
    ownActive,
    active: ownActive && (row.parent_active === null || row.parent_active === 1),
  };
}
