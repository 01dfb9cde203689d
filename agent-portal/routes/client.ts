// The client's pages. Every call to Ledgerline names the client of the session, never a login
// from the URL or a form: one client cannot reach another's data by editing a request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../api.js';
import { apiErrorText, clientSession, flash, languageOf, page, type PortalContext } from '../context.js';
import { str, withQuery } from '../forms.js';
import { translator } from '../i18n.js';
import { formatMoney } from '../render.js';
import { loginRoutes } from './login.js';

const PAGE_ROWS = 25;
const CSV_MAX_ROWS = 20_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
type Query = Record<string, string | undefined>;

const dateParam = (v: string | undefined) => (v && DATE_RE.test(v) ? v : undefined);

/** Spend per day over the last 30 days, as bars of an inline SVG chart. */
function spendChart(calls: Array<{ starttime: string; cost: number | string }>, today: Date, currencyLabel: (n: number) => string) {
  const days: string[] = [];
  for (let i = 29; i >= 0; i--) days.push(new Date(today.getTime() - i * 86_400_000).toISOString().slice(0, 10));
  const sums = new Map(days.map((d) => [d, 0]));
  for (const c of calls) {
    const day = String(c.starttime).slice(0, 10);
    // Micros, so that the sum of many small costs does not drift.
    if (sums.has(day)) sums.set(day, sums.get(day)! + Math.round(Number(c.cost) * 1_000_000));
  }
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...sums.values());
  const w = width / days.length;
  const bars = days.map((day, i) => {
    const micros = sums.get(day)!;
    const h = Math.round((micros / max) * height);
    return { day, x: Math.round(i * w), y: height - h, w: Math.max(1, Math.round(w) - 2), h, label: currencyLabel(micros / 1_000_000) };
  });
  const total = [...sums.values()].reduce((a, b) => a + b, 0);
  return { width, height, bars, first: days[0], last: days[days.length - 1], total: currencyLabel(total / 1_000_000) };
}

