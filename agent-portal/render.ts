// Pages: eta templates (auto-escaped; `<%~` only for pages the portal rendered itself), one
// layout with the brand, the menu of the visitor's kind and its language.
import path from 'node:path';
import { Eta } from 'eta';
import type { FastifyReply } from 'fastify';
import type { Language, PortalConfig } from './config.js';
import { translator, type MessageKey } from './i18n.js';
import type { Session } from './session.js';

const VIEWS = path.join(path.dirname(new URL(import.meta.url).pathname), 'views');

const CLIENT_MENU: Array<[string, MessageKey]> = [
  ['/', 'nav.dashboard'], ['/calls', 'nav.calls'], ['/failed-calls', 'nav.failed'], ['/refills', 'nav.refills'],
  ['/sip', 'nav.sip'], ['/callerids', 'nav.callerids'], ['/rates', 'nav.rates'], ['/topup', 'nav.topup'],
  ['/sms', 'nav.sms'], ['/esim', 'nav.esim'], ['/phone', 'nav.phone'], ['/profile', 'nav.profile'], ['/password', 'nav.password'],
];
const AGENT_MENU: Array<[string, MessageKey]> = [
  ['/agent', 'nav.clients'], ['/agent/transfer', 'nav.transfer'], ['/agent/transactions', 'nav.transactions'], ['/agent/markup', 'nav.markup'],
];

/** Money as Ledgerline answers it (a JSON number or a decimal string), shown with 2 to 4 decimals. */
export function formatMoney(value: unknown): string {
  const s = typeof value === 'number' ? value.toFixed(6) : String(value ?? '0');
  const [whole, frac = ''] = s.split('.');
  const trimmed = frac.slice(0, 4).replace(/0+$/, '');
  return `${whole}.${trimmed.padEnd(2, '0')}`;
}

export class Pages {
  private readonly eta = new Eta({ views: VIEWS, cache: true, autoEscape: true });
  constructor(private readonly config: PortalConfig) {}

  render(reply: FastifyReply, view: string, session: Session | null, lang: Language, data: Record<string, unknown> & { title: string }, status = 200): FastifyReply {
    const t = translator(lang);
    const kind = session?.kind ?? 'visitor';
    const menu = (kind === 'agent' ? AGENT_MENU : kind === 'client' ? CLIENT_MENU : [])
      .map(([href, label]) => ({ href, label, current: data.path === href }));
    const flash = session?.flash ?? null;
    if (session) session.flash = null;
    const html = this.eta.render(`./${view}`, {
      ...data, t, lang, session, menu, flash, brand: this.config.brand,
      home: kind === 'agent' ? '/agent' : '/', money: formatMoney, rate: (r: unknown) => formatMoney(r),
    });
    return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(html);
  }
}
