// `/docs` comes from the definitions that validate the requests and serialize the answers:
// typed answers, every status with its codes, the path form of each endpoint, and a request
// the input schema refuses answers 400 naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type as T } from '@sinclair/typebox';
import { APIS } from '../../src/http/app.js';
import type { ApiDefinition } from '../../src/http/endpoint.js';
import { compileApi } from '../../src/http/schema-runtime.js';
import { AppError } from '../../src/errors.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

type Json = Record<string, any>;

describe('/docs', () => {
  let t: TestServer;
  let doc: Json;
  let client: TestClient;
  let planId: number;

  const resolve = (node: Json): Json => {
    if (typeof node?.$ref !== 'string') return node;
    const [, section, name] = /^#\/components\/(\w+)\/(.+)$/.exec(node.$ref)!;
    return doc.components[section][name];
  };
  const op = (path: string, method: string): Json => {
    const o = doc.paths[path]?.[method];
    assert.ok(o, `${method.toUpperCase()} ${path} is described`);
    return o;
  };
  const answerSchema = (path: string, method: string): Json => resolve(op(path, method).responses['200'].content['application/json'].schema);
  const codesOf = (path: string, method: string, status: number): string[] => {
    const response = resolve(op(path, method).responses[String(status)]);
    assert.ok(response, `${path} lists ${status}`);
    return response.content['application/json'].schema.properties.code.enum;
  };

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    planId = plan.id;
    client = await createClient(t, plan.id, { balance: '3' });
    doc = await (await fetch(`${t.url}/docs`)).json();
  });
  after(async () => t?.close());

  it('types every success answer: named fields, no open objects', () => {
    let operations = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      if (!path.includes('-api/')) continue;
      for (const [method, o] of Object.entries(item as Record<string, Json>)) {
        operations++;
        const schema = resolve(o.responses['200'].content['application/json'].schema);
        const fields = Object.keys(schema.properties ?? {});
        assert.ok(fields.length >= 2, `${method} ${path}: the answer has fields beyond the flag`);
        assert.ok(!JSON.stringify(schema).includes('"additionalProperties":true'), `${method} ${path}: no open object`);
      }
    }
    // Reads are described for GET and POST (a read may be POSTed, CONTRACT §2); writes for POST.
    const expected = APIS.flatMap((a) => a.endpoints.map((e) => (e.method === 'POST' ? 1 : 2))).reduce((x, y) => x + y, 0);
    assert.equal(operations, expected, 'every endpoint of every family is described');
    const me = answerSchema('/client-api/index.php/me', 'get');
    assert.deepEqual(Object.keys(me.properties.data.properties), ['id', 'username', 'balance', 'active', 'id_plan', 'plan_name']);
    assert.equal(me.properties.data.properties.balance.type, 'string');
    assert.equal(answerSchema('/reseller-api/index.php/me', 'get').properties.reseller.properties.balance.type, 'number');
  });

  it('lists every status an endpoint can answer with its codes, 402 and 429 included', () => {
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      if (!path.includes('-api/')) continue;
      for (const [method, o] of Object.entries(item as Record<string, Json>)) {
        for (const status of ['400', '401', '403', '404', '405', '413', '500', '503']) {
          assert.ok(o.responses[status], `${method} ${path} lists ${status}`);
        }
        if (method === 'post') assert.ok(o.responses['409'], `${path}: a write lists 409`);
      }
    }
    assert.deepEqual(codesOf('/admin-api/index.php/refill', 'post', 402), ['INSUFFICIENT_BALANCE']);
    for (const [path, method] of [
      ['/client-api/index.php/change-password', 'post'], ['/client-api/index.php/redeem-voucher', 'post'],
      ['/reseller-api/index.php/client-auth', 'post'], ['/reseller-api/index.php/agent-auth', 'post'],
      ['/reseller-api/index.php/client-change-password', 'post'],
    ]) {
      assert.deepEqual(codesOf(path, method, 429), ['RATE_LIMITED'], path);
    }
    assert.ok(codesOf('/client-api/index.php/redeem-voucher', 'post', 409).includes('VOUCHER_USED'));
    assert.ok(codesOf('/client-api/index.php/change-plan', 'post', 403).includes('ACCOUNT_INACTIVE'));
    assert.ok(codesOf('/reseller-api/index.php/client', 'get', 404).includes('NOT_FOUND'));
    assert.ok(codesOf('/switch-api/index.php/cdr', 'post', 400).includes('VALIDATION_ERROR'));
  });

  it('the error answers the server gives are the documented ones (status and code)', async () => {
    const seen: Array<[string, string, { status: number; body: Json }]> = [];
    const record = (family: string, name: string, method: string, res: { status: number; body: Json }) =>
      seen.push([`/${family}-api/index.php/${name}`, method, res]);
    record('client', 'me', 'get', await t.call('client', 'me', { key: null }));
    record('client', 'me', 'get', await t.call('client', 'me', { key: t.adminKey }));
    record('client', 'add-callerid', 'post', await t.call('client', 'add-callerid', { key: client.key, method: 'GET' }));
    record('client', 'delete-callerid', 'post', await t.call('client', 'delete-callerid', { key: client.key, body: { id: 999999 } }));
    record('admin', 'refill', 'post', await t.call('admin', 'refill', { key: t.adminKey, body: { login: client.login, amount: '-1000' } }));
    const { vouchers } = await t.admin('create-vouchers', { value: '1' });
    assert.equal((await t.call('client', 'redeem-voucher', { key: client.key, body: { voucher: vouchers[0] } })).status, 200);
    record('client', 'redeem-voucher', 'post', await t.call('client', 'redeem-voucher', { key: client.key, body: { voucher: vouchers[0] } }));
    for (let i = 0; i < 12; i++) {
      const res = await t.call('client', 'change-password', { key: client.key, body: { current_password: `wrong-${i}`, new_password: 'NewPassw0rd' } });
      record('client', 'change-password', 'post', res);
      if (res.status === 429) break;
    }
    const statuses = new Set(seen.map(([, , res]) => res.status));
    for (const status of [401, 402, 403, 404, 405, 409, 429]) assert.ok(statuses.has(status), `the scenario produced a ${status}`);
    for (const [path, method, res] of seen) {
      assert.ok(res.status >= 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.ok(codesOf(path, method, res.status).includes(res.body.code), `${path} documents ${res.status} ${res.body.code}`);
    }
  });

  it('describes each endpoint under its path form too, and the server answers it like the query form', async () => {
    assert.equal(op('/client-api/index.php/me', 'get')['x-query-form'], '/client-api/index.php?endpoint=me', 'the original document\'s form is named');
    assert.ok(Object.keys(doc.paths).every((p) => !p.includes('?')), 'no query string in a path: the document validates');
    const byPath = await fetch(`${t.url}/client-api/index.php/me`, { headers: { 'X-API-Key': client.key } });
    const byQuery = await t.call('client', 'me', { key: client.key });
    assert.equal(byPath.status, 200);
    assert.deepEqual(await byPath.json(), byQuery.body);
    const write = await fetch(`${t.url}/client-api/index.php/add-callerid`, {
      method: 'POST', headers: { 'X-API-Key': client.key, 'Content-Type': 'application/json' }, body: JSON.stringify({ cid: '+15550001111' }),
    });
    assert.equal(write.status, 200);
    assert.equal((await write.json()).data.cid, '+15550001111');
    const unknown = await fetch(`${t.url}/reseller-api/index.php/no-such-thing`, { headers: { 'X-API-Key': client.key } });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), { ok: false, error: 'Unknown endpoint "no-such-thing"', code: 'UNKNOWN_ENDPOINT' });
  });

  it('answers carry exactly the documented fields', async () => {
    const checks: Array<[string, Json, (body: Json) => Json]> = [
      ['/client-api/index.php/me', (await t.call('client', 'me', { key: client.key })).body, (b) => b.data],
      ['/client-api/index.php/balance', (await t.call('client', 'balance', { key: client.key })).body, (b) => b.data],
      ['/client-api/index.php/sip', (await t.call('client', 'sip', { key: client.key })).body, (b) => b.data[0]],
      ['/admin-api/index.php/account', (await t.call('admin', 'account', { key: t.adminKey, query: { login: client.login } })).body, (b) => b.account],
    ];
    for (const [path, body, pick] of checks) {
      const schema = answerSchema(path, 'get');
      assert.deepEqual(Object.keys(body).sort(), Object.keys(schema.properties).sort(), `${path}: envelope`);
      const inner = pick(body);
      const innerSchema = ((s: Json) => {
        const first = Object.values(schema.properties).find((p: any) => p.type === 'object' || p.type === 'array') as Json;
        return first.type === 'array' ? first.items : first;
      })(schema);
      assert.deepEqual(Object.keys(inner).sort(), Object.keys(innerSchema.properties).sort(), `${path}: fields`);
    }
  });

  it('validates requests with the documented input schema: a refusal is a 400 naming the field', async () => {
    // The service used to read any unknown flag word as false and add the Caller ID anyway.
    const res = await t.call('client', 'add-callerid', { key: client.key, body: { cid: '+15550002222', set_active: 'yes' } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VALIDATION_ERROR');
    assert.equal(res.body.field, 'set_active');
    assert.match(res.body.error, /^set_active: must be true or false/);
    const list = await t.call('client', 'callerids', { key: client.key });
    assert.ok(!list.body.data.some((c: { cid: string }) => c.cid === '+15550002222'), 'nothing was added');

    const nested = await t.call('admin', 'add-rates', { key: t.adminKey, body: { plan_id: planId, rates: [{ prefix: '1', destination: 'US', rate: { x: 1 } }] } });
    assert.equal(nested.status, 400);
    assert.equal(nested.body.field, 'rates[0].rate');
    const missing = await t.call('admin', 'refill', { key: t.adminKey, body: { amount: '1' } });
    assert.equal(missing.status, 400);
    assert.deepEqual([missing.body.code, missing.body.field, missing.body.error], ['VALIDATION_ERROR', 'login', 'login: is required']);
    // What the services accept stays accepted: digits as numbers, amounts as strings, flags as "1".
    const numeric = await t.call('admin', 'add-rates', {
      key: t.adminKey, body: { plan_id: String(planId), rates: [{ prefix: 39, destination: 'Italy', rate: '0.05', initblock: '6', billingblock: 6 }] },
    });
    assert.equal(numeric.status, 200, JSON.stringify(numeric.body));
    const flags = await t.call('client', 'sip', { key: client.key, query: { include_service: '1' } });
    assert.equal(flags.status, 200);
  });
});

