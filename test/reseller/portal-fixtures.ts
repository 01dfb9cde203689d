// Fixtures shared by the agent-portal tests: resellers with distinctive numbers (so a leak of
// their balance, wholesale rates or markup is detectable), their clients, and requests sent
// from a chosen loopback address (per-address password limits must not leak between cases).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Family, TestServer } from '../helpers/server.js';

/** Wholesale prices nobody else uses: any of these in a portal answer is a leak. */
export const WHOLESALE = {
  usa: { prefix: '1', destination: 'USA', rate: '0.0173' },
  uk: { prefix: '44', destination: 'UK', rate: '0.0297', initblock: 60, billingblock: 6 },
  ukMobile: { prefix: '447', destination: 'UK Mobile', rate: '1.2311', connect_charge: '0.0519', initblock: 60, billingblock: 6 },
};
export const RESELLER_BALANCE = '98765.4321';
export const MARKUP_PERCENT = '37.25';
/** The same rows at +37.25%, rounded half-up to 6 decimals. */
export const RETAIL = {
  '1': { rate: '0.023744', connect_charge: '0.0000' },
  '44': { rate: '0.040763', connect_charge: '0.0000' },
  '447': { rate: '1.689685', connect_charge: '0.071233' },
};

export interface TestReseller { id: number; login: string; key: string; retailPlanId: number; wholesalePlanId: number }
export interface PortalClient { id: number; login: string; password: string; key: string; sip: string }

export async function wholesalePlan(t: TestServer): Promise<number> {
  const { plan } = await t.admin('create-plan', { name: `WHOLESALE-${Math.random().toString(36).slice(2, 8)}` });
  await t.admin('add-rates', { plan_id: plan.id, rates: Object.values(WHOLESALE) });
  return plan.id;
}

export async function createReseller(t: TestServer, planId: number, extra: Record<string, unknown> = {}): Promise<TestReseller> {
  const body = await t.admin('create-reseller', { plan_id: planId, balance: RESELLER_BALANCE, markup_percent: MARKUP_PERCENT, ...extra });
  return {
    id: body.reseller.id, login: body.reseller.login, key: body.api_key,
    retailPlanId: body.reseller.retail_plan_id, wholesalePlanId: planId,
  };
}

/**
 * A client of the reseller, made through the Reseller API's create-client where it is served,
 * else through the provisioning service; its own API key comes from the admin.
 */
export async function createResellerClient(t: TestServer, reseller: TestReseller, login: string, password = 'Portal12345pw'): Promise<PortalClient> {
  const res = await t.call('reseller', 'create-client', { key: reseller.key, body: { plan_id: reseller.retailPlanId, login, password } });
  let id: number;
  if (res.status === 404 && res.body?.code === 'UNKNOWN_ENDPOINT') {
    const { createClient } = await import('../../src/onboarding/onboarding.js');
    const created = await createClient(t.server.ctx, reseller.id, { plan_id: reseller.retailPlanId, login, password });
    id = Number(created.client.id);
  } else {
    assert.equal(res.status, 200, `create-client: ${JSON.stringify(res.body)}`);
    const row = await t.server.ctx.db.selectFrom('accounts').select('id').where('login', '=', login).executeTakeFirstOrThrow();
    id = Number(row.id);
  }
  const { api_key } = await t.admin('create-api-key', { login });
  return { id, login, password, key: api_key, sip: login };
}

/** An admin (direct) client. */
export async function createAdminClient(t: TestServer, planId: number, login: string, password = 'Direct12345pw'): Promise<PortalClient> {
  const body = await t.admin('create-client', { plan_id: planId, login, password });
  return { id: body.client.id, login, password, key: body.api_key, sip: body.sip.name };
}

/** A request from a chosen 127.0.0.0/8 source address. */
export function callFrom(
  t: TestServer, localAddress: string, family: Family, endpoint: string, key: string, body: unknown,
): Promise<{ status: number; body: any }> {
  const url = new URL(`${t.url}/${family}-api/index.php?endpoint=${endpoint}`);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', localAddress,
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function accountRow(t: TestServer, id: number) {
  return t.server.ctx.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
