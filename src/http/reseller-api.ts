// Reseller API (`/reseller-api/index.php`): a reseller ("Agent") runs its own clients, and backs
// the white-label portals it hosts for them. Envelope `{"ok":true, <named fields>}`.
import type { ApiDefinition } from './endpoint.js';
import { accountEndpoints } from './reseller/account.js';
import { coreEndpoints } from './reseller/core.js';
import { portalBootstrapEndpoint, portalEndpoints } from './reseller/portal.js';
import { softphoneEndpoints } from './reseller/softphone.js';

export const resellerApi: ApiDefinition = {
  name: 'reseller',
  basePath: '/reseller-api',
  title: 'Reseller API',
  flag: 'ok',
  endpoints: [
    ...coreEndpoints,
    portalBootstrapEndpoint(() => resellerApi.endpoints.map((e) => e.name)),
    ...portalEndpoints,
    ...accountEndpoints,
    ...softphoneEndpoints,
  ],
};
