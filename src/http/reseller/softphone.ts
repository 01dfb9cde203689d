// Reseller API, web phone: `client-softphone-token` gives a white-label portal what a browser
// needs to register the client's `_web1` service SIP account through Janus.
import { Type as T } from '@sinclair/typebox';
import { softphoneToken } from '../../webphone/softphone.js';
import type { Endpoint } from '../endpoint.js';
import { LocalTime } from '../wire-types.js';

export const softphoneEndpoints: Endpoint[] = [
  {
    name: 'client-softphone-token',
    method: 'POST',
    roles: ['reseller'],
    summary: 'Janus URL, a signed Janus token for the SIP plugin and the client\'s web phone SIP identity '
      + '(creates the `<login>_web1` service account when missing); 409 JANUS_NOT_CONFIGURED when the server has no JANUS_TOKEN_SECRET',
    input: T.Object({ login: T.Union([T.String(), T.Integer()], { description: 'The client login' }) }),
    output: T.Object({
      login: T.String(),
      janus_url: T.String(),
      janus_plugin: T.String(),
      janus_token: T.String(),
      token_expires_at: LocalTime,
      token_expires_unix: T.Integer(),
      token_ttl: T.Integer({ description: 'Seconds' }),
      sip: T.Object({
        username: T.String(), authuser: T.String(), secret: T.String(), domain: T.String(), realm: T.String(),
        uri: T.String(), proxy: T.String(), display_name: T.String(),
      }),
      register: T.Object({
        request: T.Literal('register'), username: T.String(), authuser: T.String(), display_name: T.String(), secret: T.String(), proxy: T.String(),
      }, { description: 'The body of the SIP plugin\'s register message, ready to send' }),
      created: T.Boolean({ description: 'Whether the _web1 service account was created by this call' }),
    }),
    errors: { 404: ['NOT_FOUND'], 409: ['JANUS_NOT_CONFIGURED', 'SIP_SECRET_UNAVAILABLE'] },
    handler: async (ctx, actor, input) => ({ ...(await softphoneToken(ctx, actor, input)) }),
  },
];
