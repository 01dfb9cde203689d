// `transfer`: a reseller credits retail balance to one of its own clients. The reseller is not
// charged now; its wholesale balance pays when the client calls. Retries are made safe by
// the request layer's idempotency on `external_id`; the row's unique key backs it up.
import type { Actor } from '../accounts/actor.js';
import { assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import { conflict } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { moneyToJsonNumber } from '../money.js';
import { money, requiredString } from '../util/input.js';
import { CREDITED, insertTransaction, transactionView } from './transactions.js';

/** An optional `external_id`: a string (or number) of at most 200 characters; empty = none. */
export function optionalExternalId(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return requiredString(text, 'external_id', 200);
}

export async function transfer(ctx: Ctx, actor: Actor, input: { login?: unknown; amount?: unknown; external_id?: unknown }) {
  assertActive(actor);
  const login = requiredString(input.login, 'login', 64);
  const amountMicros = money(input.amount, 'amount', { allowZero: false });
  const externalId = optionalExternalId(input.external_id);
  return inTx(ctx.db, async (trx) => {
    const client = await reachableClient(trx, actor, login);
    const row = await insertTransaction(trx, {
      resellerId: actor.id, clientId: client.id, kind: 'transfer', amountMicros, status: CREDITED, externalId,
    });
    // The request layer replays a repeated external_id before it gets here; reaching this
    // means the key was used in a way it cannot replay (e.g. by another retry mechanism).
    if (!row) throw conflict('DUPLICATE_EXTERNAL_ID', 'external_id: already used for another transfer');
    const p = await post(trx, {
      accountId: client.id, amountMicros, kind: 'transfer', refType: 'reseller_transaction', refId: row.id,
      description: 'Transfer',
    });
    const credited = await trx.updateTable('reseller_transactions').set({ posting_id: p.postingId })
      .where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    return {
      transaction: transactionView(credited, client.login),
      client: { login: client.login, balance: moneyToJsonNumber(p.balanceAfterMicros) },
    };
  });
}
