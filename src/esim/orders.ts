// eSIM purchases (CONTRACT §5), a saga in three steps, each recorded before the next:
// 1. `buy`: in one transaction the order row (PENDING) and its debit; the debit's posting id
//    names the upstream order (`transactionId` = `LL<posting id>`). 402 when the balance cannot
//    pay: nothing recorded, nothing ordered.
// 2. Once that is durable, the upstream order. Placed: ALLOCATING. Refused: the money comes back
//    as a `refund` posting in the transaction that marks the order REFUNDED. No answer (the
//    upstream down, a timeout, a crash): the order stays PENDING.
// 3. A PENDING order older than ESIM_PENDING_GRACE_SECONDS is resolved by the worker
//    (esim/worker.ts): it first asks the upstream for the order of its transactionId, and orders
//    only when there is none (the upstream refuses a second order with one transactionId too),
//    so nothing is ordered twice; refused, it is refunded. Every change of status is conditional
//    on the status before, so a refund is posted once however many instances resolve it.
// The profile (ICCID, activation code) comes later: the worker and `sync-order` fetch it.
import QRCode from 'qrcode';
import type { Actor } from '../accounts/actor.js';
import { assertActive } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { EsimOrderStatus, EsimOrdersTable } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { formatMoney, microsFromDb } from '../money.js';
import { paging } from '../util/input.js';
import { formatLocal, nowIso } from '../util/time.js';
import type { Selectable } from 'kysely';
import { esimPackage, esimUpstreamOf } from './catalog.js';
import { esimBuyerOf, esimPricer } from './prices.js';
import { UpstreamProtocolError, UpstreamUnavailable, type UpstreamProfile } from './upstream/upstream.js';

type OrderRow = Selectable<EsimOrdersTable>;

/** The upstream's refusal of a second order with the same transactionId. */
const DUPLICATE_TRANSACTION = '200011';

