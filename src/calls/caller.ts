// Finds who pays for a call: the SIP account by login, or the IP-auth peer by source address,
// with its client and (for reseller clients) the reseller.
import { sql } from 'kysely';
import type { Ctx } from '../context.js';
import { CoalescedLookup } from '../db/coalesced-lookup.js';
import type { Trx } from '../db/connect.js';
import { dialectOf } from '../db/dialect.js';
import { preparedQuery } from '../db/prepared.js';
import { badRequest } from '../errors.js';
import { markupOrDefault } from '../plans/retail-rates.js';

export interface Caller {
  sipAccountId: number;
  sipLogin: string;
  sipActive: boolean;
  accountId: number;
  accountLogin: string;
  accountActive: boolean;
  planId: number | null;
  planVersion: number;
  /**
   * When the plan is a reseller's retail plan: the wholesale plan it is derived from and the
   * markup of its owner. The plan's own rows are then only its overrides (plans/retail-rates.ts).
   */
  derivedFrom: null | { planId: number; planVersion: number; markupMicroPercent: bigint; hasOverrides: boolean };
  /** The account's active caller ID, presented on its calls. */
  callerId: string | null;
  reseller: null | { id: number; active: boolean; planId: number | null; planVersion: number };
}

const DESTINATION_RE = /^\d{1,32}$/;

/** Dialled digits: `+` or a leading `00` (international access) removed, separators dropped. */
export function normalizeDestination(input: unknown): string {
  if (typeof input !== 'string' && typeof input !== 'number') throw badRequest('destination', 'is required');
  let digits = String(input).trim().replace(/[\s\-().]/g, '');
  if (digits.startsWith('+')) digits = digits.slice(1);
  else if (digits.startsWith('00')) digits = digits.slice(2);
  if (!DESTINATION_RE.test(digits)) throw badRequest('destination', 'must be a dialled number (digits, optional leading + or 00)');
  return digits;
}

export function parseUniqueId(input: unknown): string {
  if (typeof input !== 'string' && typeof input !== 'number') throw badRequest('uniqueid', 'is required');
  const id = String(input).trim();
  if (id === '' || id.length > 100) throw badRequest('uniqueid', 'must be 1-100 characters');
  return id;
}

// The caller with its account, reseller, plan versions (and, for a retail plan, its wholesale
// plan's and its owner's markup) and active caller ID in one query;
// built once (db/prepared.ts), as it runs twice for every call.
function callerQuery(db: Ctx['db']) {
  return db.selectFrom('sip_accounts as s')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .leftJoin('plans as ap', 'ap.id', 'a.plan_id')
    .leftJoin('plans as wp', 'wp.id', 'ap.wholesale_plan_id')
    .leftJoin('accounts as po', 'po.id', 'ap.owner_id')
    .leftJoin('accounts as r', 'r.id', 'a.parent_id')
    .leftJoin('plans as rp', 'rp.id', 'r.plan_id')
    .leftJoin('callerids as cid', (join) => join.onRef('cid.account_id', '=', 'a.id').on('cid.active', '=', sql.lit(1)))
    .select([
      's.id as sip_id', 's.name as sip_name', 's.active as sip_active',
      'a.id as account_id', 'a.login as account_login', 'a.active as account_active', 'a.plan_id', 'ap.rates_version as plan_version',
      'wp.id as wholesale_plan_id', 'wp.rates_version as wholesale_plan_version', 'po.markup_micro_percent as plan_owner_markup',
      // Most retail plans have no overrides: rating them then needs no table of their own in
      // the rate cache (one index probe here instead of an entry per reseller there).
      (eb) => eb.exists(eb.selectFrom('rates as ro').select(sql.lit(1).as('one')).whereRef('ro.plan_id', '=', 'ap.id')).as('plan_has_rows'),
      'r.id as reseller_id', 'r.active as reseller_active', 'r.plan_id as reseller_plan_id', 'rp.rates_version as reseller_plan_version',
      'cid.cid as caller_id',
    ]);
}
const callerBySipName = preparedQuery<{ sipName: string }>()((db, p) => callerQuery(db).where('s.name', '=', p.sipName));
// One index probe per name: LATERAL ... LIMIT 1 keeps the planner from joining the list to the
// tables. `s.name in (list)` got a cached generic plan that read every SIP account and account
// and hashed them, for every lookup (1.4 ms at 600 accounts, growing with the tables).
const callersBySipNames = preparedQuery<{ sipNames: string[] }>()((db, p) => db
  .selectFrom(sql<{ u: string }>`unnest(${p.sipNames}::text[])`.as('u'))
  .innerJoinLateral(callerQuery(db).where('s.name', '=', sql.ref<string>('u.u')).limit(sql.lit(1)).as('c'), (join) => join.onTrue())
  .selectAll('c'));
