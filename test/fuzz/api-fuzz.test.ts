// Fuzzes every endpoint of every API family (enumerated from APIS, so a new endpoint is fuzzed
// without touching this file) with malformed input, under keys of every role. Whatever a caller
// sends, the answer is below 500, and every error is the family's envelope with a code.
//
// Seeded and bounded: FUZZ_RUNS requests (default 1000), FUZZ_SEED (default fixed). A longer
// local run: FUZZ_RUNS=20000 node --import tsx --test test/fuzz/api-fuzz.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { APIS } from '../../src/http/app.js';
import type { ApiDefinition, Endpoint } from '../../src/http/endpoint.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const CODE_RE = /^[A-Z][A-Z0-9_]*$/;
const MAX_QUERY_CHARS = 12_000;

/** JSON text inserted as is: numbers no double holds, nesting deeper than any stack. */
class Raw {
  constructor(readonly text: string) {}
  /** How a counterexample prints it: long text abbreviated. */
  [fc.toStringMethod]() {
    return this.text.length <= 80 ? `raw(${this.text})` : `raw(${this.text.slice(0, 40)}…${this.text.length} chars…${this.text.slice(-20)})`;
  }
}
type Value = null | boolean | number | string | Raw | Value[] | { [key: string]: Value };

/** JSON text of a generated value (its own nesting is shallow; deep nesting lives in Raw). */
function toJson(v: Value): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** A value as query-string text (lists become repeated parameters). */
function toQueryValues(v: Value): string[] {
  if (Array.isArray(v)) return v.slice(0, 5).flatMap((x) => (Array.isArray(x) ? [toJson(x)] : toQueryValues(x)));
  if (v instanceof Raw) return [v.text];
  if (v !== null && typeof v === 'object') return [toJson(v)];
  return [v === null ? '' : String(v)];
}

const deep = (depth: number, open: string, close: string, inner = '1') => new Raw(open.repeat(depth) + inner + close.repeat(depth));

/** Malformed scalars: wrong types, huge and NaN-ish numbers, NUL bytes, odd unicode, long text. */
const weirdScalar: fc.Arbitrary<Value> = fc.constantFrom<Value>(
  null, true, false, 0, -0, -1, 1, 1.5, 0.1, 1e308, -1e308, 1e21, 1e-7, 5e-324, 9007199254740991,
  'NaN', 'Infinity', '-Infinity', 'nan', '1e309', '-1e309', '0x10', '0b1', '1_000', '', ' ', '  \t\n',
  '\u0000', 'a\u0000b', '%00', '\ud800', '\udfff', '\ufeff1', '\u202e1', '𝟙𝟚𝟛', '١٢٣', 'Ⅻ', 'é', 'e\u0301', '💥',
  "' OR 1=1 --", '"; drop table accounts; --', '../../etc/passwd', '__proto__', 'constructor', 'toString', '[object Object]',
  '999999999.999999', '999999999.9999999', '1000000000', '-999999999.999999', '-1000000000', '99999.999999', '100000',
  '9999999999.999999', '0.0000001', '1.', '.5', '+1', '-0', '00', '01', '1e3', ' 42 ', '42abc',
  '2026-11-27 10:00:00', '2026-13-45 25:61:61', '0000-01-01 00:00:00', '2026-11-27T10:00:00+99:99', '1700000000', '99999999999999999999',
  '+447575396991', '00447575396991', '+1 (555) 123-4567', '+', '00', '203.0.113.7', '10.0.0.1', '255.255.255.255', '::1', '1.2.3.4.5',
  'ANSWERED', 'answered', 'NO ANSWER', 'paid', 'PAID', 'success', 'true', 'false', 'yes', '1', '0', '-1',
);

/** Raw JSON literals that JSON.stringify cannot produce. */
const rawLiteral: fc.Arbitrary<Value> = fc.oneof(
  fc.constantFrom(
    new Raw('1e400'), new Raw('-1e400'), new Raw('123456789012345678901234567890'), new Raw('9007199254740993'),
    new Raw('9999999999.999999'), new Raw('0.10000000000000001'), new Raw('-0.0'), new Raw('1E+2'), new Raw('"\\u0000"'),
    new Raw('"\\ud800"'), new Raw('"\\udc00\\ud800"'), deep(40, '[', ']'), deep(33, '{"a":', '}'),
  ),
  fc.constantFrom(5000, 20000).map((d) => deep(d, '[', ']')),
  fc.constantFrom(5000).map((d) => deep(d, '{"k":', '}')),
);