export async function buyEsim(ctx: Ctx, actor: Actor, input: { package_code?: unknown }) {
  assertActive(actor);
  const pkg = await esimPackage(ctx.db, input.package_code);
  if (pkg.active !== 1) throw conflict('PACKAGE_UNAVAILABLE', 'This package is no longer sold');
  const buyer = await esimBuyerOf(ctx.db, actor);
  const price = (await esimPricer(ctx.db, buyer))(pkg.package_code, microsFromDb(pkg.upstream_price_micros));
  return inTx(ctx.db, async (trx) => {
    const now = nowIso();
    const { id } = await trx.insertInto('esim_orders').values({
      account_id: actor.id, package_code: pkg.package_code, package_name: pkg.name, price_micros: price,
      upstream_price_units: Number(pkg.upstream_price_units), status: 'PENDING', created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const debit = await post(trx, {
      accountId: actor.id, amountMicros: -price, kind: 'esim', refType: 'esim_order', refId: Number(id),
      description: `eSIM ${pkg.name}`, requireFunds: true,
    });
    const transactionId = `LL${debit.postingId}`;
    await trx.updateTable('esim_orders').set({ transaction_id: transactionId }).where('id', '=', id).execute();
    return {
      order_id: Number(id), package_code: pkg.package_code, name: pkg.name, price: formatMoney(price, 4),
      status: 'PENDING' as EsimOrderStatus, balance_after: formatMoney(debit.balanceAfterMicros, 4),
    };
  });
}

/** Moves an order from `from` to `set.status`; false when another step moved it first. */
async function move(ctx: Ctx, id: number, from: EsimOrderStatus, set: Partial<Record<keyof EsimOrdersTable, unknown>>): Promise<boolean> {
  const moved = await inTx(ctx.db, (trx) => trx.updateTable('esim_orders').set({ ...set, updated_at: nowIso() } as never)
    .where('id', '=', id).where('status', '=', from).returning('id').execute());
  return moved.length > 0;
}

/** The refund of a refused order: the status and the posting in one transaction, once. */
async function refund(ctx: Ctx, order: OrderRow, errorCode: string): Promise<void> {
  await inTx(ctx.db, async (trx) => {
    const moved = await trx.updateTable('esim_orders').set({ status: 'REFUNDED', error_code: errorCode, updated_at: nowIso() })
      .where('id', '=', order.id).where('status', '=', 'PENDING').returning('id').execute();
    if (moved.length === 0) return;
    await post(trx, {
      accountId: Number(order.account_id), amountMicros: microsFromDb(order.price_micros), kind: 'refund', refType: 'esim_order',
      refId: Number(order.id), description: `eSIM ${order.package_name}: refused by the provider (${errorCode})`,
    });
  });
  await ctx.durable();
}

/**
 * Places a PENDING order upstream, or finds the one placed before (`askFirst`: the worker, after
 * a lost answer). Answers the status it leaves.
 */
export async function placeEsimOrder(ctx: Ctx, order: OrderRow, askFirst: boolean): Promise<{ status: EsimOrderStatus; errorCode: string | null }> {
  const upstream = esimUpstreamOf(ctx);
  const tx = order.transaction_id!;
  try {
    let orderNo = askFirst ? await upstream.orderOfTransaction(tx) : null;
    if (!orderNo) {
      const answer = await upstream.order(tx, order.package_code, Number(order.upstream_price_units));
      if (answer.placed) orderNo = answer.orderNo;
      else if (answer.errorCode === DUPLICATE_TRANSACTION) orderNo = await upstream.orderOfTransaction(tx);
      else {
        await refund(ctx, order, `UPSTREAM_${answer.errorCode}`);
        return { status: 'REFUNDED', errorCode: `UPSTREAM_${answer.errorCode}` };
      }
      if (!orderNo) return { status: 'PENDING', errorCode: 'UPSTREAM_UNAVAILABLE' };
    }
    await move(ctx, Number(order.id), 'PENDING', { status: 'ALLOCATING', order_no: orderNo });
    await ctx.durable();
    return { status: 'ALLOCATING', errorCode: null };
  } catch (err) {
    if (err instanceof UpstreamUnavailable || err instanceof UpstreamProtocolError) {
      ctx.log.warn({ err: err.message, orderId: Number(order.id) }, 'eSIM order not confirmed; the worker resolves it');
      return { status: 'PENDING', errorCode: 'UPSTREAM_UNAVAILABLE' };
    }
    throw err;
  }
}

/** After `buy` commits: its upstream order; the answer's status is what came of it. */
export async function placeBoughtEsim(ctx: Ctx, answer: Record<string, unknown>): Promise<Record<string, unknown>> {
  const order = await ctx.db.selectFrom('esim_orders').selectAll().where('id', '=', Number(answer.order_id)).executeTakeFirstOrThrow();
  const result = await placeEsimOrder(ctx, order, false);
  return { status: result.status, ...(result.errorCode ? { error_code: result.errorCode } : {}) };
}

/** Stores what the upstream says of an order's profile: READY once it has one. */
export async function applyProfile(ctx: Ctx, order: OrderRow, profile: UpstreamProfile): Promise<void> {
  const set = {
    iccid: profile.iccid, activation_code: profile.ac, smdp_status: profile.smdpStatus, esim_status: profile.esimStatus,
    total_volume_bytes: profile.totalVolume, used_bytes: profile.orderUsage, expires_at: profile.expiredTime, synced_at: nowIso(),
  };
  await inTx(ctx.db, (trx) => trx.updateTable('esim_orders')
    .set({ ...set, status: order.status === 'ALLOCATING' ? 'READY' : order.status, updated_at: nowIso() })
    .where('id', '=', order.id).where('status', 'in', ['ALLOCATING', 'READY']).execute());
}

async function orderView(o: OrderRow) {
  const total = o.total_volume_bytes === null ? null : Number(o.total_volume_bytes);
  const used = o.used_bytes === null ? null : Number(o.used_bytes);
  return {
    order_id: Number(o.id), package_code: o.package_code, name: o.package_name, price: formatMoney(microsFromDb(o.price_micros), 4),
    status: o.status, error_code: o.error_code, iccid: o.iccid, activation_code: o.activation_code,
    // Made here from the activation code, never fetched from elsewhere.
    qr_code: o.activation_code ? await QRCode.toDataURL(o.activation_code, { errorCorrectionLevel: 'M' }) : null,
    total_volume_bytes: total, used_bytes: used, remaining_bytes: total === null || used === null ? null : Math.max(0, total - used),
    expires_at: o.expires_at ? formatLocal(o.expires_at) : null, created_at: formatLocal(o.created_at),
  };
}

export async function listEsimOrders(ctx: Ctx, actor: Actor, input: { limit?: unknown; offset?: unknown }) {
  const { limit, offset } = paging(input, 20);
  const rows = await ctx.db.selectFrom('esim_orders').selectAll().where('account_id', '=', actor.id)
    .orderBy('id', 'desc').limit(limit).offset(offset).execute();
  const total = await ctx.db.selectFrom('esim_orders').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', actor.id).executeTakeFirstOrThrow();
  return { total: Number(total.n), limit, offset, orders: await Promise.all(rows.map(orderView)) };
}

/** One order of the account, refreshed from the upstream; another account's answers 404. */
export async function syncEsimOrder(ctx: Ctx, actor: Actor, input: { order_id?: unknown }) {
  const text = typeof input.order_id === 'number' ? String(input.order_id) : input.order_id;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) throw badRequest('order_id', 'must be an order id');
  const find = () => ctx.db.selectFrom('esim_orders').selectAll().where('id', '=', Number(text)).where('account_id', '=', actor.id).executeTakeFirst();
  const order = await find();
  if (!order) throw notFound('eSIM order');
  if (order.order_no && (order.status === 'ALLOCATING' || order.status === 'READY')) {
    try {
      const [profile] = await esimUpstreamOf(ctx).profiles(order.order_no);
      if (profile) await applyProfile(ctx, order, profile);
    } catch (err) {
      if (!(err instanceof UpstreamUnavailable || err instanceof UpstreamProtocolError)) throw err;
      ctx.log.warn({ err: err.message, orderId: Number(order.id) }, 'eSIM order not refreshed; answering what is stored');
    }
  }
  return orderView((await find())!);
}
