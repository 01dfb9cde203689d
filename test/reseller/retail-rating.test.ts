// Retail prices computed when rating: a reseller's client pays its wholesale plan's row times
// the reseller's markup (half-up to a micro-unit) unless the retail plan has a row of its own
// for the prefix (an override, set by the admin with add-rates on the retail plan); the longest
// prefix wins across both tables, an override beats a wholesale row of the same prefix. The
// reseller pays the wholesale row. Nothing of the wholesale deck is copied into retail plans.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, divRoundHalfUp, formatMoney } from '../../src/money.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Price { rate: bigint; connect: bigint }
interface Reseller { id: number; login: string; key: string; retailPlanId: number }
interface Client { login: string; sip: string }

/** connect + rate × 60 s / 60 of a row with 1 s blocks, half-up (CONTRACT §4). */
const costOf = (p: Price, seconds: number) => p.connect + divRoundHalfUp(p.rate * BigInt(seconds), 60n);
const markedUp = (p: Price, microPercent: bigint): Price => ({ rate: applyMarkup(p.rate, microPercent), connect: applyMarkup(p.connect, microPercent) });
const text = (micros: bigint) => formatMoney(micros, 6);

describe('retail prices computed when rating', () => {
  let t: TestServer;
  let switchKey: string;
  let wholesaleId: number;

  // Prices whose markup needs rounding: at +12.5%, 0.123457 → 0.138889125 → 0.138889 and
  // 0.050001 → 0.056251125 → 0.056251.
  const GERMANY: Price = { rate: 123_457n, connect: 50_001n };
  const GERMANY_MOBILE: Price = { rate: 200_003n, connect: 0n };
  const FRANCE: Price = { rate: 33_333n, connect: 7n };
  const rateRow = (prefix: string, destination: string, p: Price) =>
    ({ prefix, destination, rate: text(p.rate), connect_charge: text(p.connect), initblock: 1, billingblock: 1 });

  const resellerCall = (r: Reseller, endpoint: string, body?: unknown, query?: Record<string, string | number>) =>
    t.call('reseller', endpoint, { key: r.key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) });

  async function newReseller(markupPercent: string): Promise<Reseller> {
    const body = await t.admin('create-reseller', { plan_id: wholesaleId, markup_percent: markupPercent, balance: '1000' });
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id };
  }

  async function newClient(r: Reseller): Promise<Client> {
    const created = await resellerCall(r, 'create-client', { plan_id: r.retailPlanId });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const login = created.body.client.login as string;
    assert.equal((await resellerCall(r, 'transfer', { login, amount: '500' })).status, 200);
    return { login, sip: created.body.sip.name };
  }

  const balanceOf = async (login: string) => BigInt((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);

  const authorize = async (c: Client, destination: string) => {
    const uniqueid = `rr-${crypto.randomBytes(6).toString('hex')}`;
    const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid, sip_login: c.sip, destination } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    return { uniqueid, destination, rate: a.body.rate as { prefix: string; destination: string } };
  };
  const cdr = async (c: Client, call: { uniqueid: string; destination: string }, seconds: number) => {
    const res = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: call.uniqueid, sip_login: c.sip, destination: call.destination, answered_seconds: seconds, disposition: 'ANSWERED' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  /** One answered call: what the client and its reseller were charged, and the row it was rated at. */
  async function talk(r: Reseller, c: Client, destination: string, seconds: number) {
    const [client0, reseller0] = [await balanceOf(c.login), await balanceOf(r.login)];
    const call = await authorize(c, destination);
    await cdr(c, call, seconds);
    return { client: client0 - await balanceOf(c.login), reseller: reseller0 - await balanceOf(r.login), rate: call.rate };
  }

  before(async () => {
    t = await startTestServer();
    switchKey = (await t.admin('create-switch-key', { name: 'retail-rating' })).api_key;
    wholesaleId = (await t.admin('create-plan', { name: 'WHOLESALE-RR' })).plan.id;
    await t.admin('add-rates', {
      plan_id: wholesaleId,
      rates: [rateRow('49', 'Germany', GERMANY), rateRow('4915', 'Germany Mobile', GERMANY_MOBILE), rateRow('33', 'France', FRANCE)],
    });
  });
  after(async () => t.close());

  it('create-reseller writes no rate rows', async () => {
    const rowsBefore = await t.server.ctx.db.selectFrom('rates').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const created = await t.admin('create-reseller', { plan_id: wholesaleId });
    assert.equal(created.retail_plan.rates, 0);
    const rowsAfter = await t.server.ctx.db.selectFrom('rates').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(rowsAfter.n), Number(rowsBefore.n));
    // Its clients are still offered every wholesale row, at +20%.
    const r: Reseller = { id: created.reseller.id, login: created.reseller.login, key: created.api_key, retailPlanId: created.reseller.retail_plan_id };
    assert.equal((await resellerCall(r, 'agent-markup')).body.retail_plan.agent_rates, 3);
    assert.equal((await resellerCall(r, 'plans')).body.plans[0].agent_rates, 3);
  });

  it('the client pays the wholesale row times the markup, half-up; the reseller the wholesale row', async () => {
    const r = await newReseller('12.5');
    const c = await newClient(r);
    for (const seconds of [60, 7, 1]) {
      const paid = await talk(r, c, '+49301234567', seconds);
      assert.deepEqual(paid.rate, { prefix: '49', destination: 'Germany' });
      assert.equal(paid.client, costOf({ rate: 138_889n, connect: 56_251n }, seconds), `${seconds} s at retail`);
      assert.equal(paid.client, costOf(markedUp(GERMANY, 12_500_000n), seconds));
      assert.equal(paid.reseller, costOf(GERMANY, seconds), `${seconds} s at wholesale`);
    }
  });

  it('an override beats the wholesale row of the same prefix, and survives markup changes and wholesale changes', async () => {
    const r = await newReseller('20');
    const c = await newClient(r);
    const own: Price = { rate: 99_999n, connect: 1n };
    const set = await t.admin('add-rates', { plan_id: r.retailPlanId, rates: [rateRow('33', 'France (own price)', own)] });
    assert.equal(set.upserted, 1);
    let paid = await talk(r, c, '33123456789', 60);
    assert.deepEqual(paid.rate, { prefix: '33', destination: 'France (own price)' });
    assert.equal(paid.client, costOf(own, 60));
    assert.equal(paid.reseller, costOf(FRANCE, 60), 'the reseller still pays wholesale');

    assert.equal((await resellerCall(r, 'set-agent-markup', { markup_percent: 80 })).body.changed, true);
    await t.admin('add-rates', { plan_id: wholesaleId, rates: [rateRow('33', 'France', { rate: 40_000n, connect: 0n })] });
    paid = await talk(r, c, '33123456789', 60);
    assert.equal(paid.client, costOf(own, 60), 'the override keeps its price');
    assert.equal(paid.reseller, costOf({ rate: 40_000n, connect: 0n }, 60));
    await t.admin('add-rates', { plan_id: wholesaleId, rates: [rateRow('33', 'France', FRANCE)] });
  });

  it('the longest prefix wins across the two tables', async () => {
    const r = await newReseller('10');
    const c = await newClient(r);
    // A shorter override (4) under wholesale 49 and 4915; a longer one (49301) under wholesale 49.
    const short: Price = { rate: 1_000n, connect: 0n };
    const long: Price = { rate: 2_000n, connect: 0n };
    await t.admin('add-rates', { plan_id: r.retailPlanId, rates: [rateRow('4', 'Europe (own)', short), rateRow('49301', 'Berlin (own)', long)] });

    let paid = await talk(r, c, '4915112345678', 60);
    assert.deepEqual(paid.rate, { prefix: '4915', destination: 'Germany Mobile' }, 'a longer wholesale prefix beats a shorter override');
    assert.equal(paid.client, costOf(markedUp(GERMANY_MOBILE, 10_000_000n), 60));
    paid = await talk(r, c, '4930112345', 60);
    assert.deepEqual(paid.rate, { prefix: '49301', destination: 'Berlin (own)' }, 'a longer override beats a shorter wholesale prefix');
    assert.equal(paid.client, costOf(long, 60));
    assert.equal(paid.reseller, costOf(GERMANY, 60));
    // A number only the override covers: the reseller has no wholesale price to pay, so the
    // call is refused, as when no row matches at all.
    const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: `rr-${crypto.randomBytes(4).toString('hex')}`, sip_login: c.sip, destination: '4412345' } });
    assert.equal(a.body.allowed, false);
    assert.equal(a.body.reason, 'NO_RATE');
  });

  it('set-agent-markup reprices the next call at once, not one already authorized', async () => {
    const r = await newReseller('20');
    const c = await newClient(r);
    const inFlight = await authorize(c, '+4930111');
    assert.equal((await resellerCall(r, 'set-agent-markup', { markup_percent: '33.333333' })).body.changed, true);
    const client0 = await balanceOf(c.login);
    await cdr(c, inFlight, 60);
    assert.equal(client0 - await balanceOf(c.login), costOf(markedUp(GERMANY, 20_000_000n), 60), 'charged at the markup it was authorized at');
    const next = await talk(r, c, '+4930111', 60);
    assert.equal(next.client, costOf(markedUp(GERMANY, 33_333_333n), 60));
  });

  it('a wholesale add-rates reaches reseller clients at once', async () => {
    const r = await newReseller('50');
    const c = await newClient(r);
    const none = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: `rr-${crypto.randomBytes(4).toString('hex')}`, sip_login: c.sip, destination: '3912345' } });
    assert.equal(none.body.allowed, false);
    assert.equal(none.body.reason, 'NO_RATE');
    const italy: Price = { rate: 30_001n, connect: 3n };
    const added = await t.admin('add-rates', { plan_id: wholesaleId, rates: [rateRow('39', 'Italy', italy)] });
    assert.equal(added.retail_plans_updated, 0);
    const paid = await talk(r, c, '3912345', 60);
    assert.deepEqual(paid.rate, { prefix: '39', destination: 'Italy' });
    assert.equal(paid.client, costOf(markedUp(italy, 50_000_000n), 60));
    assert.equal(paid.reseller, costOf(italy, 60));
  });

  it('client-rates and preview-agent-markup show the prices rating charges, overrides included', async () => {
    const r = await newReseller('12.5');
    const c = await newClient(r);
    const own: Price = { rate: 77_777n, connect: 0n };
    await t.admin('add-rates', { plan_id: r.retailPlanId, rates: [rateRow('4930', 'Berlin (own)', own), rateRow('49', 'Germany (own)', own)] });
    const listed = await resellerCall(r, 'client-rates', undefined, { login: c.login, limit: 100 });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const wholesale = (await t.server.ctx.db.selectFrom('rates').select('prefix').where('plan_id', '=', wholesaleId).execute()).map((x) => x.prefix);
    const prefixes = [...new Set([...wholesale, '4930'])].sort();
    assert.deepEqual(listed.body.rates.map((x: { prefix: string }) => x.prefix), prefixes);
    assert.equal(listed.body.total, prefixes.length);
    assert.equal((await resellerCall(r, 'agent-markup')).body.retail_plan.agent_rates, prefixes.length);
    // Every listed price is what a call to that prefix is charged.
    for (const row of listed.body.rates as Array<{ prefix: string; destination: string; rate: number; connect_charge: number }>) {
      const paid = await talk(r, c, `${row.prefix}99`, 60);
      assert.deepEqual(paid.rate, { prefix: row.prefix, destination: row.destination });
      const price: Price = { rate: BigInt(Math.round(row.rate * 1e6)), connect: BigInt(Math.round(row.connect_charge * 1e6)) };
      assert.equal(paid.client, costOf(price, 60), `${row.prefix}: listed ${row.rate} + ${row.connect_charge}`);
    }
    const paged = await resellerCall(r, 'client-rates', undefined, { login: c.login, limit: 2, offset: 1 });
    assert.deepEqual(paged.body.rates.map((x: { prefix: string }) => x.prefix), prefixes.slice(1, 3));

    const preview = await resellerCall(r, 'preview-agent-markup', { markup_percent: 50, limit: 100 });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    const de = preview.body.rates.find((x: { prefix: string }) => x.prefix === '49');
    assert.deepEqual([de.current_rate, de.new_rate, de.override], [0.077777, 0.077777, true], 'an override stays at any markup');
    const mobile = preview.body.rates.find((x: { prefix: string }) => x.prefix === '4915');
    assert.deepEqual([mobile.current_rate, mobile.new_rate, mobile.override], [
      Number(text(applyMarkup(GERMANY_MOBILE.rate, 12_500_000n))), Number(text(applyMarkup(GERMANY_MOBILE.rate, 50_000_000n))), false,
    ]);
  });
});
