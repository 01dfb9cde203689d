// CONTRACT §2: within the Reseller API a kind of field has one type everywhere — amounts are
// JSON numbers and flags booleans, as its `me` shows. This walks the answers of every Reseller
// API endpoint for a client with history and collects the JSON type of each field name: any
// name seen with two types (`active` true here and 1 there, `balance` 1.5 here and "1.5000"
// there) fails, as does an amount that is not a number or a flag that is not a boolean.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createReseller, createResellerClient, wholesalePlan, type PortalClient, type TestReseller } from './portal-fixtures.js';

const AMOUNT_FIELDS = new Set(['balance', 'amount', 'balance_after', 'cost', 'rate', 'connect_charge', 'markup_percent', 'retail_rate', 'wholesale_rate', 'price']);
const FLAG_FIELDS = new Set(['active', 'credited', 'duplicate', 'authenticated', 'changed', 'created', 'current', 'available']);

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

describe('reseller api: one type per kind of field', () => {
  let t: TestServer;
  let agent: TestReseller;
  let alice: PortalClient;

  before(async () => {
    t = await startTestServer({ JANUS_TOKEN_SECRET: 'field-types-secret', JANUS_URL: 'wss://janus.example.com/janus' });
    agent = await createReseller(t, await wholesalePlan(t), { password: 'AgentPass123' });
    alice = await createResellerClient(t, agent, 'types-alice', 'AlicePass123');
    // History of every kind: a refill (transfer), a payment, a caller ID, an answered and a failed call.
    assert.equal((await t.call('reseller', 'transfer', { key: agent.key, body: { login: alice.login, amount: '2.5' } })).status, 200);
    assert.equal((await t.call('client', 'add-callerid', { key: alice.key, body: { cid: '+15551230000', set_active: true } })).status, 200);
    const { api_key: sw } = await t.admin('create-switch-key', { name: 'types' });
    for (const [uniqueid, seconds, disposition] of [['types-1', 66, 'ANSWERED'], ['types-2', 0, 'BUSY']] as const) {
      await t.call('switch', 'authorize', { key: sw, body: { uniqueid, sip_login: alice.sip, destination: '441234567890' } });
      const cdr = await t.call('switch', 'cdr', {
        key: sw, body: { uniqueid, sip_login: alice.sip, destination: '441234567890', answered_seconds: seconds, disposition },
      });
      assert.equal(cdr.status, 200, JSON.stringify(cdr.body));
    }
  });
  after(async () => t.close());

  it('every field name has one JSON type across all Reseller API answers; amounts are numbers, flags booleans', async () => {
    const login = alice.login;
    const requests: Array<[string, 'GET' | 'POST', Record<string, unknown>]> = [
      ['me', 'GET', {}], ['plans', 'GET', {}], ['client', 'GET', { login }], ['clients', 'GET', {}], ['transactions', 'GET', {}],
      ['agent-markup', 'GET', {}], ['preview-agent-markup', 'POST', { markup_percent: 30 }], ['portal-bootstrap', 'GET', {}],
      ['client-dashboard', 'GET', { login }], ['client-sip', 'GET', { login, include_service: 1 }], ['client-calls', 'GET', { login }],
      ['client-failed-calls', 'GET', { login }], ['client-refills', 'GET', { login }], ['client-callerids', 'GET', { login }],
      ['client-rates', 'GET', { login }], ['check-client-login', 'GET', { login }],
      ['client-auth', 'POST', { login, password: 'AlicePass123' }], ['agent-auth', 'POST', { password: 'AgentPass123' }],
      ['register-agent-payment', 'POST', { login, amount: '1.25', external_id: 'types-pay-1', status: 'paid', currency: 'EUR', provider: 'plisio' }],
      ['transfer', 'POST', { login, amount: 0.5, external_id: 'types-transfer-1' }],
      ['set-client-status', 'POST', { login, active: true }],
      ['client-profile-update', 'POST', { login, name: 'Alice' }],
      ['create-client', 'POST', { plan_id: agent.retailPlanId }],
      ['client-softphone-token', 'POST', { login }],
      ['set-agent-markup', 'POST', { markup_percent: 37.25 }],
    ];
    const seen = new Map<string, Map<string, string>>();
    const problems: string[] = [];
    // `counts.calls` (how many) is another kind of field than `calls` (the list).
    const walk = (value: unknown, where: string, parent = '') => {
      if (Array.isArray(value)) { value.forEach((v, i) => walk(v, `${where}[${i}]`)); return; }
      if (value === null || typeof value !== 'object') return;
      for (const [field, v] of Object.entries(value)) {
        const key = parent === 'counts' ? `counts.${field}` : field;
        const type = typeOf(v);
        if (type !== 'null') {
          const types = seen.get(key) ?? new Map<string, string>();
          if (!types.has(type)) types.set(type, `${where}.${field}`);
          seen.set(key, types);
          if (AMOUNT_FIELDS.has(key) && type !== 'number') problems.push(`${where}.${field} is an amount but a ${type}: ${JSON.stringify(v)}`);
          if (FLAG_FIELDS.has(key) && type !== 'boolean') problems.push(`${where}.${field} is a flag but a ${type}: ${JSON.stringify(v)}`);
        }
        walk(v, `${where}.${field}`, field);
      }
    };
    for (const [endpoint, method, params] of requests) {
      const res = method === 'GET'
        ? await t.call('reseller', endpoint, { key: agent.key, query: params as Record<string, string | number> })
        : await t.call('reseller', endpoint, { key: agent.key, body: params });
      assert.equal(res.status, 200, `${endpoint}: ${JSON.stringify(res.body)}`);
      walk(res.body, endpoint);
    }
    for (const [key, types] of seen) {
      if (types.size > 1) problems.push(`${key} has ${types.size} types: ${[...types].map(([type, where]) => `${type} at ${where}`).join(', ')}`);
    }
    assert.deepEqual(problems, []);
  });
});
