// The API request pipeline (src/http/pipeline/), step by step, on a probe API family served by
// the real application (buildApp) over the real database: the order of the checks, the audit
// row of a write that committed part of its work, durability before the answer, replays,
// errors of Fastify's own and metrics labels. The real APIs' suites are the main proof; these
// pin what is awkward to reach through them.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Type as T } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Ctx } from '../../src/context.js';
import { inTx } from '../../src/db/tx.js';
import { AppError } from '../../src/errors.js';
import { buildApp } from '../../src/http/app.js';
import type { ApiDefinition, Endpoint } from '../../src/http/endpoint.js';
import { idempotencyKeyOf } from '../../src/http/pipeline/idempotency.js';
import { registry } from '../../src/metrics.js';
import { createClient, createPlan, startTestServer, type TestServer } from '../helpers/server.js';

const BASE = '/probe-api';
const PROBE = 'probe' as ApiDefinition['name'];

describe('http: the request pipeline', () => {
  let t: TestServer;
  let app: FastifyInstance;
  let clientKey: string;
  let adminId: number;
  const handled: string[] = [];
  const events: string[] = [];
  let holdDurable: Promise<void> | null = null;
  const logLines: any[] = [];

  const endpoint = (e: Partial<Endpoint> & Pick<Endpoint, 'name' | 'method' | 'handler'>): Endpoint => ({
    roles: ['admin'], summary: e.name, ...e,
  });
  const probe: ApiDefinition = {
    // A family of its own, so its metrics and audit rows are told apart from the real ones'.
    name: PROBE, basePath: BASE, title: 'Probe API', flag: 'ok',
    endpoints: [
      endpoint({
        name: 'probe-read', method: 'GET', roles: ['admin', 'client'],
        handler: async (_ctx, actor, input) => { handled.push('probe-read'); return { role: actor.role, echo: input.echo ?? null }; },
      }),
      endpoint({
        name: 'probe-write', method: 'POST',
        input: T.Object({ count: T.Integer(), note: T.Optional(T.String()), external_id: T.Optional(T.String()) }),
        idempotencyField: 'external_id',
        handler: async () => { handled.push('probe-write'); events.push('handler'); return { handled: handled.length }; },
      }),
      endpoint({
        name: 'probe-partial', method: 'POST',
        // Commits a first transaction (its audit row joins it), then fails: a multi-step service.
        handler: async (ctx) => {
          await inTx(ctx.db, async (trx) => { await trx.selectFrom('accounts').select('id').limit(1).execute(); });
          throw new AppError(409, 'PROBE_LATE_FAILURE', 'failed after its first commit');
        },
      }),
      endpoint({
        name: 'probe-crash', method: 'POST',
        handler: async () => { throw new Error('probe: not an AppError'); },
      }),
    ],
  };

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    clientKey = (await createClient(t, plan.id)).key;
    adminId = Number((await t.server.ctx.db.selectFrom('accounts').select('id').where('role', '=', 'admin').executeTakeFirstOrThrow()).id);
    const log = pino({ level: 'error' }, new Writable({ write(chunk, _enc, cb) { logLines.push(JSON.parse(String(chunk))); cb(); } }));
    const ctx: Ctx = {
      ...t.server.ctx,
      log,
      durable: async () => { events.push('durable'); if (holdDurable) await holdDurable; },
    };
    app = buildApp(ctx, { apis: [probe] });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  const call = (opts: { method?: string; endpoint?: string; key?: string | null; body?: unknown; headers?: Record<string, string>; url?: string }) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key !== null) headers['x-api-key'] = opts.key ?? t.adminKey;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const url = opts.url ?? `${BASE}/index.php${opts.endpoint === undefined ? '' : `?endpoint=${opts.endpoint}`}`;
    return app.inject({ method: (opts.method ?? (opts.body !== undefined ? 'POST' : 'GET')) as 'GET', url, headers, payload: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  };
  const auditRows = async (endpointName: string) => t.server.ctx.db.selectFrom('audit_log')
    .select(['api', 'status_code', 'error_code', 'actor_id']).where('endpoint', '=', endpointName).orderBy('id').execute();

  it('answers the first failing check, in order: 404, 405, 401, 403, input guard, schema; the handler never runs', async () => {
    const before = handled.length;
    const nul = { count: 'x', note: 'a\u0000b' };
    const unknown = await call({ method: 'PUT', endpoint: 'nope', key: null, body: nul });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(unknown.json(), { ok: false, error: 'Unknown endpoint "nope"', code: 'UNKNOWN_ENDPOINT' });
    assert.equal((await call({ endpoint: '' })).json().code, 'UNKNOWN_ENDPOINT');

    const wrongMethod = await call({ method: 'GET', endpoint: 'probe-write', key: null });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    assert.equal(wrongMethod.json().code, 'METHOD_NOT_ALLOWED');
    const putRead = await call({ method: 'PUT', endpoint: 'probe-read', key: null });
    assert.equal(putRead.statusCode, 405);
    assert.equal(putRead.headers.allow, 'GET, POST');

    const noKey = await call({ endpoint: 'probe-write', key: null, body: nul });
    assert.deepEqual([noKey.statusCode, noKey.json().code, noKey.json().error], [401, 'UNAUTHORIZED', 'Missing X-API-Key header']);
    const badKey = await call({ endpoint: 'probe-write', key: 'no-such-key', body: nul });
    assert.deepEqual([badKey.statusCode, badKey.json().error], [401, 'Unknown API key']);

    const wrongRole = await call({ endpoint: 'probe-write', key: clientKey, body: nul });
    assert.deepEqual([wrongRole.statusCode, wrongRole.json().code], [403, 'FORBIDDEN']);
    assert.equal(wrongRole.json().error, `This API key may not use ${PROBE}-api probe-write`);

    const guarded = await call({ endpoint: 'probe-write', body: nul });
    assert.deepEqual([guarded.statusCode, guarded.json().code, guarded.json().field], [400, 'INVALID_CHARACTERS', 'note']);
    const invalid = await call({ endpoint: 'probe-write', body: { count: 'x' } });
    assert.deepEqual([invalid.statusCode, invalid.json().code, invalid.json().field], [400, 'VALIDATION_ERROR', 'count']);
    assert.equal(handled.length, before);
  });

  it('serves reads by GET, HEAD, POST and the path form, with the caller resolved and no audit row', async () => {
    const read = await call({ endpoint: 'probe-read', key: clientKey, url: `${BASE}/index.php?endpoint=probe-read&echo=hi` });
    assert.deepEqual(read.json(), { ok: true, role: 'client', echo: 'hi' });
    assert.equal(read.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal((await call({ method: 'HEAD', endpoint: 'probe-read' })).statusCode, 200);
    assert.deepEqual((await call({ endpoint: 'probe-read', body: { echo: 'posted' } })).json(), { ok: true, role: 'admin', echo: 'posted' });
    assert.deepEqual((await call({ url: `${BASE}/index.php/probe-read?echo=path` })).json(), { ok: true, role: 'admin', echo: 'path' });
    assert.equal((await call({ url: `${BASE}?endpoint=probe-read` })).statusCode, 200);
    assert.equal((await auditRows('probe-read')).length, 0);
  });

  it('answers a write only once it is durable', async () => {
    events.length = 0;
    let release!: () => void;
    holdDurable = new Promise((resolve) => { release = resolve; });
    let answered = false;
    const pending = call({ endpoint: 'probe-write', body: { count: 1 } }).then((res) => { answered = true; return res; });
    while (!events.includes('durable')) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(answered, false, 'no answer while the write is not on disk');
    release();
    holdDurable = null;
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.deepEqual(events, ['handler', 'durable']);
    events.length = 0;
    await call({ endpoint: 'probe-read', body: {} });
    assert.deepEqual(events, [], 'a read waits for no disk');
  });

  it('replays a write by its idempotency field or header, audits each request once, and refuses other parameters', async () => {
    const before = handled.length;
    const rowsBefore = (await auditRows('probe-write')).length;
    const first = await call({ endpoint: 'probe-write', body: { count: 2, external_id: 'probe-1' } });
    const again = await call({ endpoint: 'probe-write', body: { count: 2, external_id: 'probe-1' } });
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    const byHeader = { endpoint: 'probe-write', body: { count: 3 }, headers: { 'idempotency-key': 'probe-h' } };
    await call(byHeader);
    assert.equal((await call(byHeader)).headers['idempotent-replayed'], 'true');
    assert.equal(handled.length, before + 2);
    const mismatch = await call({ endpoint: 'probe-write', body: { count: 9, external_id: 'probe-1' } });
    assert.deepEqual([mismatch.statusCode, mismatch.json().code], [409, 'IDEMPOTENCY_MISMATCH']);
    const rows = (await auditRows('probe-write')).slice(rowsBefore);
    assert.deepEqual(rows.map((r) => [r.api, r.status_code, r.error_code, Number(r.actor_id)]), [
      [PROBE, 200, null, adminId], [PROBE, 200, null, adminId], [PROBE, 200, null, adminId], [PROBE, 200, null, adminId],
      [PROBE, 409, 'IDEMPOTENCY_MISMATCH', adminId],
    ]);
  });

  it('takes the key from the endpoint\'s field before the header, and only a non-empty one', () => {
    const e = probe.endpoints[1];
    assert.equal(idempotencyKeyOf(e, { external_id: 'x1' }, 'h1'), 'x1');
    assert.equal(idempotencyKeyOf(e, { external_id: 42 }, undefined), '42');
    assert.equal(idempotencyKeyOf(e, { external_id: '' }, 'h1'), 'header:h1');
    assert.equal(idempotencyKeyOf(e, { external_id: null }, ''), undefined);
    assert.equal(idempotencyKeyOf(probe.endpoints[0], { external_id: 'x1' }, undefined), undefined);
  });

  it('audits refusals after the rollback, a write that failed after its first commit in that commit\'s row, and not an unknown endpoint or 405', async () => {
    const partial = await call({ endpoint: 'probe-partial', body: {} });
    assert.deepEqual([partial.statusCode, partial.json().code], [409, 'PROBE_LATE_FAILURE']);
    assert.deepEqual((await auditRows('probe-partial')).map((r) => [r.status_code, r.error_code]), [[409, 'PROBE_LATE_FAILURE']]);
    await call({ method: 'GET', endpoint: 'probe-partial' });
    await call({ endpoint: 'probe-unknown', body: {} });
    assert.equal((await auditRows('probe-partial')).length, 1);
    assert.equal((await auditRows('probe-unknown')).length, 0);
    await call({ endpoint: 'probe-write', key: 'no-such-key', body: {} });
    const refused = (await auditRows('probe-write')).at(-1)!;
    assert.deepEqual([refused.status_code, refused.error_code, refused.actor_id], [401, 'UNAUTHORIZED', null]);
  });

  it('answers an unexpected error 500 in the family\'s envelope and logs it with its API and endpoint', async () => {
    const res = await call({ endpoint: 'probe-crash', body: {} });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { ok: false, error: 'Internal error; the request was not applied', code: 'INTERNAL_ERROR' });
    const line = logLines.find((l) => l.msg === 'request failed' && l.endpoint === 'probe-crash');
    assert.ok(line, 'logged');
    assert.equal(line.api, PROBE);
    assert.match(line.err.message, /not an AppError/);
    assert.deepEqual((await auditRows('probe-crash')).map((r) => [r.status_code, r.error_code]), [[500, 'INTERNAL_ERROR']]);
  });

  it('answers Fastify\'s own refusals in the family\'s envelope too', async () => {
    const res = await app.inject({
      method: 'POST', url: `${BASE}/index.php?endpoint=probe-write`, headers: { 'x-api-key': t.adminKey, 'content-type': 'application/json' },
      payload: 'x'.repeat(t.config.httpBodyLimitBytes + 1),
    });
    assert.equal(res.statusCode, 413);
    assert.deepEqual(res.json(), { ok: false, error: 'body: larger than this server accepts; send it in smaller parts', code: 'BODY_TOO_LARGE', field: 'body' });
  });

  it('counts requests by API, endpoint (unknown for a name the family lacks) and status', async () => {
    const count = async (endpointName: string, status: number) => {
      const metric = (await registry.getSingleMetric('ledgerline_http_requests_total')!.get()).values
        .find((v) => v.labels.api === PROBE && v.labels.endpoint === endpointName && v.labels.status === String(status));
      return metric?.value ?? 0;
    };
    const [reads, unknowns, refusals] = [await count('probe-read', 200), await count('unknown', 404), await count('probe-write', 405)];
    await call({ endpoint: 'probe-read' });
    await call({ endpoint: 'no-such-endpoint' });
    await call({ method: 'GET', endpoint: 'probe-write' });
    assert.equal(await count('probe-read', 200), reads + 1);
    assert.equal(await count('unknown', 404), unknowns + 1);
    assert.equal(await count('probe-write', 405), refusals + 1);
    assert.equal(await count('no-such-endpoint', 404), 0, 'a name from the request is never a label');
  });
});