describe('the answer serializer', () => {
  const api: ApiDefinition = {
    name: 'client', basePath: '/x', title: 'X', flag: 'success',
    endpoints: [{
      name: 'thing', method: 'GET', roles: ['client'], summary: 'A thing',
      output: T.Object({ data: T.Object({ id: T.Integer(), note: T.Union([T.String(), T.Null()]) }) }),
      errors: { 404: ['NOT_FOUND'] },
      handler: async () => ({}),
    }],
  };

  it('sends only declared fields, so nothing a handler adds by mistake leaks', () => {
    const serialize = compileApi(api, false).get('thing')!.serialize;
    const text = serialize({ success: true, data: { id: 7, note: null, api_key_hash: 'secret' }, password: 'p' });
    assert.deepEqual(JSON.parse(text), { success: true, data: { id: 7, note: null } });
  });

  it('under the tests, an answer that does not match its schema fails loudly', () => {
    const serialize = compileApi(api, true).get('thing')!.serialize;
    assert.throws(() => serialize({ success: true, data: { id: 7, note: null, extra: 1 } }), /thing: the answer does not match its output schema: \/data\/extra/);
    assert.throws(() => serialize({ success: true, data: { id: '7', note: null } }), /\/data\/id/);
  });

  it('under the tests, an error /docs does not list for the endpoint fails loudly', () => {
    const { checkError } = compileApi(api, true).get('thing')!;
    const declared = new AppError(404, 'NOT_FOUND', 'Thing not found');
    assert.equal(checkError(declared, 'GET'), declared);
    const field = new AppError(400, 'SOME_FIELD_CODE', 'x: is odd', 'x');
    assert.equal(checkError(field, 'GET'), field, 'a 400 names its field; any code');
    const undeclared = checkError(new AppError(409, 'SURPRISE', 'Surprise'), 'GET');
    assert.deepEqual([undeclared.status, undeclared.code], [500, 'UNDOCUMENTED_ERROR']);
    assert.match(undeclared.message, /thing answered 409 SURPRISE/);
    assert.equal(checkError(new AppError(402, 'INSUFFICIENT_BALANCE', 'Insufficient balance'), 'GET').status, 500);
    const loose = compileApi(api, false).get('thing')!.checkError(new AppError(409, 'SURPRISE', 'Surprise'), 'GET');
    assert.equal(loose.status, 409, 'outside the tests the answer is left alone');
    const overloaded = new AppError(503, 'SOMETHING_TRANSIENT', 'Retry');
    assert.equal(checkError(overloaded, 'POST'), overloaded, 'a listed 5xx status passes whatever its code');
    const undescribed = compileApi({ ...api, endpoints: [{ ...api.endpoints[0], output: undefined }] }, true).get('thing')!;
    assert.equal(undescribed.checkError(new AppError(409, 'SURPRISE', 'Surprise'), 'GET').status, 409, 'an endpoint without schemas yet is not checked');
  });
});