type CallerRow = Awaited<ReturnType<typeof callerBySipName>>[number];

/**
 * PostgreSQL: the callers looked up in one turn of the event loop, in one query
 * (db/coalesced-lookup.ts).
 */
const coalesced = new WeakMap<object, CoalescedLookup<CallerRow>>();
function callerRow(db: Ctx['db'], sipName: string): Promise<CallerRow | undefined> {
  if (dialectOf(db) !== 'postgres' || (db as Trx).isTransaction) return callerBySipName(db, { sipName }).then((rows) => rows[0]);
  let lookup = coalesced.get(db);
  if (!lookup) {
    lookup = new CoalescedLookup((sipNames) => callersBySipNames(db, { sipNames }), (row) => row.sip_name);
    coalesced.set(db, lookup);
  }
  return lookup.get(sipName);
}
// An IP address belongs to one client (sip/ip-auth.ts), so every active peer on it bills the same
// client; the port only picks which of that client's peers the call is recorded under: the one
// bound to the source port, else (no port given, or a port none is bound to) the client's
// lowest-id active peer on the address.
const peerByIp = preparedQuery<{ ip: string }>()((db, p) => db.selectFrom('ip_auth').select(['peer_name'])
  .where('ip', '=', p.ip).where('status', '=', sql.lit(1)).orderBy('id').limit(sql.lit(1)));
const peerByIpPreferringPort = preparedQuery<{ ip: string; port: number }>()((db, p) => db.selectFrom('ip_auth').select(['peer_name'])
  .where('ip', '=', p.ip).where('status', '=', sql.lit(1))
  .orderBy(sql`case when port = ${p.port} then 0 else 1 end`).orderBy('id').limit(sql.lit(1)));

export async function findCaller(ctx: Ctx, input: { sip_login?: unknown; source_ip?: unknown; source_port?: unknown }): Promise<Caller | null> {
  let sipName: string;
  if (input.sip_login !== undefined && input.sip_login !== null && input.sip_login !== '') {
    if (typeof input.sip_login !== 'string' || input.sip_login.length > 80) throw badRequest('sip_login', 'must be a SIP login');
    sipName = input.sip_login;
  } else if (input.source_ip !== undefined && input.source_ip !== null && input.source_ip !== '') {
    if (typeof input.source_ip !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(input.source_ip)) {
      throw badRequest('source_ip', 'must be an IPv4 address');
    }
    const hasPort = input.source_port !== undefined && input.source_port !== null && input.source_port !== '';
    const port = !hasPort ? 0
      : typeof input.source_port === 'number' ? input.source_port
      : typeof input.source_port === 'string' && /^\d{1,5}$/.test(input.source_port) ? Number(input.source_port) : Number.NaN;
    if (hasPort && (!Number.isInteger(port) || port < 1 || port > 65535)) throw badRequest('source_port', 'must be a port number (1-65535)');
    const found = hasPort
      ? await peerByIpPreferringPort(ctx.db, { ip: input.source_ip, port })
      : await peerByIp(ctx.db, { ip: input.source_ip });
    if (found.length === 0) return null;
    sipName = found[0].peer_name;
  } else {
    throw badRequest('sip_login', 'sip_login or source_ip is required');
  }
  const row = await callerRow(ctx.db, sipName);
  if (!row) return null;
  return {
    sipAccountId: Number(row.sip_id),
    sipLogin: row.sip_name,
    sipActive: row.sip_active === 1,
    accountId: Number(row.account_id),
    accountLogin: row.account_login,
    accountActive: row.account_active === 1,
    planId: row.plan_id === null ? null : Number(row.plan_id),
    planVersion: Number(row.plan_version ?? 0),
    derivedFrom: row.wholesale_plan_id === null ? null : {
      planId: Number(row.wholesale_plan_id),
      planVersion: Number(row.wholesale_plan_version ?? 0),
      markupMicroPercent: markupOrDefault(row.plan_owner_markup),
      // SQLite answers 0/1, PostgreSQL a boolean.
      hasOverrides: row.plan_has_rows === true || Number(row.plan_has_rows) === 1,
    },
    callerId: row.caller_id ?? null,
    reseller: row.reseller_id === null ? null : {
      id: Number(row.reseller_id),
      active: row.reseller_active === 1,
      planId: row.reseller_plan_id === null ? null : Number(row.reseller_plan_id),
      planVersion: Number(row.reseller_plan_version ?? 0),
    },
  };
}
