// A client generated from the live `/docs` (openapi-typescript + openapi-fetch) type-checks
// against the described answers and talks to the real server: the description is usable.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

// The program a user would write with the generated types. `@ts-expect-error` lines prove the
// answers are typed (a Money4 balance is a string, not a number; a code is a known one).
const PROGRAM = `
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

export interface Keys { client: string; reseller: string; admin: string; clientLogin: string; resellerClientLogin: string }

export async function run(baseUrl: string, keys: Keys) {
  const api = createClient<paths>({ baseUrl });

  const me = await api.GET('/client-api/index.php/me', { headers: { 'X-API-Key': keys.client } });
  if (!me.data) throw new Error('me failed: ' + JSON.stringify(me.error));
  const balance: string = me.data.data.balance;
  const id: number = me.data.data.id;
  const planName: string | null = me.data.data.plan_name;
  // @ts-expect-error the Client API renders balances as strings
  const wrong: number = me.data.data.balance;
  void wrong;

  const clients = await api.GET('/reseller-api/index.php/clients', {
    params: { query: { limit: 10 } }, headers: { 'X-API-Key': keys.reseller },
  });
  if (!clients.data) throw new Error('clients failed: ' + JSON.stringify(clients.error));
  const total: number = clients.data.total;
  const resellerBalances: number[] = clients.data.clients.map((c) => c.balance);
  const active: boolean[] = clients.data.clients.map((c) => c.active);

  const refill = await api.POST('/admin-api/index.php/refill', {
    body: { login: keys.clientLogin, amount: '2.5', description: 'typed client' }, headers: { 'X-API-Key': keys.admin },
  });
  if (!refill.data) throw new Error('refill failed: ' + JSON.stringify(refill.error));
  const after: string = refill.data.balance;
  const postingId: number = refill.data.posting_id;

  const missing = await api.POST('/reseller-api/index.php/transfer', {
    body: { login: 'nobody-here', amount: 1 }, headers: { 'X-API-Key': keys.reseller },
  });
  if (!missing.error) throw new Error('transfer to an unknown client succeeded');
  const flag: false = missing.error.ok;
  const code: string = missing.error.code;
  // @ts-expect-error codes are an enum of the endpoint's known codes
  const unknownCode: typeof missing.error.code = 'NO_SUCH_CODE';
  void unknownCode;

  return {
    me: { id, balance, planName },
    clients: { total, resellerBalances, active },
    refill: { after, postingId },
    error: { status: missing.response.status, flag, code },
  };
}
`;

describe('a typed client generated from /docs', () => {
  let t: TestServer;
  let client: TestClient;
  let resellerKey: string;
  let resellerClientLogin: string;
  let dir: string;

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '10' });
    const reseller = await t.admin('create-reseller', { plan_id: plan.id, balance: '50' });
    resellerKey = reseller.api_key;
    const created = await t.call('reseller', 'create-client', { key: resellerKey, body: { plan_id: reseller.retail_plan.id } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    resellerClientLogin = created.body.client.login;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-typed-client-'));
    // The generated program resolves openapi-fetch from the project's own dependencies.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  });
  after(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates, type-checks and calls me, a reseller, an admin endpoint and an error case', async () => {
    const res = await fetch(`${t.url}/docs`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    fs.writeFileSync(path.join(dir, 'api.d.ts'), astToString(await openapiTS(doc)));
    fs.writeFileSync(path.join(dir, 'program.ts'), PROGRAM);

    const program = ts.createProgram([path.join(dir, 'program.ts')], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    });
    const problems = ts.getPreEmitDiagnostics(program)
      .map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(problems, [], 'the program type-checks against the generated types');

    const { run } = await import(path.join(dir, 'program.ts'));
    const out = await run(t.url, {
      client: client.key, reseller: resellerKey, admin: t.adminKey, clientLogin: client.login, resellerClientLogin,
    });
    assert.deepEqual(out.me, { id: client.id, balance: '10.0000', planName: out.me.planName });
    assert.equal(typeof out.me.planName, 'string');
    assert.equal(out.clients.total, 1);
    assert.deepEqual(out.clients.resellerBalances, [0]);
    assert.deepEqual(out.clients.active, [true]);
    assert.equal(out.refill.after, '12.5000');
    assert.equal(typeof out.refill.postingId, 'number');
    assert.deepEqual(out.error, { status: 404, flag: false, code: 'NOT_FOUND' });
  });
});
