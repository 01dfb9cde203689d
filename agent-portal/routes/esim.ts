// The client's eSIM page: data packages searched by country, region or name at the client's
// price, a Buy button per package, the client's eSIMs, and one eSIM's page with its QR code and
// activation code. Every call is the eSIM API's with the agent's reseller key naming the
// session's client (`client_login`), so the API prices, charges and lists exactly as the
// client's own key would; a login in a form or a URL is ignored. Only what the client pays is
// shown: never the provider's cost, a margin or markup, or the agent's balance.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api.js';
import { apiErrorText, clientSession, flash, languageOf, page, type PortalContext } from '../context.js';
import { formId, idempotencyHeader, offsetParam, str, withQuery } from '../forms.js';
import { translator, type MessageKey, type Translate } from '../i18n.js';
import { formatMoney } from '../render.js';
import type { Session } from '../session.js';

const PACKAGE_ROWS = 20;
const ORDER_ROWS = 10;
/** Lists reach this far by offset; a search finds the rest. */
const MAX_OFFSET = 100_000;
/** The longest search the API takes. */
const MAX_SEARCH = 100;
/** A package covering more countries shows their number rather than a long list of codes. */
const MAX_COUNTRIES_SHOWN = 8;
type Query = Record<string, string | undefined>;

/** A package as the eSIM API's `packages` lists it (the fields this page shows). */
interface EsimPackage {
  package_code: string;
  name: string;
  price: string;
  data_gb: number;
  duration_days: number;
  countries: string[];
}

/** An order as the eSIM API's `orders` and `sync-order` answer it. */
interface EsimOrder {
  order_id: number;
  name: string;
  price: string;
  status: string;
  error_code: string | null;
  iccid: string | null;
  activation_code: string | null;
  qr_code: string | null;
  total_volume_bytes: number | null;
  used_bytes: number | null;
  remaining_bytes: number | null;
  expires_at: string | null;
  created_at: string | null;
}

const STATUS_LABELS: Record<string, MessageKey> = {
  PENDING: 'esim.status_pending', ALLOCATING: 'esim.status_allocating', READY: 'esim.status_ready', REFUNDED: 'esim.status_refunded',
};

/** The API's QR code, a PNG data URL; anything else is not put into an image (the CSP allows data: images). */
const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;
const ORDER_ID = /^\d{1,15}$/;

/** Bytes as the client reads a data volume: GB, or MB below one. */
function volume(bytes: number | null): string | null {
  if (bytes === null) return null;
  const gb = bytes / 1024 ** 3;
  return gb >= 1 ? `${Number(gb.toFixed(2))} GB` : `${Math.round(bytes / 1024 ** 2)} MB`;
}

const statusLabel = (t: Translate, status: string) => (STATUS_LABELS[status] ? t(STATUS_LABELS[status]) : status);

