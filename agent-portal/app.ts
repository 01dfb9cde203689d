// The agent portal's web server: sessions, CSRF, CSP and the pages, on Fastify.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pino from 'pino';
import { LedgerlineApi } from './api.js';
import type { PortalConfig } from './config.js';
import { page, resolveSession, type PortalContext } from './context.js';
import { heleketProvider } from './payments/heleket.js';
import { plisioProvider } from './payments/plisio.js';
import type { PaymentProvider, ProviderName } from './payments/provider.js';
import { Pages } from './render.js';
import { agentRoutes } from './routes/agent.js';
import { clientRoutes } from './routes/client.js';
import { esimRoutes } from './routes/esim.js';
import { phoneRoutes } from './routes/phone.js';
import { smsRoutes } from './routes/sms.js';
import { topUpRoutes } from './routes/topup.js';
import { contentSecurityPolicy } from './security.js';
import { csrfMatches, SessionStore } from './session.js';

declare module 'fastify' {
  interface FastifyContextConfig { paymentCallback?: boolean }
}

export function paymentProviders(config: PortalConfig): Map<ProviderName, PaymentProvider> {
  const providers = new Map<ProviderName, PaymentProvider>();
  if (config.plisio) providers.set('plisio', plisioProvider(config.plisio));
  if (config.heleket) providers.set('heleket', heleketProvider(config.heleket));
  return providers;
}

function stylesheet(config: PortalConfig): string {
  const { color, accent } = config.brand;
  return `:root{--brand:${color};--accent:${accent}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d2430;background:#f5f6f8}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;padding:.6rem 1rem;background:var(--brand);color:#fff}
header.top a{color:#fff;text-decoration:none}.brand{display:flex;align-items:center;gap:.5rem;font-weight:700}.brand img{height:28px}
header nav{display:flex;flex-wrap:wrap;gap:.2rem .8rem;flex:1}header nav a.current{border-bottom:2px solid var(--accent)}
.logout{display:flex;gap:.5rem;align-items:center}.langs a{opacity:.7}.langs a.current{opacity:1;font-weight:700}
main{max-width:1100px;margin:0 auto;padding:1rem}h1{margin:.5rem 0 1rem}
.card{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px #0002}.narrow{max-width:440px}
label{display:block;margin:.5rem 0}label.inline{display:inline-block;margin-right:1rem}input,select,textarea{display:block;width:100%;padding:.45rem;margin-top:.2rem;border:1px solid #c5cad3;border-radius:5px;font:inherit}
label.inline input{display:inline;width:auto}.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;margin-bottom:1rem}.filters label{margin:0}
button,.button{display:inline-block;padding:.45rem .9rem;border:0;border-radius:5px;background:var(--brand);color:#fff;font:inherit;cursor:pointer;text-decoration:none}
button:disabled{opacity:.45;cursor:default}
form.inline{display:inline-flex;gap:.3rem;align-items:center}form.inline select{width:auto;margin:0}
table{width:100%;border-collapse:collapse;background:#fff}th,td{padding:.4rem .5rem;border-bottom:1px solid #e3e6eb;text-align:left}td.num,th.num{text-align:right}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:1rem}.tile{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px #0002}
.tile span{display:block;color:#5b6576}.tile strong{font-size:1.4rem}
.chart svg{width:100%;max-width:600px;background:#fff}.chart rect{fill:var(--brand)}.chart text{font-size:10px;fill:#5b6576}
.flash{padding:.7rem 1rem;border-radius:6px;margin-bottom:1rem}.flash.ok{background:#e3f5e6}.flash.error{background:#fbe3e3}
.dialpad{display:grid;grid-template-columns:repeat(3,4rem);gap:.4rem;margin:.5rem 0}.empty{color:#5b6576}
footer{text-align:center;padding:2rem;color:#5b6576}
`;
}

export async function buildPortal(config: PortalConfig, log: pino.Logger, providers = paymentProviders(config)): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({ loggerInstance: log as FastifyBaseLogger, trustProxy: process.env.PORTAL_TRUST_PROXY === '1', bodyLimit: 64 * 1024 });
  const ctx: PortalContext = {
    config, api: new LedgerlineApi(config), sessions: new SessionStore(config.sessionTtlSeconds),
    pages: new Pages(config), log: app.log, providers,
  };

  await app.register(cookie, { secret: config.sessionSecret });
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(helmet, {
    contentSecurityPolicy: false, // set below, per page (the phone page adds its gateway)
    crossOriginEmbedderPolicy: false,
    hsts: config.secureCookies,
    // Not helmet's no-referrer: under it Chromium sends `Origin: null` on the portal's own
    // forms, which the origin check below must refuse. Providers' pages still get no referrer.
    referrerPolicy: { policy: 'same-origin' },
  });
  await app.register(rateLimit, { global: false });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('Content-Security-Policy', contentSecurityPolicy(config));
    resolveSession(ctx, request);
  });

  // Every POST but a provider's callback: from a page of this portal, in this session.
  const origin = new URL(config.publicUrl).origin;
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.config?.paymentCallback) return;
    const sentOrigin = request.headers.origin;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const session = request.portalSession;
    const sameOrigin = !sentOrigin || sentOrigin === origin || sentOrigin === `${request.protocol}://${request.host}`;
    if (!session || !sameOrigin || !csrfMatches(session, body._csrf ?? request.headers['x-csrf-token'])) {
      request.log.warn({ url: request.url, ip: request.ip, session: Boolean(session), origin: sentOrigin }, 'form refused: CSRF check failed');
      return page(ctx, request, reply, 'message', { title: 'error.csrf', message: '' }, 403);
    }
  });

  const css = stylesheet(config);
  app.get('/static/portal.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(css));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());

  clientRoutes(app, ctx);
  agentRoutes(app, ctx);
  topUpRoutes(app, ctx);
  phoneRoutes(app, ctx);
  smsRoutes(app, ctx);
  esimRoutes(app, ctx);

  app.setNotFoundHandler((request, reply) => page(ctx, request, reply, 'message', { title: 'error.not_found', message: '' }, 404));
  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'portal error');
    return page(ctx, request, reply, 'message', { title: status === 429 ? 'login.limited' : 'error.generic', message: '' }, status);
  });
  return app;
}
