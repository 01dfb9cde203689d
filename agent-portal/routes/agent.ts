// The agent's own pages, behind the agent's login (its reseller account's password, checked by
// the Reseller API's agent-auth): clients, transfers, transactions and the markup.
import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api.js';
import { agentSession, apiErrorText, flash, languageOf, page, type PortalContext } from '../context.js';
import { str } from '../forms.js';
import { translator } from '../i18n.js';
import { formatMoney } from '../render.js';
import { loginRoutes } from './login.js';

type Query = Record<string, string | undefined>;

export function agentRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { api, config } = ctx;

  loginRoutes(app, ctx, {
    kind: 'agent', path: '/agent/login', home: '/agent', title: 'login.agent', other: { href: '/login', label: 'login.client' },
    check: async (login, password, clientIp) => {
      // The portal's key names the agent: the login typed must be its own.
      const [boot, res] = await Promise.all([
        api.get('reseller', 'portal-bootstrap'),
        api.post('reseller', 'agent-auth', { password, client_ip: clientIp }),
      ]);
      if (boot.portal.login !== login) throw new ApiError(403, 'INVALID_CREDENTIALS', 'wrong login');
      return { login: res.agent.login, name: res.agent.name ?? null, lang: null };
    },
  });

  app.get('/agent', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const q = request.query as Query;
    const search = (q.q ?? '').trim().slice(0, 64);
    try {
      const [clients, plans] = await Promise.all([
        api.get('reseller', 'clients', { limit: 25, after: q.after, search }),
        api.get('reseller', 'plans'),
      ]);
      return page(ctx, request, reply, 'agent-clients', {
        title: 'nav.clients', clients: clients.clients, plans: plans.plans, q: search,
        nextHref: clients.next ? `/agent?${new URLSearchParams({ ...(search ? { q: search } : {}), after: clients.next })}` : null,
      });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.clients', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  app.post('/agent/clients', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const t = translator(languageOf(ctx, request, s));
    try {
      const res = await api.post('reseller', 'create-client', { plan_id: Number(str(body.plan_id)), login: str(body.login).trim() || undefined });
      flash(s, 'ok', t('agent.created', { login: res.client.login, password: res.password ?? '—', sip: res.sip.password }));
    } catch (err) {
      flash(s, 'error', apiErrorText(ctx, request, err));
    }
    return reply.redirect('/agent', 303);
  });

  app.post('/agent/clients/status', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    try {
      await api.post('reseller', 'set-client-status', { login: str(body.login), active: str(body.active) === '1' ? 1 : 0 });
    } catch (err) {
      flash(s, 'error', apiErrorText(ctx, request, err));
    }
    return reply.redirect('/agent', 303);
  });

  app.post('/agent/clients/plan', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    try {
      await api.post('reseller', 'change-plan', { login: str(body.login), plan_id: Number(str(body.plan_id)) });
    } catch (err) {
      flash(s, 'error', apiErrorText(ctx, request, err));
    }
    return reply.redirect('/agent', 303);
  });

  app.get('/agent/transfer', async (request, reply) => {
    if (!agentSession(request, reply)) return reply;
    // One id per form shown: a double submit or a retried POST credits once.
    return page(ctx, request, reply, 'agent-transfer', {
      title: 'nav.transfer', login: (request.query as Query).login, externalId: `portal-${crypto.randomBytes(12).toString('hex')}`,
    });
  });

  app.post('/agent/transfer', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const t = translator(languageOf(ctx, request, s));
    try {
      const res = await api.post('reseller', 'transfer', { login: str(body.login).trim(), amount: str(body.amount).trim(), external_id: str(body.external_id) || undefined });
      flash(s, 'ok', t('agent.transfer_done', { amount: formatMoney(res.transaction.amount), login: res.client.login }));
      return reply.redirect('/agent/transactions', 303);
    } catch (err) {
      return page(ctx, request, reply, 'agent-transfer', {
        title: 'nav.transfer', login: str(body.login), externalId: `portal-${crypto.randomBytes(12).toString('hex')}`, error: apiErrorText(ctx, request, err),
      }, 400);
    }
  });

  app.get('/agent/transactions', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const q = request.query as Query;
    try {
      const res = await api.get('reseller', 'transactions', { limit: 25, after: q.after });
      return page(ctx, request, reply, 'agent-transactions', {
        title: 'nav.transactions', transactions: res.transactions, nextHref: res.next ? `/agent/transactions?after=${encodeURIComponent(res.next)}` : null,
      });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.transactions', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  const markupPage = async (request: Parameters<typeof page>[1], reply: Parameters<typeof page>[2], extra: Record<string, unknown> = {}, status = 200) => {
    const current = await api.get('reseller', 'agent-markup');
    return page(ctx, request, reply, 'agent-markup', { title: 'nav.markup', current: current.markup_percent, ...extra }, status);
  };

  app.get('/agent/markup', async (request, reply) => {
    if (!agentSession(request, reply)) return reply;
    try {
      return await markupPage(request, reply);
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'nav.markup', message: apiErrorText(ctx, request, err) }, 502);
    }
  });

  // Preview first; the save button appears only with a preview of the same markup.
  app.post('/agent/markup', async (request, reply) => {
    const s = agentSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const markup = str(body.markup_percent).trim();
    const t = translator(languageOf(ctx, request, s));
    try {
      if (str(body.action) === 'save') {
        await api.post('reseller', 'set-agent-markup', { markup_percent: markup });
        flash(s, 'ok', t('agent.markup_saved'));
        return reply.redirect('/agent/markup', 303);
      }
      const preview = await api.post('reseller', 'preview-agent-markup', { markup_percent: markup, limit: 20 });
      const rows = preview.rates.map((r: Record<string, unknown>) => ({
        prefix: r.prefix, destination: r.destination, before: formatMoney(r.current_rate ?? r.wholesale_rate), after: formatMoney(r.new_rate),
      }));
      return await markupPage(request, reply, { proposed: markup, preview: rows });
    } catch (err) {
      try {
        return await markupPage(request, reply, { proposed: markup, error: apiErrorText(ctx, request, err) }, 400);
      } catch (again) {
        return page(ctx, request, reply, 'message', { title: 'nav.markup', message: apiErrorText(ctx, request, again) }, 502);
      }
    }
  });
}
