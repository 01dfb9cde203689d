import type { Endpoint } from '../endpoint.js';

export const portalEndpoints: Endpoint[] = [];
