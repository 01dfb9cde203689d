// The web phone: janus.js (served from the janus-gateway package) registers the client's `_web1`
// service account through the Janus gateway's SIP plugin, with a token Ledgerline signs
// (client-softphone-token). The page's Content-Security-Policy lets it reach that gateway only.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { apiErrorText, clientSession, page, type PortalContext } from '../context.js';
import { contentSecurityPolicy } from '../security.js';

const require = createRequire(import.meta.url);
const STATIC_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'static');

/** The scripts the page loads, read once at start. */
function phoneScripts(): Record<string, string> {
  return {
    'adapter.js': fs.readFileSync(require.resolve('webrtc-adapter/out/adapter.js'), 'utf8'),
    'janus.js': fs.readFileSync(require.resolve('janus-gateway'), 'utf8'),
    'phone.js': fs.readFileSync(path.join(STATIC_DIR, 'phone.js'), 'utf8'),
  };
}

/** JSON inside a <script type="application/json">: no `<` can close the element early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function phoneRoutes(app: FastifyInstance, ctx: PortalContext): void {
  const scripts = phoneScripts();
  for (const [name, body] of Object.entries(scripts)) {
    app.get(`/static/${name}`, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(body));
  }

  app.get('/phone', async (request, reply) => {
    const s = clientSession(request, reply);
    if (!s) return reply;
    try {
      const token = await ctx.api.post('reseller', 'client-softphone-token', { login: s.login });
      const janus = new URL(token.janus_url);
      reply.header('Content-Security-Policy', contentSecurityPolicy(ctx.config, [janus.origin, `${janus.protocol === 'https:' ? 'wss' : 'ws'}://${janus.host}`]));
      return page(ctx, request, reply, 'phone', {
        title: 'phone.title',
        phoneConfig: scriptJson({
          janus_url: token.janus_url, janus_token: token.janus_token, plugin: token.janus_plugin,
          register: token.register, domain: token.sip.domain, display_name: token.sip.display_name,
        }),
      });
    } catch (err) {
      return page(ctx, request, reply, 'message', { title: 'phone.title', message: apiErrorText(ctx, request, err) }, 502);
    }
  });
}
