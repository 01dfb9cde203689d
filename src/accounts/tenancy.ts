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

/**
 * Who a request acts as when a reseller key names one of its clients (`client_login`): that
 * client exactly as its own key would authenticate it, so prices, balance, charges and
 * ownership are the client's. Active while the client and the reseller are, as the client's
 * own key would be. Any other key, or no login, acts as itself: a client key never acts for
 * someone else. A login that is not the reseller's client answers 404 (reachableClient).
 */
export async function actingFor(db: Db | Trx, actor: Actor, clientLogin: unknown): Promise<Actor> {
  if (actor.role !== 'reseller' || clientLogin === undefined || clientLogin === null) return actor;
  const client = await reachableClient(db, actor, clientLogin);
  const ownActive = client.active === 1;
  return {
    id: Number(client.id), login: client.login, role: 'client', keyId: actor.keyId, parentId: actor.id,
    ownActive, active: ownActive && actor.ownActive,
    readAtAuth: { balanceMicros: client.balance_micros, planId: client.plan_id === null ? null : Number(client.plan_id), planName: null },
  };
}

export async function accountById(db: Db | Trx, id: number): Promise<Account> {
  const account = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!account) throw notFound('Account');
  return account;
}
