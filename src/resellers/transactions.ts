// The reseller's money movements to its clients: transfers and portal payments, one row each
// in `reseller_transactions`, next to the ledger posting that credited the client.
import type { Actor } from '../accounts/actor.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import { listTotal } from '../db/list-counts.js';
import type { Selectable } from 'kysely';
import type { ResellerTransactionsTable } from '../db/schema.js';
import { badRequest } from '../errors.js';
import { microsFromDb, moneyToJsonNumber, type Micros } from '../money.js';
import { cursorPaging, pageWithNext } from '../util/input.js';
import { normalizePaymentStatus, paymentOutcome } from './payment-statuses.js';
import { formatLocal, nowIso } from '../util/time.js';

export type ResellerTransaction = Selectable<ResellerTransactionsTable>;
export type TransactionKind = 'transfer' | 'payment';

/** The status of a row whose amount has been credited to the client. */
export const CREDITED = 'success';

/** Statuses are short lowercase words (`success`, `pending`, `failed`, `wrong_amount_waiting`, …). */
export const STATUS_RE = /^[a-z][a-z0-9_-]{0,31}$/;

export function transactionView(row: ResellerTransaction, login: string) {
  return {
    id: Number(row.id),
    type: row.kind,
    login,
    amount: moneyToJsonNumber(microsFromDb(row.amount_micros)),
    currency: row.currency,
    status: row.status,
    credited: row.posting_id !== null,
    external_id: row.external_id,
    provider: row.provider,
    provider_txid: row.provider_txid,
    created_at: formatLocal(row.created_at),
    updated_at: formatLocal(row.updated_at),
  };
}

export interface NewTransaction {
  resellerId: number;
  clientId: number;
  kind: TransactionKind;
  amountMicros: Micros;
  status: string;
  externalId: string | null;
  currency?: string | null;
  provider?: string | null;
  providerTxid?: string | null;
}

/**
 * Inserts the row unless (reseller, kind, external_id) already has one; returns the new row,
 * or null when another request got there first. On PostgreSQL a concurrent insert of the
 * same key waits here until the first one commits.
 */
export async function insertTransaction(trx: Trx, t: NewTransaction): Promise<ResellerTransaction | null> {
  const now = nowIso();
  const row = await trx.insertInto('reseller_transactions').values({
    reseller_id: t.resellerId,
    client_id: t.clientId,
    kind: t.kind,
    amount_micros: t.amountMicros,
    currency: t.currency ?? null,
    status: t.status,
    external_id: t.externalId,
    provider: t.provider ?? null,
    provider_txid: t.providerTxid ?? null,
    posting_id: null,
    created_at: now,
    updated_at: now,
  }).onConflict((oc) => oc.columns(['reseller_id', 'kind', 'external_id']).doNothing())
    .returningAll().executeTakeFirst();
  return row ?? null;
}

/**
 * Transfers and payments of the reseller, newest first; `status=success` keeps the credited ones.
 * The total, with or without a status, is the maintained count of that list (one per status
 * word, kept by the database in the transaction of each row's insert or status change), so it is
 * exact and costs one read however many transactions there are.
 */
export async function listTransactions(ctx: Ctx, actor: Actor, query: { status?: unknown; limit?: unknown; offset?: unknown; after?: unknown }) {
  const page = cursorPaging(query);
  let status: string | undefined;
  if (query.status !== undefined && query.status !== null && query.status !== '') {
    status = typeof query.status === 'string' ? normalizePaymentStatus(query.status) : '';
    if (!STATUS_RE.test(status)) throw badRequest('status', 'must be a status word such as success, pending or failed');
    // A credited payment reads `success`; a provider's word for paid (`paid`, `completed`, …) finds it too.
    if (paymentOutcome(status) === 'paid') status = CREDITED;
  }
  let base = ctx.db.selectFrom('reseller_transactions as t').where('t.reseller_id', '=', actor.id);
  if (status) base = base.where('t.status', '=', status);
  if (page.afterId !== null) base = base.where('t.id', '<', page.afterId);
  const [total, found] = await Promise.all([
    listTotal(ctx.reads, ctx.db, actor.id, status ? `transactions:${status}` : 'transactions'),
    ctx.reads.all(base.innerJoin('accounts as a', 'a.id', 't.client_id')
      .selectAll('t').select('a.login as client_login')
      .orderBy('t.id', 'desc').limit(page.limit + 1).offset(page.offset)),
  ]);
  const { rows, next } = pageWithNext(found, page.limit, (r) => Number(r.id));
  return {
    total,
    limit: page.limit,
    offset: page.offset,
    next,
    transactions: rows.map((r) => transactionView(r, r.client_login)),
  };
}
