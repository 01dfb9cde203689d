// Janus gateway tokens (token_auth with token_auth_secret): `<expiry>,janus,<plugin>[,<plugin>…]:<signature>`,
// where the signature is base64(HMAC-SHA1(secret, everything before the colon)) and expiry is
// a Unix time in seconds. Janus accepts a request only while the expiry is in the future, the
// realm is `janus`, the signature matches, and (for an attach) the plugin is listed.
import crypto from 'node:crypto';

export const JANUS_TOKEN_REALM = 'janus';
export const JANUS_SIP_PLUGIN = 'janus.plugin.sip';
/** Lifetime of a web phone token: a working day; the portal asks for a fresh one after that. */
export const DEFAULT_JANUS_TOKEN_TTL_SECONDS = 12 * 3600;
/** Longest lifetime accepted by buildJanusToken. */
export const MAX_JANUS_TOKEN_TTL_SECONDS = 24 * 3600;

export interface JanusToken {
  token: string;
  /** Unix time in seconds after which Janus refuses the token. */
  expiresAt: number;
  plugins: string[];
}

const PLUGIN_RE = /^[a-z0-9._-]+$/i;

function signature(secret: string, data: string): string {
  return crypto.createHmac('sha1', secret).update(data, 'utf8').digest('base64');
}

/** Signs a token valid until `expiresAt` (Unix seconds) for the given plugins. */
export function signJanusToken(secret: string, expiresAt: number, plugins: readonly string[] = [JANUS_SIP_PLUGIN]): string {
  if (secret === '') throw new Error('Janus token secret is empty');
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= 0) throw new Error('Janus token expiry must be a positive Unix time in seconds');
  if (plugins.length === 0 || plugins.some((p) => !PLUGIN_RE.test(p))) throw new Error('Janus token plugins must be plugin package names');
  const data = [String(expiresAt), JANUS_TOKEN_REALM, ...plugins].join(',');
  return `${data}:${signature(secret, data)}`;
}

/** A token for the SIP plugin valid for `ttlSeconds` from `nowMs`. */
export function buildJanusToken(
  secret: string,
  opts: { nowMs?: number; ttlSeconds?: number; plugins?: readonly string[] } = {},
): JanusToken {
  const ttl = opts.ttlSeconds ?? DEFAULT_JANUS_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_JANUS_TOKEN_TTL_SECONDS) {
    throw new Error(`Janus token lifetime must be 1..${MAX_JANUS_TOKEN_TTL_SECONDS} seconds`);
  }
  const plugins = [...(opts.plugins ?? [JANUS_SIP_PLUGIN])];
  const expiresAt = Math.floor((opts.nowMs ?? Date.now()) / 1000) + ttl;
  return { token: signJanusToken(secret, expiresAt, plugins), expiresAt, plugins };
}

export type JanusTokenCheck =
  | { valid: true; expiresAt: number; plugins: string[] }
  | { valid: false; reason: 'MALFORMED' | 'EXPIRED' | 'WRONG_REALM' | 'BAD_SIGNATURE' | 'PLUGIN_NOT_ALLOWED' };

/**
 * Checks a token the way Janus does: signature, realm, expiry, and, when `plugin` is given,
 * that the token lists it.
 */
export function verifyJanusToken(
  secret: string, token: string, opts: { nowMs?: number; plugin?: string } = {},
): JanusTokenCheck {
  const colon = token.indexOf(':');
  if (colon <= 0 || colon !== token.lastIndexOf(':')) return { valid: false, reason: 'MALFORMED' };
  const data = token.slice(0, colon);
  const given = Buffer.from(token.slice(colon + 1), 'utf8');
  const expected = Buffer.from(signature(secret, data), 'utf8');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { valid: false, reason: 'BAD_SIGNATURE' };
  const [expiry, realm, ...plugins] = data.split(',');
  if (!/^\d+$/.test(expiry ?? '')) return { valid: false, reason: 'MALFORMED' };
  if (realm !== JANUS_TOKEN_REALM) return { valid: false, reason: 'WRONG_REALM' };
  const expiresAt = Number(expiry);
  if (expiresAt <= Math.floor((opts.nowMs ?? Date.now()) / 1000)) return { valid: false, reason: 'EXPIRED' };
  if (opts.plugin !== undefined && !plugins.includes(opts.plugin)) return { valid: false, reason: 'PLUGIN_NOT_ALLOWED' };
  return { valid: true, expiresAt, plugins };
}
