// Reseller API, web phone: `client-softphone-token` gives a white-label portal what a browser
// needs to register the client's `_web1` service SIP account through Janus.
import { Type as T } from '@sinclair/typebox';
import { softphoneToken } from '../../portal/softphone.js';
import type { Endpoint } from '../endpoint.js';

export const softphoneEndpoints: Endpoint[] = [
  {
    name: 'client-softphone-token',
    method: 'POST',
    roles: ['reseller'],
    summary: 'Janus URL, a signed Janus token for the SIP plugin and the client\'s web phone SIP identity '
      + '(creates the `<login>_web1` service account when missing); 409 JANUS_NOT_CONFIGURED when the server has no JANUS_TOKEN_SECRET',
    input: T.Object({ login: T.String() }),
    handler: async (ctx, actor, input) => ({ ...(await softphoneToken(ctx, actor, input)) }),
  },
];
