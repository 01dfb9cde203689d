// The agent portal in-process on a free port, speaking to a test server's HTTP API with a
// reseller's key; and a small cookie-keeping HTTP client that plays a browser without one.
import crypto from 'node:crypto';
import pino from 'pino';
import { buildPortal } from '../../agent-portal/app.js';
import { loadPortalConfig, type PortalConfig } from '../../agent-portal/config.js';
import type { TestServer } from './server.js';

export interface RunningPortal { url: string; config: PortalConfig; close: () => Promise<void> }

export async function startPortal(t: TestServer, resellerKey: string, env: Record<string, string> = {}): Promise<RunningPortal> {
  const base = {
    PORTAL_PORT: '0', PORTAL_HOST: '127.0.0.1', PORTAL_API_URL: t.url, PORTAL_RESELLER_API_KEY: resellerKey,
    PORTAL_SESSION_SECRET: crypto.randomBytes(32).toString('hex'), PORTAL_BRAND_NAME: 'Acme Talk', LOG_LEVEL: 'error', ...env,
  };
  // The public URL names the port, known only once listening: listen first, then build for it.
  const probe = await buildPortal(loadPortalConfig({ ...base, PORTAL_PUBLIC_URL: 'http://127.0.0.1:1' }), pino({ level: 'silent' }));
  await probe.listen({ host: '127.0.0.1', port: 0 });
  const port = (probe.server.address() as { port: number }).port;
  await probe.close();
  const config = loadPortalConfig({ ...base, PORTAL_PORT: String(port), PORTAL_PUBLIC_URL: `http://127.0.0.1:${port}`, ...env });
  const app = await buildPortal(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'error' }));
  await app.listen({ host: '127.0.0.1', port });
  return { url: `http://127.0.0.1:${port}`, config, close: () => app.close() };
}

/** A browser without JavaScript: keeps cookies, follows nothing by itself. */
export class Visitor {
  private cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(path: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(this.base + path, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), headers: res.headers };
  }

  cookie(name: string): string | undefined { return this.cookies.get(name); }
  setCookie(name: string, value: string): void { this.cookies.set(name, value); }

  /** The CSRF token of the last form on a page. */
  static csrf(html: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error('no _csrf field on the page');
    return m[1];
  }

  async login(path: '/login' | '/agent/login', login: string, password: string) {
    const form = await this.request(path);
    return this.request(path, { form: { _csrf: Visitor.csrf(form.text), login, password } });
  }
}

/** A visitor logged in as the client, through the login form. */
export async function loggedIn(portal: RunningPortal, client: { login: string; password: string }): Promise<Visitor> {
  const v = new Visitor(portal.url);
  const res = await v.login('/login', client.login, client.password);
  if (res.status !== 303) throw new Error(`${client.login} could not log in (${res.status}): ${res.text.slice(0, 300)}`);
  return v;
}