export function clientRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { api, config } = ctx;
  const moneyLabel = (n: number) => `${formatMoney(n)} ${config.currency}`;

  loginRoutes(app, ctx, {
    kind: 'client', path: '/login', home: '/', title: 'login.client', other: { href: '/agent/login', label: 'login.agent' },
    check: async (login, password, clientIp) => {
      const res = await api.post('reseller', 'client-auth', { login, password, client_ip: clientIp });
      const lang = String(res.client.language ?? '').slice(0, 2);
      return { login: res.client.login, name: res.client.name ?? null, lang: lang === 'de' || lang === 'en' ? lang : null };
    },
  });

  app.get('/', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    try {
      const today = new Date();
      const from = new Date(today.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
      const [dash, recent, month] = await Promise.all([
        api.get('reseller', 'client-dashboard', { login: s.login }),
        api.get('reseller', 'client-calls', { login: s.login, limit: 10 }),
        api.get('reseller', 'client-calls', { login: s.login, limit: 500, from }),
      ]);
      return page(ctx, request, reply, 'dashboard', {
        title: 'nav.dashboard', client: dash.client, calls: recent.calls, chart: spendChart(month.calls, today, moneyLabel),
      });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.dashboard', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  for (const [path, endpoint, title] of [['/calls', 'client-calls', 'nav.calls'], ['/failed-calls', 'client-failed-calls', 'nav.failed']] as const) {
    app.get(path, async (request, reply) => {
      const s = clientSession(request, reply);
      if (!s) return reply;
      const q = request.query as Query;
      const from = dateParam(q.from);
      const to = dateParam(q.to);
      try {
        const res = await api.get('reseller', endpoint, { login: s.login, limit: PAGE_ROWS, after: q.after, from, to });
        return page(ctx, request, reply, 'calls', {
          title, calls: res.calls, total: res.total, from, to,
          csvHref: withQuery(`${path}.csv`, { from, to }),
          nextHref: res.next ? withQuery(path, { from, to, after: res.next }) : null,
          firstHref: q.after ? withQuery(path, { from, to }) : null,
        });
      } catch (err) {
        return page(ctx, request, reply, 'calls', { title, calls: [], total: 0, from, to, csvHref: path, error: apiErrorText(ctx, request, err) }, 400);
      }
    });

    // Every call of the filter, page by page, as CSV (bounded).
    app.get(`${path}.csv`, async (request, reply) => {
      const s = clientSession(request, reply);
      if (!s) return reply;
      const q = request.query as Query;
      const rows: string[] = ['date,number,destination,sip_account,seconds,billed_seconds,result,cost'];
      const cell = (v: unknown) => {
        const text = String(v ?? '');
        // Quoted, and never read as a formula by a spreadsheet.
        return `"${(/^[=+\-@]/.test(text) ? `'${text}` : text).replaceAll('"', '""')}"`;
      };
      let after: string | undefined;
      do {
        const res = await api.get('reseller', endpoint, { login: s.login, limit: 500, after, from: dateParam(q.from), to: dateParam(q.to) });
        for (const c of res.calls) {
          rows.push([c.starttime, c.destination, c.destination_name, c.sip_login, c.sessiontime, c.billed_seconds, c.disposition, formatMoney(c.cost)].map(cell).join(','));
        }
        after = res.next ?? undefined;
      } while (after && rows.length <= CSV_MAX_ROWS);
      return reply.type('text/csv; charset=utf-8').header('Content-Disposition', `attachment; filename="${endpoint.replace('client-', '')}.csv"`)
        .header('Cache-Control', 'no-store').send(rows.join('\r\n') + '\r\n');
    });
  }

  app.get('/refills', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const q = request.query as Query;
    try {
      const res = await api.get('reseller', 'client-refills', { login: s.login, limit: PAGE_ROWS, after: q.after });
      return page(ctx, request, reply, 'refills', { title: 'nav.refills', refills: res.refills, nextHref: res.next ? withQuery('/refills', { after: res.next }) : null });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.refills', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  app.get('/sip', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    try {
      const res = await api.get('reseller', 'client-sip', { login: s.login });
      return page(ctx, request, reply, 'sip', { title: 'nav.sip', accounts: res.sip_accounts, sipHost: config.sipHost });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.sip', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  app.post('/sip/reset', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const t = translator(languageOf(ctx, request, s));
    try {
      const name = str((request.body as Record<string, unknown>).name);
      const res = await api.post('reseller', 'reset-client-sip-password', { login: s.login, sip_login: name || undefined });
      flash(s, 'ok', t('sip.new_password', { name: res.sip.name }), res.sip.password);
    } catch (err) {
      flash(s, 'error', apiErrorText(ctx, request, err));
    }
    return reply.redirect('/sip', 303);
  });

  app.get('/callerids', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    try {
      const res = await api.get('reseller', 'client-callerids', { login: s.login });
      return page(ctx, request, reply, 'callerids', { title: 'nav.callerids', callerids: res.callerids });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.callerids', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  app.get('/rates', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const q = request.query as Query;
    const search = (q.q ?? '').trim().slice(0, 64);
    const offset = Math.max(0, Math.min(1_000_000, Number(q.offset) || 0));
    try {
      const res = await api.get('reseller', 'client-rates', { login: s.login, search, limit: 50, offset });
      const next = offset + res.rates.length < res.total ? withQuery('/rates', { q: search, offset: String(offset + 50) }) : null;
      return page(ctx, request, reply, 'rates', { title: 'nav.rates', rates: res.rates, total: res.total, q: search, nextHref: next });
    } catch (err) {
      return page(ctx, request, reply, 'rates', { title: 'nav.rates', rates: [], total: 0, q: search, error: apiErrorText(ctx, request, err) }, 400);
    }
  });

  app.get('/profile', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    try {
      const res = await api.get('reseller', 'client-dashboard', { login: s.login });
      return page(ctx, request, reply, 'profile', { title: 'nav.profile', client: res.client });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.profile', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  app.post('/profile', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const fields = { name: str(body.name).trim(), email: str(body.email).trim(), phone: str(body.phone).trim(), language: str(body.language).trim() };
    try {
      const res = await api.post('reseller', 'client-profile-update', { login: s.login, ...fields });
      const lang = String(res.client.language ?? '').slice(0, 2);
      if (lang === 'en' || lang === 'de') s.lang = lang;
      s.name = res.client.name ?? null;
      flash(s, 'ok', translator(languageOf(ctx, request, s))('profile.saved'));
      return reply.redirect('/profile', 303);
    } catch (err) {
      return page(ctx, request, reply, 'profile', { title: 'nav.profile', client: fields, error: apiErrorText(ctx, request, err) }, 400);
    }
  });

  app.get('/password', async (request, reply) => {
    if (!clientSession(request, reply)) return reply;
    return page(ctx, request, reply, 'password', { title: 'nav.password' });
  });

  app.post('/password', { config: { rateLimit: { max: 20, timeWindow: 60_000 } } }, async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const t = translator(languageOf(ctx, request, s));
    if (str(body.new_password) !== str(body.new_password_again)) {
      return page(ctx, request, reply, 'password', { title: 'nav.password', error: t('password.mismatch') }, 400);
    }
    try {
      await api.post('reseller', 'client-change-password', {
        login: s.login, current_password: str(body.current_password), new_password: str(body.new_password), client_ip: request.ip,
      });
      // Other browsers logged in with the old password are logged out.
      ctx.sessions.destroyLogin('client', s.login!, s.id);
      flash(s, 'ok', t('password.saved'));
      return reply.redirect('/password', 303);
    } catch (err) {
      const text = err instanceof ApiError && (err.code === 'INVALID_PASSWORD' || err.code === 'INVALID_CREDENTIALS') ? t('password.wrong')
        : err instanceof ApiError && err.status === 429 ? t('login.limited') : apiErrorText(ctx, request, err);
      return page(ctx, request, reply, 'password', { title: 'nav.password', error: text }, 400);
    }
  });
}
