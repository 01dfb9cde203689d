import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { applyMarkup, formatMoney } from '../../src/money.js';
import { createPlan, startTestServer, type TestServer } from '../helpers/server.js';

interface Reseller { id: number; login: string; key: string; retailPlanId: number; clientLogin: string }

const uid = () => `call-${crypto.randomBytes(6).toString('hex')}`;
const micro = (percent: string) => BigInt(Math.round(Number(percent) * 1e6));

describe('reseller api: markup', () => {
  let t: TestServer;
  let wholesale: { id: number };
  let switchKey: string;

  async function newReseller(extra: Record<string, unknown> = {}): Promise<Reseller> {
    const body = await t.admin('create-reseller', { plan_id: wholesale.id, ...extra });
    const client = await t.call('reseller', 'create-client', { key: body.api_key, body: { plan_id: body.reseller.retail_plan_id } });
    assert.equal(client.status, 200, JSON.stringify(client.body));
    return { id: body.reseller.id, login: body.reseller.login, key: body.api_key, retailPlanId: body.reseller.retail_plan_id, clientLogin: client.body.client.login };
  }
  const call = (r: Reseller, endpoint: string, body?: unknown, query?: Record<string, string | number>) =>
    t.call('reseller', endpoint, { key: r.key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) });

  async function ratesOf(planId: number) {
    const rows = await t.server.ctx.db.selectFrom('rates').selectAll().where('plan_id', '=', planId).orderBy('prefix').execute();
    return new Map(rows.map((r) => [r.prefix, r]));
  }

  /**
   * Every retail price a client of the reseller is shown (client-rates) equals its wholesale row
   * times (1 + markup/100), half-up to 6 decimals; the retail plan itself stores none of them.
   */
  async function assertRetail(r: Reseller, markupMicroPercent: bigint) {
    assert.equal((await ratesOf(r.retailPlanId)).size, 0, 'no wholesale row is copied into the retail plan');
    const w = await ratesOf(wholesale.id);
    const res = await call(r, 'client-rates', undefined, { login: r.clientLogin, limit: 500 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.total, w.size);
    const shown = new Map<string, any>(res.body.rates.map((x: { prefix: string }) => [x.prefix, x]));
    assert.deepEqual([...shown.keys()], [...w.keys()]);
    const price = (micros: number | string) => Number(formatMoney(applyMarkup(BigInt(micros), markupMicroPercent), 6));
    for (const [prefix, row] of w) {
      const retail = shown.get(prefix)!;
      assert.equal(retail.rate, price(row.rate_micros), `rate of ${prefix}`);
      assert.equal(retail.connect_charge, price(row.connect_charge_micros), `connect charge of ${prefix}`);
      assert.equal(retail.destination, row.destination);
      assert.deepEqual([retail.initblock, retail.billingblock, retail.minimal_time], [row.initblock, row.billingblock, row.minimal_time]);
    }
  }

  before(async () => {
    t = await startTestServer();
    wholesale = await createPlan(t);
    // Rows whose markup needs rounding.
    await t.admin('add-rates', {
      plan_id: wholesale.id,
      rates: [
        { prefix: '49', destination: 'Germany', rate: '0.123457', connect_charge: '0.050001' },
        { prefix: '33', destination: 'France', rate: '0.000001', connect_charge: '0.000003' },
        { prefix: '7', destination: 'Russia', rate: '12345.678901', minimal_time: 3 },
      ],
    });
    switchKey = (await t.admin('create-switch-key', { name: 'markup-switch' })).api_key;
  });
  after(async () => t.close());

  it('agent-markup: the current markup and the retail plan', async () => {
    const r = await newReseller();
    const res = await call(r, 'agent-markup');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { ok: true, markup_percent: 20, retail_plan: { id: r.retailPlanId, name: `${r.login}-RETAIL`, agent_rates: 6 } });
    await assertRetail(r, 20_000_000n);
    const custom = await newReseller({ markup_percent: '12.5' });
    assert.equal((await call(custom, 'agent-markup')).body.markup_percent, 12.5);
    await assertRetail(custom, 12_500_000n);
  });

  it('preview-agent-markup: sample prices at the new markup, nothing changed', async () => {
    const r = await newReseller();
    const before = await ratesOf(r.retailPlanId);
    const res = await call(r, 'preview-agent-markup', { markup_percent: 50 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.markup_percent, 50);
    assert.equal(res.body.current_markup_percent, 20);
    assert.equal(res.body.changed, true);
    assert.deepEqual(res.body.retail_plan, { id: r.retailPlanId, name: `${r.login}-RETAIL`, agent_rates: 6 });
    assert.deepEqual(res.body.rates.map((x: { prefix: string }) => x.prefix), ['1', '33', '44', '447', '49', '7']);
    assert.deepEqual(res.body.rates[0], {
      prefix: '1', destination: 'USA', wholesale_rate: 0.012, current_rate: 0.0144, new_rate: 0.018,
      wholesale_connect_charge: 0, current_connect_charge: 0, new_connect_charge: 0, override: false,
    });
    const de = res.body.rates.find((x: { prefix: string }) => x.prefix === '49');
    // 0.123457 * 1.5 = 0.1851855 → 0.185186; 0.050001 * 1.5 = 0.0750015 → 0.075002
    assert.equal(de.new_rate, 0.185186);
    assert.equal(de.new_connect_charge, 0.075002);
    assert.equal(de.current_rate, 0.148148); // 0.1481484 → 0.148148
    const limited = await call(r, 'preview-agent-markup', { markup_percent: '33.333333', limit: 2 });
    assert.equal(limited.body.rates.length, 2);
    assert.equal(limited.body.rates[1].new_rate, 0.000001); // 0.00000133… → 0.000001
    // Nothing changed.
    assert.deepEqual(await ratesOf(r.retailPlanId), before);
    assert.equal((await call(r, 'agent-markup')).body.markup_percent, 20);
    const same = await call(r, 'preview-agent-markup', { markup_percent: '20' });
    assert.equal(same.body.changed, false);
  });

  it('set-agent-markup: the retail prices follow the markup exactly, nothing is rewritten; the same markup again changes nothing', async () => {
    const r = await newReseller();
    await assertRetail(r, 20_000_000n);
    const res = await call(r, 'set-agent-markup', { markup_percent: 50 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.changed, true);
    assert.equal(res.body.markup_percent, 50);
    assert.equal(res.body.previous_markup_percent, 20);
    assert.equal(res.body.rates_rewritten, 0, 'retail prices are computed, never rewritten');
    assert.deepEqual(res.body.retail_plan, { id: r.retailPlanId, name: `${r.login}-RETAIL`, agent_rates: 6 });
    await assertRetail(r, 50_000_000n);
    const stored = await t.server.ctx.db.selectFrom('accounts').select('markup_micro_percent').where('id', '=', r.id).executeTakeFirstOrThrow();
    assert.equal(Number(stored.markup_micro_percent), 50_000_000);
    assert.equal((await call(r, 'agent-markup')).body.markup_percent, 50);

    const rowsBefore = await ratesOf(r.retailPlanId);
    const versionBefore = (await t.server.ctx.db.selectFrom('plans').select('rates_version').where('id', '=', r.retailPlanId).executeTakeFirstOrThrow()).rates_version;
    const again = await call(r, 'set-agent-markup', { markup_percent: '50.000' });
    assert.equal(again.status, 200);
    assert.equal(again.body.changed, false);
    assert.equal(again.body.markup_percent, 50);
    assert.deepEqual(await ratesOf(r.retailPlanId), rowsBefore, 'nothing written');
    const versionAfter = (await t.server.ctx.db.selectFrom('plans').select('rates_version').where('id', '=', r.retailPlanId).executeTakeFirstOrThrow()).rates_version;
    assert.equal(versionAfter, versionBefore);

    for (const percent of ['33.333333', '0', '12.345678', '1000']) {
      const set = await call(r, 'set-agent-markup', { markup_percent: percent });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.changed, true);
      await assertRetail(r, micro(percent));
    }
    // New wholesale rows reach the retail plan at the current markup.
    await t.admin('add-rates', { plan_id: wholesale.id, rates: [{ prefix: '39', destination: 'Italy', rate: '0.033333' }] });
    await assertRetail(r, 1_000_000_000n);
  });

  it('set-agent-markup of one reseller leaves the others alone', async () => {
    const r = await newReseller();
    const other = await newReseller({ markup_percent: 25 });
    assert.equal((await call(r, 'set-agent-markup', { markup_percent: 70 })).body.changed, true);
    await assertRetail(r, 70_000_000n);
    await assertRetail(other, 25_000_000n);
    assert.equal((await call(other, 'agent-markup')).body.markup_percent, 25);
  });

  it('concurrent markup changes leave the retail prices at the stored markup', async () => {
    const r = await newReseller();
    const percents = ['30', '40', '50', '60', '70', '80', '90', '15.5', '25.25', '35'];
    const results = await Promise.all(percents.map((p) => call(r, 'set-agent-markup', { markup_percent: p })));
    assert.ok(results.every((x) => x.status === 200), JSON.stringify(results.find((x) => x.status !== 200)?.body));
    assert.ok(results.every((x) => x.body.changed === true));
    const stored = await t.server.ctx.db.selectFrom('accounts').select('markup_micro_percent').where('id', '=', r.id).executeTakeFirstOrThrow();
    await assertRetail(r, BigInt(stored.markup_micro_percent!));
    assert.equal((await call(r, 'agent-markup')).body.retail_plan.agent_rates, (await ratesOf(wholesale.id)).size);
  });

  it('rate changes racing markup changes leave every retail price at the stored markup', async () => {
    const r = await newReseller();
    const percents = ['31', '47.5', '12', '88', '5', '64', '23.75', '99', '41', '17'];
    for (let round = 0; round < percents.length; round++) {
      const rates = Array.from({ length: 20 }, (_, i) => ({
        prefix: `88${round}${String(i).padStart(2, '0')}`, destination: `Race ${round}/${i}`, rate: `0.${String(1000 + round * 37 + i)}7`,
      }));
      // The existing rows change price too, so every retail row is written by both sides.
      rates.push({ prefix: '49', destination: 'Germany', rate: `0.12${round}457` });
      const [added, changed] = await Promise.all([
        t.admin('add-rates', { plan_id: wholesale.id, rates }),
        call(r, 'set-agent-markup', { markup_percent: percents[round] }),
      ]);
      assert.equal(added.upserted, rates.length);
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    }
    const stored = await t.server.ctx.db.selectFrom('accounts').select('markup_micro_percent').where('id', '=', r.id).executeTakeFirstOrThrow();
    assert.equal(BigInt(stored.markup_micro_percent!), micro('17'));
    await assertRetail(r, micro('17'));
  });

  it('invalid markup names the field and changes nothing', async () => {
    const r = await newReseller();
    const before = await ratesOf(r.retailPlanId);
    for (const endpoint of ['set-agent-markup', 'preview-agent-markup']) {
      for (const body of [{}, { markup_percent: -1 }, { markup_percent: '1000.5' }, { markup_percent: 'fifty' }, { markup_percent: '' }, { markup_percent: '1.0000001' }]) {
        const res = await call(r, endpoint, body);
        assert.equal(res.status, 400, `${endpoint} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, 'markup_percent');
      }
    }
    const badLimit = await call(r, 'preview-agent-markup', { markup_percent: 10, limit: 0 });
    assert.equal(badLimit.status, 400);
    assert.equal(badLimit.body.field, 'limit');
    // Above its maximum the preview's limit is clamped, like every list's.
    assert.equal((await call(r, 'preview-agent-markup', { markup_percent: 10, limit: 100000 })).status, 200);
    assert.deepEqual(await ratesOf(r.retailPlanId), before);
    assert.equal((await call(r, 'agent-markup')).body.markup_percent, 20);
    assert.equal((await call(r, 'set-agent-markup', undefined)).status, 405);
  });

  it('an inactive reseller cannot change its markup', async () => {
    const r = await newReseller();
    await t.admin('set-account-status', { login: r.login, active: false });
    const res = await call(r, 'set-agent-markup', { markup_percent: 40 });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
    assert.equal((await call(r, 'agent-markup')).body.markup_percent, 20);
    await assertRetail(r, 20_000_000n);
  });

  it('a reseller client\'s call is charged at the new retail price, the reseller at wholesale', async () => {
    const r = await newReseller({ balance: '10' });
    const created = await call(r, 'create-client', { plan_id: r.retailPlanId });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const login = created.body.client.login;
    const sip = created.body.sip.name;
    assert.equal((await call(r, 'transfer', { login, amount: '10' })).status, 200);
    const balances = async () => {
      const rows = await t.server.ctx.db.selectFrom('accounts').select(['login', 'balance_micros']).where('login', 'in', [login, r.login]).execute();
      const m = Object.fromEntries(rows.map((x) => [x.login, Number(x.balance_micros)]));
      return { client: m[login], reseller: m[r.login] };
    };
    const talk = async (seconds: number) => {
      const id = uid();
      const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: id, sip_login: sip, destination: '+447575396991' } });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.allowed, true, JSON.stringify(a.body));
      const c = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: id, sip_login: sip, destination: '+447575396991', answered_seconds: seconds, disposition: 'ANSWERED' } });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      return c.body;
    };

    // At +20%: 1.44/min, 61 s bills 66 s = 1.5840; the reseller pays 1.20/min = 1.3200.
    assert.equal((await talk(61)).cost, '1.5840');
    assert.deepEqual(await balances(), { client: 10_000_000 - 1_584_000, reseller: 10_000_000 - 1_320_000 });

    assert.equal((await call(r, 'set-agent-markup', { markup_percent: 50 })).body.changed, true);
    // At +50%: 1.80/min, 66 s = 1.9800; the reseller still pays wholesale.
    assert.equal((await talk(61)).cost, '1.9800');
    assert.deepEqual(await balances(), { client: 10_000_000 - 1_584_000 - 1_980_000, reseller: 10_000_000 - 2 * 1_320_000 });

    assert.equal((await call(r, 'set-agent-markup', { markup_percent: '33.333333' })).body.changed, true);
    // 1.2 * 1.33333333 = 1.599999996 → 1.600000/min; 66 s = 1.7600.
    assert.equal((await talk(61)).cost, '1.7600');

    // Prices change during a call: it is charged at the prices it was authorized at, both sides.
    const before = await balances();
    const id = uid();
    const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: id, sip_login: sip, destination: '447575396991' } });
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    assert.equal((await call(r, 'set-agent-markup', { markup_percent: 200 })).body.changed, true);
    await t.admin('add-rates', { plan_id: wholesale.id, rates: [{ prefix: '447', destination: 'UK Mobile', rate: '3.00' }] });
    const settled = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: id, sip_login: sip, destination: '447575396991', answered_seconds: 61, disposition: 'ANSWERED' } });
    assert.equal(settled.body.cost, '1.7600', JSON.stringify(settled.body));
    assert.deepEqual(await balances(), { client: before.client - 1_760_000, reseller: before.reseller - 1_320_000 });
    // The next call pays the new prices: 3.00 * 3 = 9.00/min retail.
    const next = uid();
    assert.equal((await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid: next, sip_login: sip, destination: '447575396991' } })).body.allowed, true);
    const nextCdr = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid: next, sip_login: sip, destination: '447575396991', answered_seconds: 6, disposition: 'ANSWERED' } });
    assert.equal(nextCdr.body.cost, '0.9000');
  });
});
