import type { Endpoint } from '../endpoint.js';

export const coreEndpoints: Endpoint[] = [];
