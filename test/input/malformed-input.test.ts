// Regressions for caller input that once answered 500: deep nesting, NUL bytes, odd CDR fields
// and amounts beyond the money range. Each must answer 400 naming the field, in the family's
// envelope, and change nothing.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type ApiResponse, type TestClient, type TestServer } from '../helpers/server.js';

const uid = () => `call-${crypto.randomBytes(6).toString('hex')}`;

/** `{"a":{"a":…}}` or `[[…]]` nested `depth` deep, as raw JSON text (no recursion to build it). */
function nestedJson(depth: number, kind: 'object' | 'array' = 'object'): string {
  return kind === 'object' ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + '1' + ']'.repeat(depth);
}

function assertBadRequest(res: ApiResponse, field: string, code?: string) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.success ?? res.body.ok, false);
  assert.match(res.body.code, /^[A-Z][A-Z0-9_]*$/);
  if (code) assert.equal(res.body.code, code);
  assert.equal(res.body.field, field, JSON.stringify(res.body));
  assert.ok(res.body.error.startsWith(`${field}:`), res.body.error);
}

describe('malformed input answers 400, never 500', () => {
  let t: TestServer;
  let plan: { id: number };
  let client: TestClient;
  let switchKey: string;
  let resellerKey: string;

  before(async () => {
    t = await startTestServer();
    plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '10' });
    switchKey = (await t.admin('create-switch-key', { name: 'asterisk1' })).api_key;
    resellerKey = (await t.admin('create-reseller', { plan_id: plan.id, balance: '100' })).api_key;
  });
  after(async () => t.close());

  const balanceOf = async (c: TestClient) => (await t.call('client', 'balance', { key: c.key })).body.data.balance;
  const cdr = (body: Record<string, unknown>) => t.call('switch', 'cdr', { key: switchKey, body });

  describe('deep nesting', () => {
    it('refuses a body nested 5,000 deep in an external_id with 400 naming the field', async () => {
      const body = `{"login":"${client.login}","amount":1,"external_id":${nestedJson(5000)}}`;
      const res = await t.call('reseller', 'transfer', { key: resellerKey, rawBody: body, headers: { 'Content-Type': 'application/json' } });
      assertBadRequest(res, 'external_id', 'INPUT_TOO_DEEP');
    });

    it('refuses a body nested 5,000 deep under an Idempotency-Key with 400 naming the field', async () => {
      const body = `{"login":"${client.login}","amount":1,"description":${nestedJson(5000, 'array')}}`;
      const res = await t.call('admin', 'refill', {
        rawBody: body, headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'deep-1' },
      });
      assertBadRequest(res, 'description', 'INPUT_TOO_DEEP');
      assert.equal(await balanceOf(client), '10.0000');
    });

    it('lets nesting up to the limit through to the service, and names the top field past it', async () => {
      // 32 levels below the body are allowed: the service then judges the value itself.
      const ok = await t.call('admin', 'refill', {
        rawBody: `{"login":"${client.login}","amount":1,"description":${nestedJson(31)}}`,
        headers: { 'Content-Type': 'application/json' },
      });
      assertBadRequest(ok, 'description');
      assert.notEqual(ok.body.code, 'INPUT_TOO_DEEP');
      const deep = await t.call('admin', 'add-rates', {
        rawBody: `{"plan_id":${plan.id},"rates":[{"prefix":"9","destination":${nestedJson(40)}}]}`,
        headers: { 'Content-Type': 'application/json' },
      });
      assertBadRequest(deep, 'rates', 'INPUT_TOO_DEEP');
    });

    it('refuses a whole body nested 100,000 deep as invalid JSON, not 500', async () => {
      const res = await t.call('admin', 'refill', { rawBody: nestedJson(100_000, 'array'), headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, 'body');
    });
  });

  describe('NUL bytes', () => {
    it('refuses a NUL byte in a body string, naming the field, on every database', async () => {
      const res = await t.call('client', 'add-callerid', { key: client.key, body: { cid: '+15551234567', name: 'a\u0000b' } });
      assertBadRequest(res, 'name', 'INVALID_CHARACTERS');
      const transfer = await t.call('reseller', 'transfer', { key: resellerKey, body: { login: client.login, amount: 1, external_id: 'x\u0000' } });
      assertBadRequest(transfer, 'external_id', 'INVALID_CHARACTERS');
      const plan = await t.call('admin', 'create-plan', { body: { name: 'nul\u0000plan' } });
      assertBadRequest(plan, 'name', 'INVALID_CHARACTERS');
    });

    it('refuses a NUL byte in a query parameter and in a nested field', async () => {
      const res = await t.call('admin', 'account', { query: { login: 'ab\u0000c' } });
      assertBadRequest(res, 'login', 'INVALID_CHARACTERS');
      const nested = await t.call('admin', 'add-rates', { body: { plan_id: plan.id, rates: [{ prefix: '9', destination: 'x\u0000', rate: 1 }] } });
      assertBadRequest(nested, 'rates[0].destination', 'INVALID_CHARACTERS');
    });

    it('refuses a NUL byte in a field name', async () => {
      const res = await t.call('admin', 'create-plan', { body: { name: 'fine', ['sig\u0000nup']: true } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'INVALID_CHARACTERS');
    });
  });

  describe('paths, methods and bodies', () => {
    it('answers an unknown path or method under an API in that API\'s envelope', async () => {
      for (const [method, path, flag] of [
        ['OPTIONS', '/client-api/index.php?endpoint=me', 'success'], ['GET', '/client-api/nope', 'success'],
        ['GET', '/reseller-api/index.php/x', 'ok'], ['PUT', '/switch-api/x?endpoint=cdr', 'success'],
      ] as const) {
        const res = await fetch(`${t.url}${path}`, { method, headers: { 'X-API-Key': t.adminKey } });
        const body = await res.json() as Record<string, unknown>;
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(body[flag], false, `${method} ${path}: ${JSON.stringify(body)}`);
        assert.match(String(body.code), /^(NOT_FOUND|UNKNOWN_ENDPOINT)$/);
      }
    });

    it('answers a body sent with an unknown method in that API\'s envelope', async () => {
      // Bodies are parsed by the API pipeline, not before routing: an unrouted method is a 404.
      const res = await fetch(`${t.url}/client-api/index.php?endpoint=me`, {
        method: 'OPTIONS', headers: { 'X-API-Key': client.key, 'Content-Type': 'application/json' }, body: '{"__proto__":{"x":1}}',
      });
      const body = await res.json() as Record<string, unknown>;
      assert.equal(res.status, 404, JSON.stringify(body));
      assert.deepEqual([body.success, body.code], [false, 'NOT_FOUND']);
    });
  });

  describe('switch cdr fields', () => {
    it('refuses hangup_cause given as a nested array', async () => {
      const res = await cdr({
        uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 0,
        disposition: 'NO ANSWER', hangup_cause: [[['16']]],
      });
      assertBadRequest(res, 'hangup_cause');
    });

    it('refuses a hangup_cause that is an object', async () => {
      const res = await cdr({
        uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 0,
        disposition: 'NO ANSWER', hangup_cause: { toString: 1 },
      });
      assertBadRequest(res, 'hangup_cause');
    });

    it('still takes a numeric hangup_cause, as Asterisk sends it', async () => {
      const res = await cdr({
        uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 0,
        disposition: 'NO ANSWER', hangup_cause: 16,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });

    for (const startTime of [1e308, 9007199254740993, -1, 1e12, '99999999999', Number.MAX_SAFE_INTEGER, 946684799, '4102444800', '2026-02-30 10:00:00', '10000-01-01T00:00:00Z', true, [1_700_000_000]]) {
      it(`refuses start_time ${JSON.stringify(startTime)}`, async () => {
        const res = await cdr({
          uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 0,
          disposition: 'NO ANSWER', start_time: startTime,
        });
        assertBadRequest(res, 'start_time');
      });
    }

    it('refuses an answered time past two days, which no authorized call reaches', async () => {
      const res = await cdr({
        uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 172_801, disposition: 'ANSWERED',
      });
      assertBadRequest(res, 'answered_seconds');
    });

    it('takes epoch seconds, local time and ISO 8601 within the accepted range', async () => {
      for (const startTime of [1_700_000_000, '1700000000', 1_700_000_000.25, '1700000000.123456', '2026-11-27 10:00:00', '2026-11-27T10:00:00+03:00']) {
        const res = await cdr({
          uniqueid: uid(), sip_login: client.sip.name, destination: '15551234567', answered_seconds: 0,
          disposition: 'NO ANSWER', start_time: startTime,
        });
        assert.equal(res.status, 200, `${startTime}: ${JSON.stringify(res.body)}`);
      }
    });
  });

  describe('money range', () => {
    it('refuses a refill of 10000000000 with 400 AMOUNT_OUT_OF_RANGE and changes nothing', async () => {
      for (const amount of [10000000000, '10000000000', '-10000000000', '1000000000', 1e15]) {
        const res = await t.call('admin', 'refill', { body: { login: client.login, amount } });
        assertBadRequest(res, 'amount', 'AMOUNT_OUT_OF_RANGE');
      }
      assert.equal(await balanceOf(client), '10.0000');
    });

    it('takes the largest amount, and refuses a credit that would carry a balance past it', async () => {
      const c = await createClient(t, plan.id);
      const first = await t.call('admin', 'refill', { body: { login: c.login, amount: '999999999.999999' } });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const second = await t.call('admin', 'refill', { body: { login: c.login, amount: '0.000001' } });
      assert.equal(second.status, 409, JSON.stringify(second.body));
      assert.equal(second.body.code, 'BALANCE_OUT_OF_RANGE');
      assert.equal(await balanceOf(c), '1000000000.0000');
      const me = await t.call('client', 'me', { key: c.key });
      assert.equal(me.status, 200, JSON.stringify(me.body));
    });

    it('refuses rates beyond the rate range instead of rounding them', async () => {
      for (const rate of [9999999999.999999, '9999999999.999999', '100000.000000', 1e10]) {
        const res = await t.call('admin', 'add-rates', { body: { plan_id: plan.id, rates: [{ prefix: '98', destination: 'Far', rate }] } });
        assertBadRequest(res, 'rates[0].rate', 'AMOUNT_OUT_OF_RANGE');
      }
      const connect = await t.call('admin', 'add-rates', {
        body: { plan_id: plan.id, rates: [{ prefix: '98', destination: 'Far', rate: 1, connect_charge: '100000' }] },
      });
      assertBadRequest(connect, 'rates[0].connect_charge', 'AMOUNT_OUT_OF_RANGE');
      const top = await t.call('admin', 'add-rates', { body: { plan_id: plan.id, rates: [{ prefix: '98', destination: 'Far', rate: '99999.999999', connect_charge: '99999.999999' }] } });
      assert.equal(top.status, 200, JSON.stringify(top.body));
    });

    it('refuses amounts out of range on every money field', async () => {
      const huge = '1000000000';
      assertBadRequest(await t.call('admin', 'create-plan', { body: { name: 'p', initial_credit: huge } }), 'initial_credit', 'AMOUNT_OUT_OF_RANGE');
      assertBadRequest(await t.call('admin', 'create-client', { body: { plan_id: plan.id, balance: huge } }), 'balance', 'AMOUNT_OUT_OF_RANGE');
      assertBadRequest(await t.call('admin', 'create-reseller', { body: { plan_id: plan.id, balance: huge } }), 'balance', 'AMOUNT_OUT_OF_RANGE');
      const markup = await t.call('admin', 'create-reseller', { body: { plan_id: plan.id, markup_percent: '10000000000' } });
      assertBadRequest(markup, 'markup_percent');
      assert.equal(markup.body.error, 'markup_percent: must be from 0 to 1000');
      const preview = await t.call('reseller', 'preview-agent-markup', { key: resellerKey, body: { markup_percent: 1e12 } });
      assert.equal(preview.body.error, 'markup_percent: must be from 0 to 1000');
      assertBadRequest(await t.call('admin', 'create-vouchers', { body: { value: huge } }), 'value', 'AMOUNT_OUT_OF_RANGE');
      assertBadRequest(await t.call('reseller', 'transfer', { key: resellerKey, body: { login: client.login, amount: 1e300 } }), 'amount');
      assertBadRequest(await t.call('reseller', 'transfer', { key: resellerKey, body: { login: client.login, amount: huge } }), 'amount', 'AMOUNT_OUT_OF_RANGE');
    });
  });
});
