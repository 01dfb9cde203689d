// The tenancy guard: every service asks here whether an actor may touch an account.
// A foreign object answers 404, never 403, so its existence is not revealed.
import type { Db, Trx } from '../db/connect.js';
import type { Account } from '../db/schema.js';
import { accountInactive, notFound } from '../errors.js';
import type { Actor } from './actor.js';

/** State-changing calls of an inactive account (or of a client of an inactive reseller). */
export function assertActive(actor: Actor): void {
  if (!actor.active) throw accountInactive();
}

/** True when actor may act on the account: itself, a reseller's own client, or the admin. */
export function canReach(actor: Actor, account: Pick<Account, 'id' | 'parent_id' | 'role'>): boolean {
  if (actor.role === 'admin') return true;
  if (account.id === actor.id) return true;
  if (actor.role === 'reseller') return account.role === 'client' && account.parent_id === actor.id;
  return false;
}

/** Loads a client by login as seen by the actor; 404 when missing or out of reach. */
export async function reachableClient(db: Db | Trx, actor: Actor, login: unknown): Promise<Account> {
  if (typeof login !== 'string' || login === '') throw notFound('Client');
  const account = await db.selectFrom('accounts').selectAll().where('login', '=', login).executeTakeFirst();
  if (!account || account.role !== 'client' || !canReach(actor, account)) throw notFound('Client');
  return account;
}

export async function accountById(db: Db | Trx, id: number): Promise<Account> {
  const account = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!account) throw notFound('Account');
  return account;
}
