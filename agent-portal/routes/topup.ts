// Top-up: the portal creates the invoice with the provider's API and sends the client to the
// provider's page; the provider's callback, verified by its signature, becomes a
// register-agent-payment. The order id carries the client's login, so a callback finds its
// client from signed data alone (no state here to lose in a restart), and Ledgerline's
// external_id (provider:invoice) makes every repeat of a callback credit nothing more.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../api.js';
import { apiErrorText, clientSession, languageOf, page, type PortalContext } from '../context.js';
import { translator } from '../i18n.js';
import { PaymentProviderError, PaymentSignatureError, type ProviderName } from '../payments/provider.js';

const AMOUNT_RE = /^\d{1,9}(\.\d{1,2})?$/;
const LABELS: Record<ProviderName, string> = { plisio: 'Plisio', heleket: 'Heleket' };
const NONCE_CHARS = 16;

/** `<16 hex nonce><base64url login>`: [A-Za-z0-9_-], unique per top-up. */
export function orderIdFor(login: string): string {
  return crypto.randomBytes(NONCE_CHARS / 2).toString('hex') + Buffer.from(login, 'utf8').toString('base64url');
}

export function loginOfOrderId(orderId: string): string | null {
  if (orderId.length <= NONCE_CHARS || !/^[0-9a-f]+$/.test(orderId.slice(0, NONCE_CHARS))) return null;
  const login = Buffer.from(orderId.slice(NONCE_CHARS), 'base64url').toString('utf8');
  return login.length > 0 && login.length <= 64 ? login : null;
}

const cents = (amount: string) => {
  const [w, f = ''] = amount.split('.');
  return BigInt(w) * 100n + BigInt((f + '00').slice(0, 2));
};

export function topUpRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { config } = ctx;
  const providers = () => [...ctx.providers.keys()].map((id) => ({ id, label: LABELS[id] }));

  app.get('/topup', async (request, reply) => {
    if (!clientSession(request, reply)) return reply;
    return page(ctx, request, reply, 'topup', { title: 'nav.topup', providers: providers(), currency: config.currency });
  });

  app.post('/topup', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const t = translator(languageOf(ctx, request, s));
    const amount = String(body.amount ?? '').trim().replace(',', '.');
    const provider = ctx.providers.get(String(body.provider ?? '') as ProviderName);
    const again = (error: string, status: number) => page(ctx, request, reply, 'topup', {
      title: 'nav.topup', providers: providers(), currency: config.currency, amount, error,
    }, status);
    if (!provider) return again(t('topup.none'), 400);
    if (!AMOUNT_RE.test(amount) || cents(amount) < cents(config.topUp.min) || cents(amount) > cents(config.topUp.max)) {
      return again(t('topup.range', { min: config.topUp.min, max: config.topUp.max }), 400);
    }
    const fixed = (Number(cents(amount)) / 100).toFixed(2);
    try {
      const invoice = await provider.createInvoice({
        orderId: orderIdFor(s.login!),
        description: `${config.brand.name}: ${s.login}`,
        amount: fixed,
        currency: config.currency,
        callbackUrl: `${config.publicUrl}/payments/${provider.name}/callback`,
        successUrl: `${config.publicUrl}/topup/done`,
        failUrl: `${config.publicUrl}/topup/failed`,
      });
      ctx.log.info({ provider: provider.name, invoice: invoice.invoiceId, login: s.login, amount: fixed }, 'top-up invoice created');
      // A link, not a redirect: the client sees where it goes, and form-action stays 'self'.
      return page(ctx, request, reply, 'topup-go', {
        title: 'nav.topup', payUrl: invoice.payUrl, providerLabel: LABELS[provider.name], amount: fixed, currency: config.currency,
      });
    } catch (err) {
      ctx.log.error({ provider: provider.name, err: (err as Error).message }, 'top-up invoice not created');
      return again(err instanceof PaymentProviderError ? t('topup.unavailable') : apiErrorText(ctx, request, err), 502);
    }
  });

  app.get('/topup/done', async (request, reply) => {
    if (!clientSession(request, reply)) return reply;
    return page(ctx, request, reply, 'message', { title: 'nav.topup', message: translator(languageOf(ctx, request, request.portalSession))('topup.done') });
  });

  app.get('/topup/failed', async (request, reply) => {
    if (!clientSession(request, reply)) return reply;
    return page(ctx, request, reply, 'message', { title: 'nav.topup', message: translator(languageOf(ctx, request, request.portalSession))('topup.failed') });
  });

  // Callbacks: exempt from sessions and CSRF (the provider is not a browser), proven by
  // their signature over the raw body instead.
  app.register(async (callbacks) => {
    callbacks.removeAllContentTypeParsers();
    callbacks.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    callbacks.post('/payments/:provider/callback', { config: { paymentCallback: true } }, async (request: FastifyRequest, reply) => {
      const name = (request.params as { provider: string }).provider as ProviderName;
      const provider = ctx.providers.get(name);
      if (!provider) return reply.code(404).send('unknown provider');
      let notice;
      try {
        notice = provider.verifyCallback(request.body as Buffer ?? Buffer.alloc(0), request.headers['content-type'] ?? null);
      } catch (err) {
        if (err instanceof PaymentSignatureError) {
          ctx.log.warn({ provider: name, ip: request.ip, reason: err.message }, 'payment callback refused: bad signature');
          return reply.code(400).send('invalid signature');
        }
        throw err;
      }
      const login = loginOfOrderId(notice.orderId);
      if (!login) {
        ctx.log.warn({ provider: name, order: notice.orderId }, 'payment callback for an order this portal did not make');
        return reply.code(200).send('ignored');
      }
      try {
        const res = await ctx.api.post('reseller', 'register-agent-payment', {
          login, amount: notice.amount, currency: notice.currency, provider: name,
          external_id: `${name}:${notice.invoiceId}`, provider_txid: notice.invoiceId, status: notice.status,
        });
        ctx.log.info({ provider: name, invoice: notice.invoiceId, login, status: notice.status, credited: res.credited, duplicate: res.duplicate },
          'payment callback recorded');
        return reply.code(200).send('OK');
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) {
          // Ledgerline will refuse it every time (an unknown status, another client's id): log, do not make the provider retry.
          ctx.log.error({ provider: name, invoice: notice.invoiceId, login, code: err.code, message: err.message }, 'payment callback refused by Ledgerline');
          return reply.code(200).send('refused');
        }
        ctx.log.error({ provider: name, invoice: notice.invoiceId, err: (err as Error).message }, 'payment callback not recorded: the provider will retry');
        return reply.code(503).send('retry later');
      }
    });
  });
}
