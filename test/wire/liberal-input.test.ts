// CONTRACT §2: clients written in the habits of PHP and shell scripts just work. Parameters come
// from the query string, a JSON body whatever its Content-Type (or none), or a form/multipart
// body, body fields winning; reads may be POSTed; a write by GET is 405; an unknown path
// answers 404 in its family's envelope; logins may be JSON numbers.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

/** A request exactly as given: no header is added (fetch always adds a Content-Type to a string body). */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('liberal wire input', () => {
  let t: TestServer;
  let alice: TestClient;
  let reseller: { key: string; login: string; retailPlanId: number };
  let numericClient: string;
  const clientUrl = (endpoint: string, query = '') => `${t.url}/client-api/index.php?endpoint=${endpoint}${query}`;
  const callerIds = async () => (await t.call('client', 'callerids', { key: alice.key })).body.data.map((c: { cid: string }) => c.cid) as string[];

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    alice = await createClient(t, plan.id, { balance: '5' });
    const body = await t.admin('create-reseller', { plan_id: plan.id, balance: '10' });
    reseller = { key: body.api_key, login: body.reseller.login, retailPlanId: body.reseller.retail_plan_id };
    const created = await t.call('reseller', 'create-client', { key: reseller.key, body: { plan_id: reseller.retailPlanId, login: '1234567892' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    numericClient = created.body.client.login;
  });
  after(async () => t.close());

  it('a JSON body without any Content-Type is read (PHP CURLOPT_POSTFIELDS, raw sockets)', async () => {
    const res = await rawRequest(clientUrl('add-callerid'), 'POST', { 'X-API-Key': alice.key }, JSON.stringify({ cid: '+15550000001' }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((await callerIds()).includes('+15550000001'));
  });

  it('a JSON body labelled form-urlencoded (plain curl -d) or text/plain is read as JSON', async () => {
    for (const [type, cid] of [['application/x-www-form-urlencoded', '+15550000002'], ['text/plain', '+15550000003']]) {
      const res = await rawRequest(clientUrl('add-callerid'), 'POST', { 'X-API-Key': alice.key, 'Content-Type': type }, JSON.stringify({ cid }));
      assert.equal(res.status, 200, `${type}: ${JSON.stringify(res.body)}`);
      assert.ok((await callerIds()).includes(cid), type);
    }
  });

  it('form-urlencoded and multipart bodies are read as fields', async () => {
    const form = await rawRequest(clientUrl('add-callerid'), 'POST', { 'X-API-Key': alice.key, 'Content-Type': 'application/x-www-form-urlencoded' },
      new URLSearchParams({ cid: '+15550000004', name: 'Front desk' }).toString());
    assert.equal(form.status, 200, JSON.stringify(form.body));
    const multipart = new FormData();
    multipart.set('cid', '+15550000005');
    const res = await fetch(clientUrl('add-callerid'), { method: 'POST', headers: { 'X-API-Key': alice.key }, body: multipart });
    assert.equal(res.status, 200, await res.text());
    const cids = await callerIds();
    assert.ok(cids.includes('+15550000004') && cids.includes('+15550000005'), JSON.stringify(cids));
    // A file is not a parameter.
    const withFile = new FormData();
    withFile.set('cid', new Blob(['+15550000006']), 'cid.txt');
    const refused = await fetch(clientUrl('add-callerid'), { method: 'POST', headers: { 'X-API-Key': alice.key }, body: withFile });
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).field, 'cid');
  });

  it('parameters in the query string of a POST are used; body fields win over them', async () => {
    const fromQuery = await rawRequest(clientUrl('add-callerid', '&cid=%2B15550000007'), 'POST', { 'X-API-Key': alice.key });
    assert.equal(fromQuery.status, 200, JSON.stringify(fromQuery.body));
    assert.ok((await callerIds()).includes('+15550000007'));
    const both = await rawRequest(clientUrl('add-callerid', '&cid=%2B15550000008'), 'POST', { 'X-API-Key': alice.key, 'Content-Type': 'application/json' },
      JSON.stringify({ cid: '+15550000009' }));
    assert.equal(both.status, 200, JSON.stringify(both.body));
    const cids = await callerIds();
    assert.ok(cids.includes('+15550000009') && !cids.includes('+15550000008'), JSON.stringify(cids));
  });

  it('a read may be POSTed, with its parameters in the body; a write by GET answers 405 and changes nothing', async () => {
    const posted = await rawRequest(clientUrl('calls'), 'POST', { 'X-API-Key': alice.key }, JSON.stringify({ limit: 2 }));
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    assert.equal(posted.body.data.limit, 2);
    const before = await callerIds();
    const get = await rawRequest(clientUrl('add-callerid', '&cid=%2B15550000010'), 'GET', { 'X-API-Key': alice.key });
    assert.equal(get.status, 405);
    assert.equal(get.body.success, false);
    assert.deepEqual(await callerIds(), before);
  });

  it('a malformed body answers 400 INVALID_JSON naming body, in the family envelope', async () => {
    for (const [type, body] of [['application/json', '{"cid":'], ['', '{"cid":'], ['application/json', '[1,2]'], ['text/plain', 'hello']]) {
      const res = await rawRequest(clientUrl('add-callerid'), 'POST', { 'X-API-Key': alice.key, ...(type ? { 'Content-Type': type } : {}) }, body);
      assert.equal(res.status, 400, `${type} ${body}: ${JSON.stringify(res.body)}`);
      assert.deepEqual([res.body.success, res.body.code, res.body.field], [false, 'INVALID_JSON', 'body'], `${type} ${body}`);
    }
  });

  it('an unknown endpoint or path answers 404 in the envelope of its family', async () => {
    const cases: Array<[string, string]> = [
      ['/client-api/index.php?endpoint=nope', 'success'], ['/client-api/nope', 'success'], ['/sms-api/index.php?endpoint=nope', 'success'],
      ['/esim-api/index.php?endpoint=nope', 'success'], ['/esim-api', 'success'], ['/reseller-api/index.php?endpoint=nope', 'ok'],
      ['/reseller-api/other', 'ok'], ['/admin-api/index.php?endpoint=nope', 'success'],
    ];
    for (const [path, flag] of cases) {
      const res = await rawRequest(`${t.url}${path}`, 'GET', { 'X-API-Key': alice.key });
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body[flag], false, `${path}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.code, /^[A-Z][A-Z_]+$/, path);
    }
  });

  it('a limit above 500 is clamped to 500 on every list', async () => {
    const client = await t.call('client', 'calls', { key: alice.key, query: { limit: 1000 } });
    assert.equal(client.status, 200, JSON.stringify(client.body));
    assert.equal(client.body.data.limit, 500);
    const resellerList = await t.call('reseller', 'clients', { key: reseller.key, query: { limit: 1000 } });
    assert.equal(resellerList.body.limit, 500);
    const admin = await t.call('admin', 'accounts', { query: { limit: 100000 } });
    assert.equal(admin.body.limit, 500);
  });

  it('a login may be a JSON number wherever a login is taken', async () => {
    const login = Number(numericClient);
    const transfer = await t.call('reseller', 'transfer', { key: reseller.key, body: { login, amount: 1.5, external_id: 'wire-numeric-login' } });
    assert.equal(transfer.status, 200, JSON.stringify(transfer.body));
    const status = await t.call('reseller', 'set-client-status', { key: reseller.key, body: { login, active: true } });
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const dashboard = await t.call('reseller', 'client-dashboard', { key: reseller.key, method: 'POST', body: { login } });
    assert.equal(dashboard.status, 200, JSON.stringify(dashboard.body));
    assert.equal(dashboard.body.client.balance, 1.5);
    const refill = await t.call('admin', 'refill', { body: { login: Number(alice.login), amount: '0.5' } });
    assert.equal(refill.status, 200, JSON.stringify(refill.body));
    // A SIP login too: the client's additional SIP account, named by its digits.
    const created = await t.call('client', 'create-sip', { key: alice.key, body: {} });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const sipName = Number(created.body.data.name);
    const changed = await t.call('client', 'update-sip-password', { key: alice.key, body: { name: sipName, password: 'Numeric12345x' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const deleted = await t.call('client', 'delete-sip', { key: alice.key, body: { name: sipName } });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  });
});
