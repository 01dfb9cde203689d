// Server-side sessions behind a signed, HttpOnly, SameSite cookie. The cookie carries only a
// random id (signed with PORTAL_SESSION_SECRET, so a guessed or altered id is not even looked
// up); what the session knows stays in this process. Logging in always starts a new session
// (no fixation: an id handed to a visitor before login is worthless after it), logging out
// deletes it. Bounded: at most MAX_SESSIONS, the oldest dropped first; each expires.
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Language } from './config.js';

export const SESSION_COOKIE = 'portal_sid';
const MAX_SESSIONS = 50_000;

export interface Session {
  id: string;
  /** Every form of the session carries it (_csrf); a POST without it changes nothing. */
  csrf: string;
  kind: 'visitor' | 'client' | 'agent';
  login: string | null;
  name: string | null;
  lang: Language | null;
  expiresAt: number;
  /** A one-time message for the next page (e.g. a new SIP password, shown once). */
  flash: { kind: 'ok' | 'error'; text: string; secret?: string } | null;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly ttlSeconds: number) {}

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt < Date.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  create(kind: Session['kind'], login: string | null = null, name: string | null = null, lang: Language | null = null): Session {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const s: Session = {
      id: crypto.randomBytes(32).toString('base64url'),
      csrf: crypto.randomBytes(32).toString('base64url'),
      kind, login, name, lang,
      expiresAt: Date.now() + this.ttlSeconds * 1000,
      flash: null,
    };
    this.sessions.set(s.id, s);
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends every session of a client (after its password changed elsewhere, say). */
  destroyLogin(kind: Session['kind'], login: string, except?: string): void {
    for (const [id, s] of this.sessions) if (s.kind === kind && s.login === login && id !== except) this.sessions.delete(id);
  }
}

export interface CookieOptions { secure: boolean; ttlSeconds: number }

export function readSession(store: SessionStore, request: FastifyRequest): Session | null {
  const raw = request.cookies[SESSION_COOKIE];
  if (!raw) return null;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid ? store.get(unsigned.value ?? undefined) : null;
}

export function writeSessionCookie(reply: FastifyReply, session: Session, o: CookieOptions): void {
  reply.setCookie(SESSION_COOKIE, session.id, {
    signed: true, httpOnly: true, sameSite: 'lax', secure: o.secure, path: '/', maxAge: o.ttlSeconds,
  });
}

export function clearSessionCookie(reply: FastifyReply, o: CookieOptions): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: o.secure });
}

/** Constant-time check of a submitted CSRF token. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length === 0) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(submitted);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
