// `register-agent-payment`: a payment that a reseller's portal received for one of its clients
// (Plisio, Heleket, a custom method). Every report is recorded; the client is credited only
// when the status means paid (payment-statuses.ts: `paid`, Plisio's `completed` and `mismatch`,
// Heleket's `paid_over`), and only once per external_id, however often and however
// concurrently the portal reports it. The row keyed by (reseller, 'payment', external_id) is
// the guard: it is inserted once, and it moves to `success` by one conditional update, which
// on PostgreSQL waits for a concurrent one and then sees its result.
import type { Actor } from '../accounts/actor.js';
import { assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { Trx } from '../db/connect.js';
import type { Account } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { microsFromDb } from '../money.js';
import { money, optionalString, requiredString } from '../util/input.js';
import { nowIso } from '../util/time.js';
import { ACCEPTED_PAYMENT_STATUSES, normalizePaymentStatus, paymentOutcome } from './payment-statuses.js';
import { CREDITED, insertTransaction, transactionView, type ResellerTransaction } from './transactions.js';

export interface PaymentInput {
  login?: unknown;
  amount?: unknown;
  currency?: unknown;
  provider?: unknown;
  external_id?: unknown;
  provider_txid?: unknown;
  status?: unknown;
}

/** The provider's status word, normalized, and whether it means the payment is complete. */
function parseStatus(value: unknown): { status: string; paid: boolean } {
  const status = normalizePaymentStatus(requiredString(value, 'status', 32));
  const outcome = paymentOutcome(status);
  if (!outcome) {
    // `success` is how a credited row reads, not a provider's word: refused like any unknown one.
    throw badRequest('status', `unknown payment status; accepted: ${ACCEPTED_PAYMENT_STATUSES.join(', ')}`, 'UNKNOWN_PAYMENT_STATUS');
  }
  return { status, paid: outcome === 'paid' };
}

function parseCurrency(value: unknown): string | null {
  const text = optionalString(value, 'currency', 8)?.toUpperCase();
  if (text === undefined) return null;
  if (!/^[A-Z][A-Z0-9]{1,7}$/.test(text)) throw badRequest('currency', 'must be a currency code such as EUR, USD or USDT');
  return text;
}

function parseProvider(value: unknown): string | null {
  const text = optionalString(value, 'provider', 64);
  if (text === undefined) return null;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)) throw badRequest('provider', 'must be a provider name (letters, digits, dot, dash, underscore)');
  return text.toLowerCase();
}

function parseExternalId(value: unknown): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return requiredString(text, 'external_id', 200);
}

async function credit(trx: Trx, row: ResellerTransaction, client: Account): Promise<ResellerTransaction> {
  const p = await post(trx, {
    accountId: client.id, amountMicros: microsFromDb(row.amount_micros), kind: 'payment',
    refType: 'reseller_transaction', refId: row.id,
    description: row.provider ? `Payment (${row.provider})` : 'Payment',
  });
  return trx.updateTable('reseller_transactions').set({ posting_id: p.postingId })
    .where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
}

export async function registerAgentPayment(ctx: Ctx, actor: Actor, input: PaymentInput) {
  assertActive(actor);
  const login = requiredString(input.login, 'login', 64);
  const amountMicros = money(input.amount, 'amount', { allowZero: false });
  const externalId = parseExternalId(input.external_id);
  const { status, paid } = parseStatus(input.status);
  const currency = parseCurrency(input.currency);
  const provider = parseProvider(input.provider);
  const providerTxid = optionalString(input.provider_txid, 'provider_txid', 200) ?? null;

  return inTx(ctx.db, async (trx) => {
    const client = await reachableClient(trx, actor, login);
    const answer = (row: ResellerTransaction, duplicate: boolean) => ({
      transaction: transactionView(row, client.login), credited: row.posting_id !== null, duplicate,
    });

    const inserted = await insertTransaction(trx, {
      resellerId: actor.id, clientId: client.id, kind: 'payment', amountMicros,
      status: paid ? CREDITED : status, externalId, currency, provider, providerTxid,
    });
    if (inserted) return answer(paid ? await credit(trx, inserted, client) : inserted, false);

    const existing = await trx.selectFrom('reseller_transactions').selectAll()
      .where('reseller_id', '=', actor.id).where('kind', '=', 'payment').where('external_id', '=', externalId)
      .executeTakeFirstOrThrow();
    if (Number(existing.client_id) !== Number(client.id)
      || microsFromDb(existing.amount_micros) !== amountMicros
      || (currency !== null && existing.currency !== null && existing.currency !== currency)) {
      throw conflict('IDEMPOTENCY_MISMATCH', 'external_id: already registered for another client, amount or currency');
    }
    // Credited once; later reports of any status change nothing.
    if (existing.status === CREDITED) return answer(existing, true);
    const unchanged = !paid && existing.status === status
      && (providerTxid === null || providerTxid === existing.provider_txid);
    if (unchanged) return answer(existing, true);

    // The transition itself: only a row not yet credited moves, so one report wins.
    const moved = await trx.updateTable('reseller_transactions')
      .set({
        status: paid ? CREDITED : status,
        provider_txid: providerTxid ?? existing.provider_txid,
        provider: existing.provider ?? provider,
        currency: existing.currency ?? currency,
        updated_at: nowIso(),
      })
      .where('id', '=', existing.id).where('status', '<>', CREDITED)
      .returningAll().executeTakeFirst();
    if (!moved) {
      const now = await trx.selectFrom('reseller_transactions').selectAll().where('id', '=', existing.id).executeTakeFirstOrThrow();
      return answer(now, true);
    }
    return answer(paid ? await credit(trx, moved, client) : moved, false);
  });
}
