// Caller IDs of a client; the active one is presented on all its SIP endpoints.
import type { Actor } from '../accounts/actor.js';
import { assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { normalizeE164 } from '../util/phone.js';
import { formatLocal, nowIso } from '../util/time.js';
import { projectCallerId } from './projection.js';

export const MAX_CALLER_IDS_PER_CLIENT = 50;

export interface CallerIdView { id: number; cid: string; name: string | null; active: number; created_at: string | null }

export async function listCallerIds(ctx: Ctx, accountId: number): Promise<CallerIdView[]> {
  const rows = await ctx.db.selectFrom('callerids').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
  return rows.map((r) => ({ id: Number(r.id), cid: r.cid, name: r.name, active: r.active, created_at: formatLocal(r.created_at) }));
}

function parseCid(cid: unknown): string {
  if (typeof cid !== 'string' && typeof cid !== 'number') throw badRequest('cid', 'is required');
  const normalized = normalizeE164(String(cid));
  if (!normalized) throw badRequest('cid', 'must be an E.164 number like +1234567890');
  return normalized;
}

async function activate(trx: Trx, actor: Actor, id: number | null, cid: string | null): Promise<void> {
  await trx.updateTable('callerids').set({ active: 0 }).where('account_id', '=', actor.id).where('active', '=', 1).execute();
  if (id !== null) await trx.updateTable('callerids').set({ active: 1 }).where('id', '=', id).execute();
  await projectCallerId(trx, actor.login, cid);
}

export async function addCallerId(ctx: Ctx, actor: Actor, input: { cid?: unknown; name?: unknown; set_active?: unknown }): Promise<CallerIdView> {
  assertActive(actor);
  const cid = parseCid(input.cid);
  if (input.name !== undefined && input.name !== null && (typeof input.name !== 'string' || input.name.length > 100)) {
    throw badRequest('name', 'must be a string of at most 100 characters');
  }
  const setActive = input.set_active === true || input.set_active === 1 || input.set_active === '1' || input.set_active === 'true';
  return inTx(ctx.db, async (trx) => {
    const exists = await trx.selectFrom('callerids').select('id').where('account_id', '=', actor.id).where('cid', '=', cid).executeTakeFirst();
    if (exists) throw conflict('CALLERID_EXISTS', `Caller ID ${cid} already exists`);
    const count = await trx.selectFrom('callerids').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', actor.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_CALLER_IDS_PER_CLIENT) throw conflict('CALLERID_LIMIT', `At most ${MAX_CALLER_IDS_PER_CLIENT} caller IDs per client`);
    const now = nowIso();
    const row = await trx.insertInto('callerids').values({
      account_id: actor.id, cid, name: (input.name as string | undefined) ?? null, active: 0, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const id = Number(row.id);
    if (setActive) await activate(trx, actor, id, cid);
    return { id, cid, name: (input.name as string | undefined) ?? null, active: setActive ? 1 : 0, created_at: formatLocal(now) };
  });
}

export async function setActiveCallerId(ctx: Ctx, actor: Actor, cidInput: unknown): Promise<CallerIdView> {
  assertActive(actor);
  const cid = parseCid(cidInput);
  return inTx(ctx.db, async (trx) => {
    const row = await trx.selectFrom('callerids').selectAll().where('account_id', '=', actor.id).where('cid', '=', cid).executeTakeFirst();
    if (!row) throw notFound('Caller ID');
    await activate(trx, actor, Number(row.id), cid);
    return { id: Number(row.id), cid, name: row.name, active: 1, created_at: formatLocal(row.created_at) };
  });
}

export async function deleteCallerId(ctx: Ctx, actor: Actor, idInput: unknown): Promise<{ id: number; cid: string }> {
  assertActive(actor);
  const id = typeof idInput === 'string' && /^\d+$/.test(idInput) ? Number(idInput) : idInput;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw badRequest('id', 'must be a positive integer');
  return inTx(ctx.db, async (trx) => {
    const row = await trx.selectFrom('callerids').selectAll().where('account_id', '=', actor.id).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('Caller ID');
    await trx.deleteFrom('callerids').where('id', '=', id).execute();
    if (row.active === 1) await projectCallerId(trx, actor.login, null);
    return { id, cid: row.cid };
  });
}

export async function clearCallerId(ctx: Ctx, actor: Actor): Promise<{ cleared: boolean }> {
  assertActive(actor);
  return inTx(ctx.db, async (trx) => {
    const active = await trx.selectFrom('callerids').select('id').where('account_id', '=', actor.id).where('active', '=', 1).executeTakeFirst();
    await activate(trx, actor, null, null);
    return { cleared: active !== undefined };
  });
}
