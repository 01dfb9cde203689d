// The client a white-label portal request is about, and how the portal shows it. Every portal
// answer is about one client of the calling reseller and carries only what that client may see:
// never the reseller's balance, wholesale rates, markup or credit logic (CONTRACT §3). The agent
// itself is shown to its portal by name and status only, for the same reason.
import type { Actor } from '../accounts/actor.js';
import { reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Account } from '../db/schema.js';
import { badRequest } from '../errors.js';
import { formatLocal } from '../util/time.js';

/** The `login` of a portal request: 400 when absent, then the tenancy guard (404 when not ours). */
export async function portalClient(ctx: Ctx, actor: Actor, login: unknown): Promise<Account> {
  if (typeof login !== 'string' || login.trim() === '') throw badRequest('login', 'is required');
  if (login.length > 64) throw badRequest('login', 'must be at most 64 characters');
  return reachableClient(ctx.db, actor, login.trim());
}

async function planName(ctx: Ctx, planId: number | null): Promise<string | null> {
  if (planId === null) return null;
  const plan = await ctx.db.selectFrom('plans').select('name').where('id', '=', planId).executeTakeFirst();
  return plan?.name ?? null;
}

/**
 * The calling reseller as its own portal shows it (`portal-bootstrap`, `agent-auth`): login, name
 * (the login when it has none) and status, never its balance or anything else of its credit.
 */
export function agentProfile(actor: Actor, agent: Pick<Account, 'login' | 'name'>) {
  return { login: agent.login, name: agent.name ?? agent.login, active: actor.active };
}

/** A client as its portal shows it: identity, contact data, status and plan. */
export async function clientProfile(ctx: Ctx, actor: Actor, client: Account) {
  return {
    id: Number(client.id),
    login: client.login,
    username: client.login,
    name: client.name,
    email: client.email,
    phone: client.phone,
    language: client.language,
    // A client of an inactive reseller can do nothing, so it reads as inactive too.
    active: client.active === 1 && actor.active,
    id_plan: client.plan_id === null ? null : Number(client.plan_id),
    plan_name: await planName(ctx, client.plan_id === null ? null : Number(client.plan_id)),
    created_at: formatLocal(client.created_at),
  };
}
