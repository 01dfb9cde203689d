// A reseller's retail prices are its wholesale rows plus the markup, half-up to a micro-unit,
// computed where they are needed, never stored. Two code paths compute them: JavaScript
// (applyMarkup, when a call is rated) and SQL (applyMarkupSql, when client-rates lists them).
// This pins both to the same definition, through the real server, on the database the suite
// runs on (SQLite, or PostgreSQL with TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
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

describe('markup: rating (JavaScript) and the listings (SQL) give the same retail prices', () => {
  let t: TestServer;
  let switchKey: string;
  before(async () => {
    t = await startTestServer();
    switchKey = (await t.admin('create-switch-key', { name: 'markup-props' })).api_key;
  });
  after(async () => { await t.close(); });

  async function rowsOf(planId: number): Promise<Map<string, { rate: bigint; connect: bigint }>> {
    const rows = await t.server.ctx.db.selectFrom('rates').select(['prefix', 'rate_micros', 'connect_charge_micros'])
      .where('plan_id', '=', planId).execute();
    return new Map(rows.map((r) => [r.prefix, { rate: BigInt(r.rate_micros), connect: BigInt(r.connect_charge_micros) }]));
  }

  /** A reseller on the plan with one funded client. */
  async function resellerWithClient(planId: number, markupMicroPercent: bigint) {
    const created = await t.admin('create-reseller', { plan_id: planId, markup_percent: text(markupMicroPercent), balance: '900000000' });
    const key = created.api_key as string;
    const client = await t.call('reseller', 'create-client', { key, body: { plan_id: created.reseller.retail_plan_id } });
    assert.equal(client.status, 200, JSON.stringify(client.body));
    const login = client.body.client.login as string;
    assert.equal((await t.call('reseller', 'transfer', { key, body: { login, amount: '900000000' } })).status, 200);
    return { key, login, sip: client.body.sip.name as string };
  }

  /** client-rates (SQL) shows every wholesale row at applyMarkup. */
  async function assertListed(wholesalePlanId: number, r: { key: string; login: string }, markupMicroPercent: bigint, how: string) {
    const wholesale = await rowsOf(wholesalePlanId);
    const res = await t.call('reseller', 'client-rates', { key: r.key, query: { login: r.login, limit: 500 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const listed = new Map<string, { rate: number; connect_charge: number }>(res.body.rates.map((x: any) => [x.prefix, x]));
    assert.deepEqual([...listed.keys()].sort(), [...wholesale.keys()].sort(), how);
    for (const [prefix, w] of wholesale) {
      const l = listed.get(prefix)!;
      assert.equal(l.rate, Number(text(applyMarkup(w.rate, markupMicroPercent))), `${how}: rate of ${prefix} (${w.rate} +${text(markupMicroPercent)}%)`);
      assert.equal(l.connect_charge, Number(text(applyMarkup(w.connect, markupMicroPercent))), `${how}: connect charge of ${prefix}`);
    }
  }

  /** What a 60 s call to `prefix`0 cost the client: connect + rate of its retail row (rows have 1 s blocks). */
  async function chargedFor(r: { login: string; sip: string }, prefix: string): Promise<bigint> {
    const balance = async () => BigInt((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
      .where('login', '=', r.login).executeTakeFirstOrThrow()).balance_micros);
    const before = await balance();
    const uniqueid = `mk-${crypto.randomBytes(6).toString('hex')}`;
    const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid, sip_login: r.sip, destination: `${prefix}0` } });
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    const cdr = await t.call('switch', 'cdr', { key: switchKey, body: { uniqueid, sip_login: r.sip, destination: `${prefix}0`, answered_seconds: 60, disposition: 'ANSWERED' } });
    assert.equal(cdr.status, 200, JSON.stringify(cdr.body));
    return before - (await balance());
  }

  it('for random rates and markups: client-rates (SQL) and the price of a call (JavaScript) equal applyMarkup', async () => {
    await fc.assert(fc.asyncProperty(rowsArb, rowsArb, markupArb, markupArb, async (first, later, m1, m2) => {
      const { plan } = await t.admin('create-plan', { name: `W-${Math.random().toString(36).slice(2, 8)}` });
      await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(first) });

      const r = await resellerWithClient(plan.id, m1);
      await assertListed(plan.id, r, m1, 'create-reseller');

      const set = await t.call('reseller', 'set-agent-markup', { key: r.key, body: { markup_percent: text(m2) } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await assertListed(plan.id, r, m2, 'set-agent-markup');

      // New and changed wholesale rows reach the client at once.
      const fresh = later.filter((x) => !first.some((f) => f.prefix === x.prefix)).concat(first.slice(0, 1).map((x) => ({ ...x, rateMicros: x.connectMicros })));
      await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(fresh) });
      await assertListed(plan.id, r, m2, 'add-rates');

      // Rating charges what the listing shows: the longest prefix of the dialled digits.
      const wholesale = await rowsOf(plan.id);
      const prefix = fresh[0].prefix;
      const longest = [...wholesale.keys()].filter((p) => `${prefix}0`.startsWith(p)).sort((a, b) => b.length - a.length)[0];
      const w = wholesale.get(longest)!;
      const charged = await chargedFor(r, prefix);
      assert.equal(charged, applyMarkup(w.connect, m2) + applyMarkup(w.rate, m2), `call to ${prefix}0 at ${longest} +${text(m2)}%`);
    }), propOptions(12));
  });

  it('the largest price at the largest markup stays exact; a larger price is refused, naming the field', async () => {
    const { plan } = await t.admin('create-plan', { name: 'W-MAX' });
    const top = [{ prefix: '9', rateMicros: MAX_PRICE_MICROS, connectMicros: MAX_PRICE_MICROS - 1n }];
    await t.admin('add-rates', { plan_id: plan.id, rates: rateBody(top) });
    const r = await resellerWithClient(plan.id, 1_000_000_000n);
    await assertListed(plan.id, r, 1_000_000_000n, 'create-reseller at 1000%');
    await t.admin('add-rates', { plan_id: plan.id, rates: rateBody([{ prefix: '8', rateMicros: MAX_PRICE_MICROS - 7n, connectMicros: 0n }]) });
    await assertListed(plan.id, r, 1_000_000_000n, 'add-rates at 1000%');
    assert.equal(await chargedFor(r, '9'), applyMarkup(MAX_PRICE_MICROS - 1n, 1_000_000_000n) + applyMarkup(MAX_PRICE_MICROS, 1_000_000_000n));
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