function valueArbitrary(known: Value[]): fc.Arbitrary<Value> {
  const scalar: fc.Arbitrary<Value> = fc.oneof(
    { weight: 4, arbitrary: weirdScalar },
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: rawLiteral },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom(300, 5000, 70_000).map((n) => new Raw(JSON.stringify('x'.repeat(n)))) },
    { weight: 2, arbitrary: fc.double() },
    { weight: 2, arbitrary: fc.integer({ min: -2_000_000, max: 2_000_000 }) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => new Raw(String(n))) },
  );
  return fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 6, arbitrary: scalar },
      { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom('a', 'login', 'amount', '__proto__', '0'), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 4 }) },
    ),
  })).value;
}

type Pools = { logins: Value[]; sipNames: Value[]; planIds: Value[]; vouchers: Value[]; passwords: Value[] };

/**
 * A value a real caller might send for a field of this name, so that requests get past
 * validation into the services (and their edge cases: the largest amount, one past it, ...).
 */
function plausibleFor(field: string, pools: Pools, itemFieldsOf: string[] | undefined, fallback: fc.Arbitrary<Value>): fc.Arbitrary<Value> {
  const one = (...values: Value[]) => fc.constantFrom<Value>(...values);
  if (itemFieldsOf) {
    const item = fc.record(Object.fromEntries(itemFieldsOf.map((f) => [f, plausibleFor(f, pools, undefined, fallback)])), { requiredKeys: [] });
    return fc.array(item, { minLength: 1, maxLength: 3 }) as fc.Arbitrary<Value>;
  }
  if (/login$/.test(field) && field !== 'sip_login') return one(...pools.logins);
  if (field === 'sip_login' || (field === 'name' && pools.sipNames.length > 0)) return fc.oneof(one(...pools.sipNames), fallback);
  if (/^(amount|value|balance|initial_credit|rate|connect_charge)$/.test(field)) {
    return one('1', 1, '0.5', 0.01, '0.000001', '999999999.999999', '1000000000', 10000000000, '99999.999999', '100000', -1, '-5', 0, '1e3', '0.0000001');
  }
  if (field === 'markup_percent') return one(0, 20, '12.5', 1000, 1001, -1);
  if (/plan_id$|^id_plan$/.test(field)) return one(...pools.planIds);
  if (/password$/.test(field)) return one(...pools.passwords);
  if (/^(destination|phone|cid)$/.test(field)) return one('+447575396991', '15551234567', '0044 20 7946 0000', '+1', '12');
  if (field === 'prefix') return one('9', '98', '44', '1234567890123456', '');
  if (field === 'uniqueid') return fc.oneof(one('fuzz-uid-1', 'fuzz-uid-2'), fc.integer({ min: 1, max: 1e6 }).map((n) => `fuzz-${n}`));
  if (field === 'start_time') return one('2026-11-27 10:00:00', 1_700_000_000, '1700000000.5', 1e308, '2026-02-30 10:00:00');
  if (field === 'answered_seconds') return one(0, 61, 3600, 172_800, 172_801, -1, '61');
  if (field === 'disposition') return one('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'CONGESTION', 'answered', 'HUNG');
  if (field === 'hangup_cause') return one(16, '16', 'NORMAL_CLEARING', [[16]]);
  if (/^(active|signup|selectable|set_active|include_service)$/.test(field)) return one(true, true, true, 1, '1', false, 0, 'no'); // mostly true: accounts stay usable
  if (/external_id|provider_txid/.test(field)) return fc.oneof(one('fuzz-ext-1', 'fuzz-ext-2'), fc.integer({ min: 1, max: 1e6 }).map(String));
  if (field === 'status') return one('paid', 'pending', 'failed', 'success', 'PAID');
  if (field === 'currency') return one('USD', 'EUR', 'usd', 'XXXX');
  if (field === 'provider') return one('plisio', 'heleket', 'cryptosms', 'other');
  if (/ip$/.test(field)) return one('203.0.113.7', '198.51.100.1', '10.0.0.1', '127.0.0.1', '999.1.1.1');
  if (/port$/.test(field)) return one(5060, 1, 65535, 0, 65536);
  if (field === 'voucher') return one(...pools.vouchers);
  if (field === 'limit' || field === 'offset') return one(1, 500, 501, 0, -1, '10');
  if (field === 'count') return one(1, 2, 0, 10_001);
  if (/^(id|campaign_id|scheduled_sms_id|order_id)$/.test(field)) return one(1, 2, 3, '1', 999_999);
  if (field === 'email') return one('a@example.com', 'not-an-email');
  if (field === 'language') return one('en', 'de', 'xx');
  if (field === 'role') return one('client', 'reseller', 'admin', 'switch', 'root');
  return fallback;
}

/** Field names an endpoint declares (its TypeBox input), and those of the items of its lists. */
function declaredFields(e: Endpoint): string[] {
  const props = (e.input as { properties?: Record<string, { items?: { properties?: Record<string, unknown> } }> } | undefined)?.properties ?? {};
  return Object.keys(props);
}
function itemFields(e: Endpoint): Record<string, string[]> {
  const props = (e.input as { properties?: Record<string, { items?: { properties?: Record<string, unknown> } }> } | undefined)?.properties ?? {};
  const out: Record<string, string[]> = {};
  for (const [k, p] of Object.entries(props)) if (p.items?.properties) out[k] = Object.keys(p.items.properties);
  return out;
}

type Role = 'admin' | 'reseller' | 'client' | 'switch';
/** An endpoint to aim at (or an unknown name); prints as `client:me` in a counterexample. */
class Target {
  constructor(readonly api: ApiDefinition, readonly endpoint: Endpoint | null, readonly name: string) {}
  [fc.toStringMethod]() { return `${this.api.name}:${JSON.stringify(this.name)}`; }
}
type BodyKind = 'json' | 'raw-json' | 'malformed' | 'form' | 'multipart' | 'text' | 'none';

interface FuzzRequest {
  target: Target;
  method: string;
  path: string;
  key: { kind: 'role'; role: Role } | { kind: 'none' } | { kind: 'unknown'; text: string };
  idempotencyKey: string | null;
  fields: Record<string, Value>;
  bodyKind: BodyKind;
  malformed: string;
  extraQuery: Record<string, Value>;
}

describe('fuzz: every endpoint of every API answers malformed input below 500, in its envelope', () => {
  let t: TestServer;
  const keys = {} as Record<Role, string>;
  const known: Value[] = [];
  const pools = { logins: [] as Value[], sipNames: [] as Value[], planIds: [] as Value[], vouchers: [] as Value[], passwords: [] as Value[] };

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    const client: TestClient = await createClient(t, plan.id, { balance: '50' });
    const reseller = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    const retailPlanId = reseller.reseller.retail_plan_id;
    const rc = await t.call('reseller', 'create-client', { key: reseller.api_key, body: { plan_id: retailPlanId } });
    assert.equal(rc.status, 200, JSON.stringify(rc.body));
    const vouchers = (await t.admin('create-vouchers', { value: '1', count: 3 })).vouchers as string[];
    keys.admin = t.adminKey;
    keys.client = client.key;
    keys.reseller = reseller.api_key;
    keys.switch = (await t.admin('create-switch-key', { name: 'fuzz-switch' })).api_key;
    const rcLogin = rc.body.client?.login ?? rc.body.login;
    pools.logins.push(client.login, rcLogin, reseller.reseller.login, 'nobody-here');
    pools.sipNames.push(client.sip.name, `${client.login}02`, 'nobody-here');
    pools.planIds.push(plan.id, retailPlanId, String(plan.id), 999_999);
    pools.vouchers.push(...vouchers, '0000000000');
    pools.passwords.push(client.password, 'Passw0rdFuzz', 'short');
    known.push(
      client.login, client.sip.name, rcLogin, reseller.reseller.login, plan.id, String(plan.id), retailPlanId, 1, 2,
      ...vouchers, client.password, 'Passw0rdFuzz', '+447575396991', '15551234567', '203.0.113.7', 5060,
      'ANSWERED', 'NO ANSWER', 'paid', 'pending', '10', '0.5', 10, 20, 'USD', 'cryptosms', 'fuzz-uid-1', 'fuzz-ext-1', 'en', 'de',
    );
  });
  after(async () => t?.close());

  it(`${RUNS} seeded requests (FUZZ_SEED=${SEED}) get no 5xx`, { timeout: Math.max(120_000, RUNS * 200) }, async (tc) => {
    const targets = APIS.flatMap((api) => api.endpoints.map((endpoint) => new Target(api, endpoint, endpoint.name)));
    const unknownTargets = APIS.flatMap((api) => ['', 'nope', 'ME', 'me ', '../admin', '\u00e9', 'x'.repeat(300)].map((name) => new Target(api, null, name)));
    const value = valueArbitrary(known);
    const roles: Role[] = ['admin', 'reseller', 'client', 'switch'];

    const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
      { weight: 30, arbitrary: fc.constantFrom(...targets) },
      { weight: 1, arbitrary: fc.constantFrom(...unknownTargets) },
    ).chain((target) => {
      const declared = target.endpoint ? declaredFields(target.endpoint) : [];
      const items = target.endpoint ? itemFields(target.endpoint) : {};
      const names = fc.oneof(
        { weight: declared.length > 0 ? 6 : 0, arbitrary: declared.length > 0 ? fc.constantFrom(...declared) : fc.constant('x') },
        { weight: 1, arbitrary: fc.constantFrom('endpoint', 'login', 'amount', 'id', 'limit', 'offset', '__proto__', 'a\u0000b', '') },
        { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
      );
      // Either every declared field with a plausible value (a few left out or made weird), or
      // a random bag of names and malformed values.
      const absent = Symbol('absent');
      const plausibleRecord = fc.tuple(...declared.map((f) => fc.oneof(
        { weight: 8, arbitrary: plausibleFor(f, pools, items[f], value) as fc.Arbitrary<Value | typeof absent> },
        { weight: 1, arbitrary: value as fc.Arbitrary<Value | typeof absent> },
        { weight: 1, arbitrary: fc.constant(absent) },
      ))).map((values) => Object.fromEntries(declared.flatMap((f, i) => (values[i] === absent ? [] : [[f, values[i] as Value]]))));
      const fields = fc.oneof(
        { weight: declared.length > 0 ? 3 : 0, arbitrary: plausibleRecord },
        { weight: 2, arbitrary: fc.dictionary(names, value, { maxKeys: 7 }) },
      );
      const method = target.endpoint
        ? fc.oneof(
          { weight: 8, arbitrary: fc.constant(target.endpoint.method === 'BOTH' ? 'POST' : target.endpoint.method) },
          { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
        )
        : fc.constantFrom(...METHODS);
      const allowed = target.endpoint?.roles ?? roles;
      const key = fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom(...allowed).map((role) => ({ kind: 'role' as const, role })) },
        { weight: 2, arbitrary: fc.constantFrom(...roles).map((role) => ({ kind: 'role' as const, role })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 80 }).filter((s) => /^[\x21-\x7e]+$/.test(s)).map((text) => ({ kind: 'unknown' as const, text })) },
      );
      return fc.record({
        target: fc.constant(target),
        method,
        path: fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom(`${target.api.basePath}/index.php`, `${target.api.basePath}/`, target.api.basePath) },
          { weight: 1, arbitrary: fc.constantFrom(`${target.api.basePath}/index.php/x`, `${target.api.basePath}/nope`, `${target.api.basePath}//index.php`) },
        ),
        key,
        idempotencyKey: fc.option(fc.oneof(
          fc.constantFrom('fuzz-1', 'fuzz-2', 'x'.repeat(201), ' '),
          fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }).filter((s) => /^[\x20-\x7e]+$/.test(s)),
        ), { freq: 3 }),
        fields,
        bodyKind: fc.constantFrom<BodyKind>('json', 'json', 'json', 'json', 'json', 'json', 'raw-json', 'malformed', 'form', 'multipart', 'text', 'none'),
        malformed: fc.oneof(
          fc.constantFrom('{', '{"a":', '{"a":1}}', '[]', '[1,2]', '"text"', '123', 'null', 'true', 'nul', '\ufeff{}', '{a:1}', "{'a':1}",
            '{"a":1,}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\u0000', '{"a":"\u0000"}', ''),
          fc.string({ maxLength: 30 }),
        ),
        extraQuery: fc.dictionary(names, value, { maxKeys: 2 }),
      });
    });

    const send = async (r: FuzzRequest) => {
      const params = new URLSearchParams();
      // An empty name stands for a request without ?endpoint= at all.
      if (r.target.name !== '') params.set('endpoint', r.target.name);
      const readsQuery = r.method === 'GET' || r.method === 'HEAD' || r.bodyKind === 'none';
      const queryFields = readsQuery ? { ...r.extraQuery, ...r.fields } : r.extraQuery;
      for (const [k, v] of Object.entries(queryFields)) for (const text of toQueryValues(v)) params.append(k, text);
      // Node refuses request heads over 16 KB (431) before any route runs: keep the URL below that.
      if (params.toString().length > MAX_QUERY_CHARS) {
        for (const k of Object.keys(queryFields)) params.delete(k);
        if (r.target.name !== '') params.set('endpoint', r.target.name);
      }
      const headers: Record<string, string> = {};
      if (r.key.kind === 'role') headers['X-API-Key'] = keys[r.key.role];
      else if (r.key.kind === 'unknown') headers['X-API-Key'] = r.key.text;
      if (r.idempotencyKey !== null) headers['Idempotency-Key'] = r.idempotencyKey;
      let body: string | undefined;
      const bodyAllowed = r.method !== 'GET' && r.method !== 'HEAD';
      if (bodyAllowed && r.bodyKind !== 'none') {
        const json = toJson(r.fields);
        switch (r.bodyKind) {
          case 'json': body = json; headers['Content-Type'] = 'application/json'; break;
          case 'raw-json': body = json; headers['Content-Type'] = 'application/json; charset=utf-8'; break;
          case 'malformed': body = r.malformed; headers['Content-Type'] = 'application/json'; break;
          case 'form': {
            const form = new URLSearchParams();
            for (const [k, v] of Object.entries(r.fields)) for (const text of toQueryValues(v)) form.append(k, text);
            body = form.toString();
            headers['Content-Type'] = 'application/x-www-form-urlencoded';
            break;
          }
          case 'multipart':
            body = `--b\r\nContent-Disposition: form-data; name="login"\r\n\r\n${r.malformed}\r\n--b--\r\n`;
            headers['Content-Type'] = 'multipart/form-data; boundary=b';
            break;
          case 'text': body = json; headers['Content-Type'] = 'text/plain'; break;
        }
      }
      const res = await fetch(`${t.url}${r.path}?${params}`, { method: r.method, headers, body });
      const text = await res.text();
      return { status: res.status, text };
    };

    const statuses = new Map<number, number>();
    const codes = new Map<string, number>();
    await fc.assert(fc.asyncProperty(request, async (r) => {
      const { status, text } = await send(r);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const where = `${r.method} ${r.path}?endpoint=${r.target.name} (${r.target.api.name}) ${r.bodyKind}`;
      assert.ok(status < 500, `${where}: ${status} ${text.slice(0, 300)}`);
      if (r.method === 'HEAD') return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        assert.fail(`${where}: ${status} answered no JSON: ${text.slice(0, 200)}`);
      }
      const flag = r.target.api.flag;
      if (status >= 400) {
        assert.equal(body[flag], false, `${where}: ${status} not in the ${r.target.api.name} envelope: ${text.slice(0, 300)}`);
        assert.equal(typeof body.error, 'string', `${where}: no error sentence: ${text.slice(0, 300)}`);
        assert.ok((body.error as string).length > 0, where);
        assert.match(String(body.code), CODE_RE, `${where}: ${text.slice(0, 300)}`);
        codes.set(String(body.code), (codes.get(String(body.code)) ?? 0) + 1);
      } else {
        assert.equal(body[flag], true, `${where}: ${status} ${text.slice(0, 300)}`);
      }
    }), { numRuns: RUNS, seed: SEED, endOnFailure: process.env.FUZZ_SHRINK !== '1', includeErrorInReport: true });
    tc.diagnostic(`statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    tc.diagnostic(`error codes ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => b[1] - a[1])))}`);
    // The run reached past the guards: some requests succeeded, some were refused as invalid.
    assert.ok((statuses.get(200) ?? 0) > RUNS / 50, `too few successes: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > RUNS / 10, `too few 400s: ${JSON.stringify([...statuses])}`);
  });
});
