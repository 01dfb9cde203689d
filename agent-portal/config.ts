// The agent portal's settings, from the environment of the process an agent runs
// (`npx ledgerline portal`). The reseller key and the session secret stay in this process:
// no page and no response ever carries them.
export type Language = 'en' | 'de';
export const LANGUAGES: readonly Language[] = ['en', 'de'];

export interface PortalConfig {
  host: string;
  port: number;
  /** Ledgerline's base URL, e.g. https://billing.example.com */
  apiUrl: string;
  resellerApiKey: string;
  sessionSecret: string;
  /** The portal's own public address (for payment callbacks and return pages). */
  publicUrl: string;
  /** Secure cookies: on unless the public address is plain http (a local trial). */
  secureCookies: boolean;
  brand: { name: string; color: string; accent: string; logoUrl: string | null; supportEmail: string | null };
  defaultLanguage: Language;
  /** Shown on the SIP accounts page: where phones register. */
  sipHost: string;
  currency: string;
  /** Smallest and largest top-up, in `currency`. */
  topUp: { min: string; max: string };
  plisio: null | { apiUrl: string; secretKey: string };
  heleket: null | { apiUrl: string; merchantId: string; paymentKey: string };
  sessionTtlSeconds: number;
  apiTimeoutMs: number;
  logLevel: string;
}

export class PortalConfigError extends Error {}

const COLOR_RE = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
const MONEY_RE = /^\d{1,9}(\.\d{1,2})?$/;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name]?.trim();
  if (!v) throw new PortalConfigError(`${name} is required (see the README: "The agent portal")`);
  return v;
}

function url(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new PortalConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PortalConfigError(`${name} must be an http(s) URL`);
  return value.replace(/\/+$/, '');
}

export function loadPortalConfig(env: NodeJS.ProcessEnv = process.env): PortalConfig {
  const port = Number(env.PORTAL_PORT ?? 8090);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new PortalConfigError('PORTAL_PORT must be a port number');
  const host = env.PORTAL_HOST?.trim() || '127.0.0.1';
  const sessionSecret = required(env, 'PORTAL_SESSION_SECRET');
  if (sessionSecret.length < 32) throw new PortalConfigError('PORTAL_SESSION_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)');
  const publicUrl = url('PORTAL_PUBLIC_URL', env.PORTAL_PUBLIC_URL?.trim() || `http://${host}:${port}`);
  const color = env.PORTAL_BRAND_COLOR?.trim() || '#1f4e79';
  const accent = env.PORTAL_BRAND_ACCENT?.trim() || '#f0a500';
  for (const [name, c] of [['PORTAL_BRAND_COLOR', color], ['PORTAL_BRAND_ACCENT', accent]]) {
    if (!COLOR_RE.test(c)) throw new PortalConfigError(`${name} must be a #rgb or #rrggbb colour`);
  }
  const language = (env.PORTAL_DEFAULT_LANGUAGE?.trim() || 'en') as Language;
  if (!LANGUAGES.includes(language)) throw new PortalConfigError(`PORTAL_DEFAULT_LANGUAGE must be one of ${LANGUAGES.join(', ')}`);
  const min = env.PORTAL_TOPUP_MIN?.trim() || '5';
  const max = env.PORTAL_TOPUP_MAX?.trim() || '500';
  if (!MONEY_RE.test(min) || !MONEY_RE.test(max)) throw new PortalConfigError('PORTAL_TOPUP_MIN and PORTAL_TOPUP_MAX must be amounts like 5 or 12.50');
  const plisioKey = env.PLISIO_SECRET_KEY?.trim();
  const heleketMerchant = env.HELEKET_MERCHANT_ID?.trim();
  const heleketKey = env.HELEKET_PAYMENT_KEY?.trim();
  if (Boolean(heleketMerchant) !== Boolean(heleketKey)) throw new PortalConfigError('HELEKET_MERCHANT_ID and HELEKET_PAYMENT_KEY go together');
  return {
    host,
    port,
    apiUrl: url('PORTAL_API_URL', required(env, 'PORTAL_API_URL')),
    resellerApiKey: required(env, 'PORTAL_RESELLER_API_KEY'),
    sessionSecret,
    publicUrl,
    secureCookies: publicUrl.startsWith('https:'),
    brand: {
      name: env.PORTAL_BRAND_NAME?.trim() || 'VoIP Portal',
      color,
      accent,
      logoUrl: env.PORTAL_LOGO_URL?.trim() || null,
      supportEmail: env.PORTAL_SUPPORT_EMAIL?.trim() || null,
    },
    defaultLanguage: language,
    sipHost: env.PORTAL_SIP_HOST?.trim() || new URL(publicUrl).hostname,
    currency: (env.PORTAL_CURRENCY?.trim() || 'USD').toUpperCase(),
    topUp: { min, max },
    plisio: plisioKey ? { apiUrl: url('PLISIO_API_URL', env.PLISIO_API_URL?.trim() || 'https://api.plisio.net'), secretKey: plisioKey } : null,
    heleket: heleketMerchant && heleketKey
      ? { apiUrl: url('HELEKET_API_URL', env.HELEKET_API_URL?.trim() || 'https://api.heleket.com'), merchantId: heleketMerchant, paymentKey: heleketKey }
      : null,
    sessionTtlSeconds: Number(env.PORTAL_SESSION_TTL_SECONDS ?? 8 * 3600),
    apiTimeoutMs: Number(env.PORTAL_API_TIMEOUT_MS ?? 10_000),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
