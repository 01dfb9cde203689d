// The eSIM API's catalog over HTTP (the built-in simulator upstream): packages searched by
// name, country and region at the price the caller pays (the operator's margin, and a
// reseller's markup for its clients), coverage with operators and network types, and balance,
// with a client key and a reseller key; the original document's examples as written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simulatorCatalog } from '../../src/esim/upstream/simulator.js';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('eSIM API: catalog, coverage, balance', () => {
  let t: TestServer;
  let client: TestClient;
  let reseller: { key: string; login: string };
  let resellerClientKey: string;
  const upstreamMicros = (code: string) => BigInt(simulatorCatalog().find((p) => p.packageCode === code)!.price) * 100n;
  const esim = (key: string, endpoint: string, query?: Record<string, string | number>, body?: Record<string, unknown>) =>
    t.call('esim', endpoint, { key, ...(query ? { query } : {}), ...(body ? { body } : {}) });

  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '40' });
    const r = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    reseller = { key: r.api_key, login: r.reseller.login };
    const created = await t.call('reseller', 'create-client', { key: r.api_key, body: { plan_id: r.reseller.retail_plan_id } });
    resellerClientKey = created.body.api_key;
  });
  after(async () => { await t?.close(); });

  it('packages: the document\'s example (q=Europe, limit=5) lists Europe\'s packages at the margin', async () => {
    const res = await esim(client.key, 'packages', { q: 'Europe', limit: 5 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.limit, 5);
    assert.equal(res.body.packages.length, 5);
    assert.ok(res.body.total >= 6);
    assert.ok(res.body.packages.every((p: any) => /Europe/.test(p.name)), JSON.stringify(res.body.packages.map((p: any) => p.name)));
    const eu = (await esim(client.key, 'packages', { q: 'europe 5gb', limit: 20 })).body.packages.find((p: any) => p.package_code === 'EU-5GB-30D');
    // 25% over the upstream's price until the operator sets a margin, shown with 4 decimals.
    assert.equal(eu.price, formatMoney(applyMarkup(upstreamMicros('EU-5GB-30D'), 25_000_000n), 4));
    assert.equal(eu.data_gb, 5);
    assert.equal(eu.duration_days, 30);
    assert.ok(eu.countries.includes('DE'));
  });

  it('q finds a country by name or ISO code, and a region; the rest pages with offset', async () => {
    const byCode = await esim(client.key, 'packages', { q: 'DE', limit: 100 });
    const byName = await esim(client.key, 'packages', { q: 'germany', limit: 100 });
    assert.deepEqual(byCode.body.packages.map((p: any) => p.package_code).sort(), byName.body.packages.map((p: any) => p.package_code).sort());
    assert.ok(byName.body.packages.some((p: any) => p.package_code === 'DE-1GB-7D'));
    assert.ok(byName.body.packages.some((p: any) => p.package_code === 'GL-1GB-7D'), 'a global package covers Germany too');
    const all = await esim(client.key, 'packages', { limit: 10 });
    const next = await esim(client.key, 'packages', { limit: 10, offset: 10 });
    assert.equal(next.body.offset, 10);
    assert.equal(new Set([...all.body.packages, ...next.body.packages].map((p: any) => p.package_code)).size, 20);
    assert.equal((await esim(client.key, 'packages', { q: 'atlantis' })).body.total, 0);
    assert.equal((await esim(client.key, 'packages', { q: '%' })).body.total, 0, 'a wildcard is a character like any other');
  });

  it('prices: a margin per package or for all; a reseller\'s client pays the reseller\'s markup on top; the reseller the operator\'s price', async () => {
    await t.admin('set-esim-margin', { margin_percent: '10' });
    await t.admin('set-esim-margin', { package_code: 'P2CYMUS93', margin_percent: '50' });
    const find = async (key: string, q: string, code: string) => (await esim(key, 'packages', { q, limit: 100 })).body.packages.find((p: any) => p.package_code === code);
    const de = upstreamMicros('DE-1GB-7D');
    assert.equal((await find(client.key, 'germany', 'DE-1GB-7D')).price, formatMoney(applyMarkup(de, 10_000_000n), 4));
    const us = upstreamMicros('P2CYMUS93');
    assert.equal((await find(client.key, 'united states', 'P2CYMUS93')).price, formatMoney(applyMarkup(us, 50_000_000n), 4));
    assert.equal((await find(reseller.key, 'united states', 'P2CYMUS93')).price, formatMoney(applyMarkup(us, 50_000_000n), 4));
    assert.equal((await find(resellerClientKey, 'united states', 'P2CYMUS93')).price,
      formatMoney(applyMarkup(applyMarkup(us, 50_000_000n), 20_000_000n), 4));
    const bad = await t.call('admin', 'set-esim-margin', { body: { margin_percent: '-5' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /margin_percent/);
  });

  it('coverage lists the countries with their operators and network types; an unknown package answers 404', async () => {
    const res = await esim(reseller.key, 'coverage', { package_code: 'P2CYMUS93' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.countries, [{
      code: 'US', name: 'United States', operators: [{ name: 'T-Mobile', network_type: '5G' }, { name: 'AT&T', network_type: '5G' }],
    }]);
    const eu = await esim(client.key, 'coverage', { package_code: 'EU-1GB-7D' });
    assert.equal(eu.body.countries.length, 6);
    const missing = await esim(client.key, 'coverage', { package_code: 'NOPE' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'NOT_FOUND');
  });

  it('balance: the client\'s with a client key, the reseller\'s own with a reseller key', async () => {
    const c = await esim(client.key, 'balance');
    assert.deepEqual(c.body, { success: true, login: client.login, balance: '40.0000', available: '40.0000' });
    const r = await esim(reseller.key, 'balance');
    assert.deepEqual([r.body.login, r.body.balance], [reseller.login, '100.0000']);
  });
});