export function esimRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { api, config } = ctx;
  const moneyLabel = (v: unknown) => `${formatMoney(v)} ${config.currency}`;

  /** A failed read is shown as the page's error; the rest of the page still renders. */
  const settle = <T>(call: Promise<T>): Promise<T | { failed: unknown }> => call.catch((failed: unknown) => ({ failed }));
  const failed = (v: unknown): v is { failed: unknown } => typeof v === 'object' && v !== null && 'failed' in v;

  async function esimPage(request: FastifyRequest, reply: FastifyReply, s: Session, search: string, error?: string): Promise<FastifyReply> {
    const t = translator(languageOf(ctx, request, s));
    const query = request.query as Query;
    const q = search.trim().slice(0, MAX_SEARCH);
    const offset = offsetParam(query.offset, MAX_OFFSET);
    const ordersOffset = offsetParam(query.orders, MAX_OFFSET);
    const [packages, orders, balance] = await Promise.all([
      settle(api.get('esim', 'packages', { client_login: s.login, q, limit: PACKAGE_ROWS, offset })),
      settle(api.get('esim', 'orders', { client_login: s.login, limit: ORDER_ROWS, offset: ordersOffset })),
      settle(api.get('esim', 'balance', { client_login: s.login })),
    ]);
    const readError = [packages, orders, balance].find(failed);
    const href = (at: { offset?: number; orders?: number }) => withQuery('/esim', {
      q, offset: at.offset ? String(at.offset) : undefined, orders: at.orders ? String(at.orders) : undefined,
    });
    const packageRows = failed(packages) ? [] : (packages.packages as EsimPackage[]).map((p) => ({
      code: p.package_code, name: p.name, price: formatMoney(p.price), data: `${p.data_gb} GB`,
      days: t('esim.days', { days: p.duration_days }),
      countries: p.countries.length > MAX_COUNTRIES_SHOWN ? t('esim.countries_many', { count: p.countries.length }) : p.countries.join(', '),
      externalId: formId('esim'),
    }));
    const packageTotal = failed(packages) ? 0 : Number(packages.total);
    const orderRows = failed(orders) ? [] : (orders.orders as EsimOrder[]).map((o) => ({
      id: o.order_id, name: o.name, price: formatMoney(o.price), date: o.created_at ?? '',
      status: statusLabel(t, o.status), statusCode: o.status, href: `/esim/orders/${o.order_id}`,
    }));
    const orderTotal = failed(orders) ? 0 : Number(orders.total);
    return page(ctx, request, reply, 'esim', {
      title: 'nav.esim', q, currency: config.currency, packages: packageRows, total: packageTotal,
      balance: failed(balance) ? null : moneyLabel(balance.balance),
      nextHref: offset + packageRows.length < packageTotal ? href({ offset: offset + PACKAGE_ROWS, orders: ordersOffset }) : null,
      firstHref: offset > 0 ? href({ orders: ordersOffset }) : null,
      orders: orderRows, ordersTotal: orderTotal,
      ordersNextHref: ordersOffset + orderRows.length < orderTotal ? `${href({ offset, orders: ordersOffset + ORDER_ROWS })}#orders` : null,
      ordersFirstHref: ordersOffset > 0 ? `${href({ offset })}#orders` : null,
      error: error ?? (readError ? apiErrorText(ctx, request, readError.failed) : undefined),
    }, error ? 400 : readError ? 502 : 200);
  }

  app.get('/esim', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    return esimPage(request, reply, s, str((request.query as Query).q));
  });

  app.post('/esim/buy', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const code = str(body.package_code).trim().slice(0, 64);
    const t = translator(languageOf(ctx, request, s));
    try {
      const res = await api.post('esim', 'buy', { client_login: s.login, package_code: code }, idempotencyHeader(str(body.external_id)));
      const figures = { name: res.name, price: moneyLabel(res.price) };
      if (res.status === 'REFUNDED') flash(s, 'error', t('esim.refused', { ...figures, reason: res.error_code ?? res.status }));
      else flash(s, 'ok', t('esim.bought', figures));
      return reply.redirect(`/esim/orders/${Number(res.order_id)}`, 303);
    } catch (err) {
      return esimPage(request, reply, s, str(body.q), apiErrorText(ctx, request, err));
    }
  });

  app.get('/esim/orders/:id', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const id = str((request.params as Record<string, unknown>).id);
    if (!ORDER_ID.test(id)) return page(ctx, request, reply, 'message', { title: 'error.not_found', message: '' }, 404);
    const t = translator(languageOf(ctx, request, s));
    try {
      // sync-order: the provider is asked for the profile, so a new eSIM's QR code appears on reload.
      const o: EsimOrder = await api.get('esim', 'sync-order', { client_login: s.login, order_id: id });
      return page(ctx, request, reply, 'esim-order', {
        title: 'esim.order',
        order: {
          id: o.order_id, name: o.name, price: moneyLabel(o.price), date: o.created_at ?? '', status: statusLabel(t, o.status),
          statusCode: o.status, errorCode: o.error_code, iccid: o.iccid, activationCode: o.activation_code,
          qr: o.qr_code && PNG_DATA_URL.test(o.qr_code) ? o.qr_code : null,
          total: volume(o.total_volume_bytes), used: volume(o.used_bytes), remaining: volume(o.remaining_bytes), expires: o.expires_at,
        },
      });
    } catch (err) {
      const status = err instanceof ApiError && err.status === 404 ? 404 : 502;
      return page(ctx, request, reply, 'message', { title: 'esim.order', message: apiErrorText(ctx, request, err) }, status);
    }
  });
}
