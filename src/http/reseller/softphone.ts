import type { Endpoint } from '../endpoint.js';

export const softphoneEndpoints: Endpoint[] = [];
