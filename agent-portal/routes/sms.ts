// The client's SMS page: a form that sends one message with the SMS API's `send`, and the
// client's messages with their status (`history`). The agent's reseller key acts for a client
// only through `client_login`, and every call names the session's client: a login in a form
// or a URL is ignored. Prices and costs are what the API charges the client (its retail price).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api.js';
import { apiErrorText, clientSession, flash, languageOf, page, type PortalContext } from '../context.js';
import { formId, idempotencyHeader, offsetParam, str } from '../forms.js';
import { translator, type MessageKey } from '../i18n.js';
import { formatMoney } from '../render.js';
import type { Session } from '../session.js';

const PAGE_ROWS = 25;
/** History pages reach this far back by offset; older messages are the API's to export. */
const MAX_OFFSET = 100_000;
/** Characters a text may have: the API splits it into at most its segment limit. */
const MAX_TEXT = 1530;
type Query = Record<string, string | undefined>;

/** A message as the SMS API's history lists it (the fields this page shows). */
interface SmsMessage {
  sms_id: number;
  phone: string;
  message: string;
  segments: number;
  encoding: string;
  cost: string | number;
  status: string;
  error_code: string | null;
  created_at: string | null;
}

const STATUS_LABELS: Record<string, MessageKey> = {
  SCHEDULED: 'sms.status_scheduled', QUEUED: 'sms.status_queued', SENT_TO_PROVIDER: 'sms.status_sent',
  DELIVERED: 'sms.status_delivered', FAILED: 'sms.status_failed', CANCELLED: 'sms.status_cancelled',
};

export function smsRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const { api, config } = ctx;
  const moneyLabel = (v: unknown) => `${formatMoney(v)} ${config.currency}`;

  /** A refusal in words the client can act on; the agent's own balance is not the client's business. */
  const errorText = (request: FastifyRequest, err: unknown): string => {
    if (err instanceof ApiError && err.code === 'RESELLER_INSUFFICIENT_BALANCE') {
      return translator(languageOf(ctx, request, request.portalSession))('sms.unavailable');
    }
    return apiErrorText(ctx, request, err);
  };

  async function smsPage(request: FastifyRequest, reply: FastifyReply, s: Session,
    form: { phone?: string; text?: string; error?: string } = {}, status = 200): Promise<FastifyReply> {
    const t = translator(languageOf(ctx, request, s));
    const offset = offsetParam((request.query as Query).offset, MAX_OFFSET);
    let messages: SmsMessage[] = [];
    let total = 0;
    let listError: string | undefined;
    try {
      const res = await api.get('sms', 'history', { client_login: s.login, limit: PAGE_ROWS, offset });
      messages = res.messages;
      total = res.total;
    } catch (err) {
      listError = errorText(request, err);
    }
    const rows = messages.map((m) => ({
      id: m.sms_id, date: m.created_at ?? '', phone: m.phone, text: m.message, segments: m.segments, encoding: m.encoding,
      cost: formatMoney(m.cost), status: STATUS_LABELS[m.status] ? t(STATUS_LABELS[m.status]) : m.status, statusCode: m.status,
      error: m.error_code,
    }));
    return page(ctx, request, reply, 'sms', {
      title: 'nav.sms', externalId: formId('sms'), phone: form.phone ?? '', text: form.text ?? '', maxText: MAX_TEXT,
      messages: rows, total, currency: config.currency,
      nextHref: offset + rows.length < total ? `/sms?offset=${offset + PAGE_ROWS}` : null,
      firstHref: offset > 0 ? '/sms' : null,
      error: form.error ?? listError,
    }, form.error ? status : listError ? 502 : status);
  }

  app.get('/sms', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    return smsPage(request, reply, s);
  });

  app.post('/sms', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    const body = request.body as Record<string, unknown>;
    const phone = str(body.phone).trim().slice(0, 40);
    const text = str(body.message).slice(0, MAX_TEXT * 4);
    const key = str(body.external_id);
    const t = translator(languageOf(ctx, request, s));
    try {
      const payload = { client_login: s.login, phone, message: text };
      const res = await api.post('sms', 'send', payload, idempotencyHeader(key));
      const figures = { phone, segments: res.segments, encoding: res.encoding, cost: moneyLabel(res.cost) };
      if (res.status === 'FAILED') {
        // The fee is for the attempt: the API keeps it even when the provider refuses the message.
        flash(s, 'error', t('sms.refused', { ...figures, reason: res.error_code ?? res.status }));
      } else {
        flash(s, 'ok', t('sms.sent', figures));
      }
      return reply.redirect('/sms', 303);
    } catch (err) {
      return smsPage(request, reply, s, { phone, text, error: errorText(request, err) }, 400);
    }
  });
}
