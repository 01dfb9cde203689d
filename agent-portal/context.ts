// What every portal route uses: settings, the API, sessions, pages, payment providers, and the
// small steps each page repeats (who is asking, in which language, may they be here).
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type LedgerlineApi } from './api.js';
import { LANGUAGES, type Language, type PortalConfig } from './config.js';
import { fromAcceptLanguage, translator, type MessageKey } from './i18n.js';
import type { PaymentProvider, ProviderName } from './payments/provider.js';
import type { Pages } from './render.js';
import { readSession, writeSessionCookie, type Session, type SessionStore } from './session.js';

export interface PortalContext {
  config: PortalConfig;
  api: LedgerlineApi;
  sessions: SessionStore;
  pages: Pages;
  log: FastifyBaseLogger;
  providers: Map<ProviderName, PaymentProvider>;
}

declare module 'fastify' {
  interface FastifyRequest { portalSession: Session | null }
}

export function languageOf(ctx: PortalContext, request: FastifyRequest, session: Session | null): Language {
  const asked = (request.query as Record<string, unknown> | undefined)?.lang;
  if (typeof asked === 'string' && (LANGUAGES as readonly string[]).includes(asked)) {
    if (session) session.lang = asked as Language;
    return asked as Language;
  }
  return session?.lang ?? fromAcceptLanguage(request.headers['accept-language']) ?? ctx.config.defaultLanguage;
}

/** The visitor's session, created (with its CSRF token) when it has none: for login forms. */
export function visitorSession(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply): Session {
  const existing = request.portalSession;
  if (existing) return existing;
  const s = ctx.sessions.create('visitor');
  writeSessionCookie(reply, s, { secure: ctx.config.secureCookies, ttlSeconds: ctx.config.sessionTtlSeconds });
  request.portalSession = s;
  return s;
}

/** The client's session, or null after redirecting to the login page. */
export function clientSession(request: FastifyRequest, reply: FastifyReply): Session | null {
  const s = request.portalSession;
  if (s?.kind === 'client' && s.login) return s;
  void reply.redirect('/login', 303);
  return null;
}

export function agentSession(request: FastifyRequest, reply: FastifyReply): Session | null {
  const s = request.portalSession;
  if (s?.kind === 'agent' && s.login) return s;
  void reply.redirect('/agent/login', 303);
  return null;
}

export function resolveSession(ctx: PortalContext, request: FastifyRequest): void {
  request.portalSession = readSession(ctx.sessions, request);
}

/** Renders `view` for the request's session and language. */
export function page(ctx: PortalContext, request: FastifyRequest, reply: FastifyReply, view: string,
  data: Record<string, unknown> & { title: MessageKey }, status = 200): FastifyReply {
  const session = request.portalSession;
  const lang = languageOf(ctx, request, session);
  const t = translator(lang);
  return ctx.pages.render(reply, view, session, lang, { ...data, title: t(data.title), path: request.routeOptions.url }, status);
}

/** The page's words for an API refusal the visitor can act on; anything else is logged. */
export function apiErrorText(ctx: PortalContext, request: FastifyRequest, err: unknown): string {
  const t = translator(languageOf(ctx, request, request.portalSession));
  if (err instanceof ApiError) {
    if (err.code === 'BILLING_UNREACHABLE' || err.status >= 500) {
      ctx.log.error({ code: err.code, status: err.status, message: err.message }, 'Ledgerline refused or failed a portal request');
      return t('error.billing');
    }
    if (err.status === 404) return t('error.not_found');
    // Ledgerline's messages name their field already ("phone: must be …").
    return err.field && !err.message.startsWith(err.field) ? `${err.field}: ${err.message}` : err.message;
  }
  ctx.log.error({ err }, 'portal request failed');
  return t('error.generic');
}

export function flash(session: Session, kind: 'ok' | 'error', text: string, secret?: string): void {
  session.flash = { kind, text, ...(secret ? { secret } : {}) };
}
