// Delivery reports that SMS providers reached over HTTP call back (sms/providers/http.ts):
// GET or POST `/sms-dlr/<provider>?id=<sms id>&sig=<hmac>&status=<dlr bits>`. The signature,
// made when the message was handed over, proves the URL is the one Ledgerline gave for that
// message: a forged or altered report answers 403 and changes nothing; a repeated one changes
// nothing more. A report whose message's hand-over is not yet recorded answers 503 (kept in
// memory meanwhile; a provider that retries delivers it again).
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../context.js';
import { dlrSignatureValid, httpReportOf } from '../sms/providers/http.js';

export function registerSmsCallbacks(app: FastifyInstance, ctx: Ctx): void {
  const handler = async (req: { params: unknown; query: unknown }, reply: import('fastify').FastifyReply) => {
    const { provider } = req.params as { provider: string };
    const q = req.query as Record<string, unknown>;
    const config = ctx.config.smsProviders.find((p) => p.code === provider);
    if (!config || config.adapter !== 'http' || !ctx.sms) return reply.code(404).send({ ok: false, error: 'No such SMS provider', code: 'NOT_FOUND' });
    const id = typeof q.id === 'string' && /^\d{1,15}$/.test(q.id) ? q.id : null;
    if (!id || !dlrSignatureValid(config, id, q.sig)) {
      ctx.log.warn({ provider, id: q.id }, 'SMS delivery report with a bad signature refused');
      return reply.code(403).send({ ok: false, error: 'The report\'s signature does not match', code: 'BAD_SIGNATURE' });
    }
    const report = httpReportOf(id, q.status);
    if (!report) return { ok: true };
    const outcome = await ctx.sms.report(provider, report);
    if (outcome === 'held') return reply.code(503).send({ ok: false, error: 'The message is not yet recorded as sent; deliver the report again', code: 'RETRY_LATER' });
    return { ok: true };
  };
  app.get('/sms-dlr/:provider', handler);
  app.post('/sms-dlr/:provider', handler);
}
