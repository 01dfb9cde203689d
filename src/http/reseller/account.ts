import type { Endpoint } from '../endpoint.js';

export const accountEndpoints: Endpoint[] = [];
