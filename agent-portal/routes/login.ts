// Logging in and out, for clients and for the agent alike: the form (with a visitor session for
// its CSRF token), the check (a function of the caller's), a new session on success (never the
// visitor's id: no fixation), the refusal in the visitor's words, and logging out.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api.js';
import { apiErrorText, languageOf, page, visitorSession, type PortalContext } from '../context.js';
import { str } from '../forms.js';
import { translator, type MessageKey } from '../i18n.js';
import { clearSessionCookie, writeSessionCookie, type Session } from '../session.js';

export interface LoginForm {
  kind: 'client' | 'agent';
  path: '/login' | '/agent/login';
  home: string;
  title: MessageKey;
  other: { href: string; label: MessageKey };
  /** Checks the credentials with Ledgerline; the account to log in, or an ApiError. */
  check: (login: string, password: string, clientIp: string) => Promise<{ login: string; name: string | null; lang: Session['lang'] }>;
}

export function loginRoutes(app: FastifyInstance, ctx: PortalContext, form: LoginForm): void {
  const { config } = ctx;
  const view = (login = '') => ({ title: form.title, action: form.path, otherHref: form.other.href, otherLabel: form.other.label, login });

  app.get(form.path, async (request, reply) => {
    if (request.portalSession?.kind === form.kind) return reply.redirect(form.home, 303);
    visitorSession(ctx, request, reply);
    return page(ctx, request, reply, 'login', view());
  });

  app.post(form.path, { config: { rateLimit: { max: 20, timeWindow: 60_000 } } }, async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    const login = str(body.login).trim();
    const t = translator(languageOf(ctx, request, request.portalSession));
    try {
      const account = await form.check(login, str(body.password), request.ip);
      const before = request.portalSession;
      if (before) ctx.sessions.destroy(before.id);
      const session = ctx.sessions.create(form.kind, account.login, account.name, account.lang ?? before?.lang ?? null);
      writeSessionCookie(reply, session, { secure: config.secureCookies, ttlSeconds: config.sessionTtlSeconds });
      return reply.redirect(form.home, 303);
    } catch (err) {
      const limited = err instanceof ApiError && err.status === 429;
      const text = limited ? t('login.limited')
        : err instanceof ApiError && err.code === 'ACCOUNT_INACTIVE' ? t('login.inactive')
        : err instanceof ApiError && (err.status === 403 || err.status === 404 || err.status === 400) ? t('login.failed')
        : apiErrorText(ctx, request, err);
      return page(ctx, request, reply, 'login', { ...view(login), error: text }, limited ? 429 : 403);
    }
  });

  app.post(form.kind === 'agent' ? '/agent/logout' : '/logout', async (request, reply) => {
    if (request.portalSession) ctx.sessions.destroy(request.portalSession.id);
    clearSessionCookie(reply, { secure: config.secureCookies, ttlSeconds: 0 });
    return reply.redirect(form.path, 303);
  });
}
