// A reseller's retail rows are its wholesale rows plus the markup, half-up to a micro-unit.
// Two code paths write them: JavaScript (applyMarkup, when admin add-rates carries new rows
// into retail plans) and SQL (rebuildRetailPlan, when a reseller is created or changes its
// markup: one INSERT ... SELECT). This pins both to the same definition, through the real
// server, on the database the suite runs on (SQLite, or PostgreSQL with TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { applyMarkup, formatMoney, MAX_RATE_MICROS } from '../../src/money.js';
import { runCli, startTestServer, type TestServer } from '../helpers/server.js';
import { propOptions } from './seed.js';

interface Row { prefix: string; rateMicros: bigint; connectMicros: bigint }

/** The largest rate or connect charge a plan takes (money.ts, docs/input-limits.md). */
const MAX_PRICE_MICROS = MAX_RATE_MICROS;
// Prices where rounding shows (a few micros), ordinary ones, and up to the largest accepted.
const priceArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 200n }),
  fc.bigInt({ min: 0n, max: 100_000_000n }),
  fc.bigInt({ min: 0n, max: MAX_PRICE_MICROS }),
  fc.constant(MAX_PRICE_MICROS),
);
// Markups of whole, fractional (up to 6 decimals) and edge percents, 0 to 1000.
const markupArb = fc.oneof(
  fc.constantFrom(0n, 20_000_000n, 1_000_000_000n, 1n, 50_000_000n, 12_500_000n),
  fc.bigInt({ min: 0n, max: 1_000_000_000n }),
);
const rowsArb = fc.uniqueArray(
  fc.record({ prefix: fc.stringMatching(/^[1-9][0-9]{0,5}$/), rateMicros: priceArb, connectMicros: priceArb }),
  { minLength: 1, maxLength: 12, selector: (r) => r.prefix },
);

const text = (micros: bigint) => formatMoney(micros, 6);
const rateBody = (rows: Row[]) => rows.map((r) => ({ prefix: r.prefix, destination: `D${r.prefix}`, rate: text(r.rateMicros), connect_charge: text(r.connectMicros) }));

describe('markup: the JavaScript and SQL paths write the same retail rows', () => {
  let t: TestServer;
  before(async () => { t = await startTestServer(); });
  after(async () => { await t.close(); });

  async function rowsOf(planId: number): Promise<Map<string, { rate: bigint; connect: bigint }>> {
    const rows = await t.server.ctx.db.selectFrom('rates').select(['prefix', 'rate_micros', 'connect_charge_micros'])
      .where('plan_id', '=', planId).execute();
    return new Map(rows.map((r) => [r.prefix, { rate: BigInt(r.rate_micros), connect: BigInt(r.connect_charge_micros) }]));
  }

  async function assertRetail(wholesalePlanId: number, retailPlanId: number, markupMicroPercent: bigint, how: string) {
    const wholesale = await rowsOf(wholesalePlanId);
    const retail = await rowsOf(retailPlanId);
    assert.deepEqual([...retail.keys()].sort(), [...wholesale.keys()].sort(), how);
    for (const [prefix, w] of wholesale) {
      const r = retail.get(prefix)!;
      assert.equal(r.rate, applyMarkup(w.rate, markupMicroPercent), `${how}: rate of ${prefix} (${w.rate} +${text(markupMicroPercent)}%)`);
      assert.equal(r.connect, applyMarkup(w.connect, markupMicroPercent), `${how}: connect charge of ${prefix}`);
    }
  }

  it('for random rates and markups: reseller creation (SQL), set-agent-markup (SQL), add-rates (JavaScript)', async () => {
    await fc.assert(fc.asyncProperty(rowsArb, rowsArb, markupArb, markupArb, async (first, later, m1, m2) => {
      const { plan } = await t.admin('create-plan', { name: `W-${Math.random().toString(36).slice(2, 8)}` });
      await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(first) });

      const created = await t.admin('create-reseller', { plan_id: plan.id, markup_percent: text(m1) });
      const retailPlanId = created.reseller.retail_plan_id as number;
      await assertRetail(plan.id, retailPlanId, m1, 'create-reseller');

      const set = await t.call('reseller', 'set-agent-markup', { key: created.api_key, body: { markup_percent: text(m2) } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await assertRetail(plan.id, retailPlanId, m2, 'set-agent-markup');

      // New and changed wholesale rows reach the retail plan through JavaScript.
      const fresh = later.filter((r) => !first.some((f) => f.prefix === r.prefix)).concat(first.slice(0, 1).map((r) => ({ ...r, rateMicros: r.connectMicros })));
      await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(fresh) });
      await assertRetail(plan.id, retailPlanId, m2, 'add-rates');
    }), propOptions(12));
  });

  it('the largest price at the largest markup stays exact; a larger price is refused, naming the field', async () => {
    const { plan } = await t.admin('create-plan', { name: 'W-MAX' });
    const top = [{ prefix: '9', rateMicros: MAX_PRICE_MICROS, connectMicros: MAX_PRICE_MICROS - 1n }];
    await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(top) });
    const created = await t.admin('create-reseller', { plan_id: plan.id, markup_percent: '1000' });
    await assertRetail(plan.id, created.reseller.retail_plan_id, 1_000_000_000n, 'create-reseller at 1000%');
    await t.admin('add-rates', { plan_id: plan.id, rates: rateBody([{ prefix: '8', rateMicros: MAX_PRICE_MICROS - 7n, connectMicros: 0n }]) });
    await assertRetail(plan.id, created.reseller.retail_plan_id, 1_000_000_000n, 'add-rates at 1000%');
    for (const field of ['rate', 'connect_charge'] as const) {
      const res = await t.call('admin', 'add-rates', {
        body: { plan_id: plan.id, rates: [{ prefix: '7', destination: 'Too dear', rate: '1', [field]: text(MAX_PRICE_MICROS + 1n) }] },
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, `rates[0].${field}`);
    }
    // The CSV import takes the same limit (its fast path included).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-price-'));
    try {
      const file = path.join(dir, 'dear.csv');
      fs.writeFileSync(file, `6,Fine,${text(MAX_PRICE_MICROS)}\n5,Too dear,${text(MAX_PRICE_MICROS + 1n)}\n4,Too dear,999999999\n3,Dear connect,1,${text(MAX_PRICE_MICROS * 10n)}\n`);
      const r = await runCli(t, ['import-rates', String(plan.id), file], { dataDir: dir });
      assert.equal(r.code, 2, r.stderr + r.stdout);
      assert.match(r.stderr, /^line 2: rate: must be from 0 to 99999.999999$/m);
      assert.match(r.stderr, /^line 3: rate: must be from 0 to 99999.999999$/m);
      assert.match(r.stderr, /^line 4: connect_charge: must be from 0 to 99999.999999$/m);
      assert.doesNotMatch(r.stderr, /^line 1: /m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
