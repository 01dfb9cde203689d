// IP authentication: a public PBX address bound to one of the client's SIP accounts.
// Each record is a service peer `<sip_login>_ipaN`; disabling removes it from the switch.
//
// An IP address belongs to one client account: the switch finds who pays for a call by its
// source address, so two tenants on one address would make that a guess (and let one tenant
// disturb another's calls). Ports only tell one client's peers apart. The holder of an address
// is kept in `ip_auth_owners` (primary key: the address), claimed in the transaction that
// creates or enables a record, so two clients racing for one address cannot both win.
import type { Actor } from '../accounts/actor.js';
import { assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import { dialectOf, forUpdate } from '../db/dialect.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { intInRange } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';
import { projectIpMatches, projectIpPeer, removeEndpoint } from './projection.js';
import { publicIpv4Problem } from './public-ip.js';
import { activeCallerId, SERVICE_KINDS } from './sip-accounts.js';

export const MAX_IP_AUTH_PER_CLIENT = 50;

export interface IpAuthView {
  id: number;
  sip_login: string;
  peer_name: string;
  ip: string;
  port: number;
  status: number;
  created_at: string | null;
}

interface IpAuthRow {
  id: number;
  peer_name: string;
  ip: string;
  port: number;
  status: number;
  created_at: string;
  sip_login: string;
}

const view = (r: IpAuthRow): IpAuthView => ({
  id: Number(r.id), sip_login: r.sip_login, peer_name: r.peer_name, ip: r.ip, port: r.port,
  status: r.status, created_at: formatLocal(r.created_at),
});

function selectIpAuth(db: Ctx['db']) {
  return db.selectFrom('ip_auth as i')
    .innerJoin('sip_accounts as s', 's.id', 'i.sip_account_id')
    .select(['i.id', 'i.peer_name', 'i.ip', 'i.port', 'i.status', 'i.created_at', 's.name as sip_login']);
}

export async function listIpAuth(ctx: Ctx, actor: Actor) {
  const sip = await ctx.db.selectFrom('sip_accounts').select(['name', 'kind', 'active'])
    .where('account_id', '=', actor.id).where('kind', 'not in', SERVICE_KINDS).orderBy('id').execute();
  const records = await selectIpAuth(ctx.db).where('i.account_id', '=', actor.id).orderBy('i.id').execute();
  return {
    sip_accounts: sip.map((s) => ({ name: s.name, type: s.kind === 'main' ? 'main' : 'additional', active: s.active })),
    ip_auth: records.map(view),
  };
}

function parseId(id: unknown): number {
  const n = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw badRequest('id', 'must be a positive integer');
  return n;
}

async function ownRecord(trx: Trx, actor: Actor, id: unknown): Promise<IpAuthRow> {
  const row = await selectIpAuth(trx).where('i.id', '=', parseId(id)).where('i.account_id', '=', actor.id).executeTakeFirst();
  if (!row) throw notFound('IP authorization');
  return row;
}

const ipTaken = (ip: string) => conflict('IP_TAKEN',
  `${ip} is bound to another account: an IP address belongs to one client. Use another address, or ask your provider if this address is yours`);

/**
 * Makes the actor the holder of `ip`, or answers 409 IP_TAKEN without saying who holds it. A
 * holder left without any record of the address (its records went with a deleted SIP account)
 * holds it no longer.
 */
async function claimAddress(trx: Trx, actor: Actor, ip: string): Promise<void> {
  // Locked (PostgreSQL; a SQLite transaction holds the write lock already): the holder adding a
  // record and another client taking over a stale holding are serialized, so the other sees
  // the new record before it decides.
  const holder = trx.selectFrom('ip_auth_owners').select('account_id').where('ip', '=', ip);
  const owner = await forUpdate(holder, dialectOf(trx)).executeTakeFirst();
  if (owner && Number(owner.account_id) === actor.id) return;
  if (owner) {
    const held = await trx.selectFrom('ip_auth').select('id')
      .where('ip', '=', ip).where('account_id', '=', owner.account_id).limit(1).executeTakeFirst();
    if (held) throw ipTaken(ip);
    // Conditional on the stale holder: of two clients taking it over at once, one updates a row.
    const moved = await trx.updateTable('ip_auth_owners').set({ account_id: actor.id, created_at: nowIso() })
      .where('ip', '=', ip).where('account_id', '=', owner.account_id).executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) throw ipTaken(ip);
    return;
  }
  // A concurrent claim waits on the key and then inserts nothing; the re-read tells who won.
  await trx.insertInto('ip_auth_owners').values({ ip, account_id: actor.id, created_at: nowIso() })
    .onConflict((oc) => oc.column('ip').doNothing()).execute();
  const now = await trx.selectFrom('ip_auth_owners').select('account_id').where('ip', '=', ip).executeTakeFirst();
  if (!now || Number(now.account_id) !== actor.id) throw ipTaken(ip);
}

/** The holder lets an address go with its last record of it. */
async function releaseAddressIfUnused(trx: Trx, accountId: number, ip: string): Promise<void> {
  const left = await trx.selectFrom('ip_auth').select('id').where('ip', '=', ip).where('account_id', '=', accountId).limit(1).executeTakeFirst();
  if (!left) await trx.deleteFrom('ip_auth_owners').where('ip', '=', ip).where('account_id', '=', accountId).execute();
}

async function project(ctx: Ctx, trx: Trx, actor: Actor, r: IpAuthRow): Promise<void> {
  await projectIpPeer(trx, {
    peerName: r.peer_name, accountLogin: actor.login, ip: r.ip, port: r.port,
    callerId: await activeCallerId(trx, actor.id),
  });
}

export async function createIpAuth(ctx: Ctx, actor: Actor, input: { sip_login?: unknown; ip?: unknown; port?: unknown }): Promise<IpAuthView> {
  assertActive(actor);
  if (typeof input.sip_login !== 'string' || input.sip_login === '') throw badRequest('sip_login', 'is required');
  const ipProblem = publicIpv4Problem(input.ip);
  if (ipProblem) throw badRequest('ip', ipProblem);
  // Only an integer or a string of digits: `true` or `[5060]` are not ports.
  const port = intInRange(input.port, 'port', 1, 65535, 5060);
  const ip = input.ip as string;
  const sipLogin = input.sip_login;
  return inTx(ctx.db, async (trx) => {
    const sip = await trx.selectFrom('sip_accounts').selectAll()
      .where('name', '=', sipLogin).where('account_id', '=', actor.id).executeTakeFirst();
    if (!sip || SERVICE_KINDS.includes(sip.kind)) throw notFound('SIP account');
    const count = await trx.selectFrom('ip_auth').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', actor.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_IP_AUTH_PER_CLIENT) throw conflict('IP_AUTH_LIMIT', `At most ${MAX_IP_AUTH_PER_CLIENT} IP authorizations per client`);
    await claimAddress(trx, actor, ip);
    const taken = await trx.selectFrom('ip_auth').select('id').where('ip', '=', ip).where('port', '=', port).executeTakeFirst();
    if (taken) throw conflict('IP_IN_USE', `${ip}:${port} is already bound to a SIP account; use another port`);
    const peers = await trx.selectFrom('sip_accounts').select('name').where('name', 'like', `${sip.name}_ipa%`).execute();
    const used = new Set(peers.map((p) => p.name));
    let n = 1;
    while (used.has(`${sip.name}_ipa${n}`)) n++;
    const peerName = `${sip.name}_ipa${n}`;
    const now = nowIso();
    await trx.insertInto('sip_accounts').values({
      account_id: actor.id, name: peerName, kind: 'ipa', secret_enc: null, ha1: null, ha1b: null, active: 1, created_at: now,
    }).execute();
    const inserted = await trx.insertInto('ip_auth').values({
      account_id: actor.id, sip_account_id: sip.id, peer_name: peerName, ip, port, status: 1, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const row: IpAuthRow = { id: Number(inserted.id), peer_name: peerName, ip, port, status: 1, created_at: now, sip_login: sip.name };
    await project(ctx, trx, actor, row);
    return view(row);
  });
}

export async function setIpAuthStatus(ctx: Ctx, actor: Actor, id: unknown, enabled: boolean): Promise<IpAuthView> {
  assertActive(actor);
  return inTx(ctx.db, async (trx) => {
    const row = await ownRecord(trx, actor, id);
    const status = enabled ? 1 : 0;
    // A record disabled because another client held its address (migration 0008) stays off.
    if (enabled) await claimAddress(trx, actor, row.ip);
    await trx.updateTable('ip_auth').set({ status }).where('id', '=', row.id).execute();
    await trx.updateTable('sip_accounts').set({ active: status }).where('name', '=', row.peer_name).execute();
    if (enabled) {
      await project(ctx, trx, actor, row);
    } else {
      await removeEndpoint(trx, row.peer_name);
      await projectIpMatches(trx, row.ip);
    }
    return view({ ...row, status });
  });
}

export async function deleteIpAuth(ctx: Ctx, actor: Actor, id: unknown): Promise<{ id: number; peer_name: string }> {
  assertActive(actor);
  return inTx(ctx.db, async (trx) => {
    const row = await ownRecord(trx, actor, id);
    await removeEndpoint(trx, row.peer_name);
    await trx.deleteFrom('ip_auth').where('id', '=', row.id).execute();
    await trx.deleteFrom('sip_accounts').where('name', '=', row.peer_name).execute();
    await projectIpMatches(trx, row.ip);
    await releaseAddressIfUnused(trx, actor.id, row.ip);
    return { id: Number(row.id), peer_name: row.peer_name };
  });
}
