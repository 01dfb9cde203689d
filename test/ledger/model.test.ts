// Stateful model test of the money paths: random sequences of authorize, CDR (answered,
// unanswered, replayed), re-authorize, reservation expiry and refills/adjustments run against the
// real server over HTTP, and after every step each account's balance and reserved total must be
// what a model computes from the CONTRACT §4 formulas alone (billed(N), cost(N), available,
// max_duration). Direct clients and a reseller's client (retail + wholesale) take part.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { expireReservations } from '../../src/calls/reservation-expiry.js';
import { applyMarkup } from '../../src/money.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAX_CALL_DURATION = 600;

// ---- CONTRACT §4, written out independently of src/rating -------------------------------------
interface Tariff { rateMicros: bigint; connectMicros: bigint; initblock: number; billingblock: number; minimalTime: number }

function billed(t: Tariff, n: number): number {
  if (n <= 0 || n <= t.minimalTime) return 0;
  if (n <= t.initblock) return t.initblock;
  return t.initblock + Math.ceil((n - t.initblock) / t.billingblock) * t.billingblock;
}
/** connect_charge + rate * billed / 60, rounded half-up to 6 decimals (micro-units). */
function cost(t: Tariff, n: number): bigint {
  const b = billed(t, n);
  if (b === 0) return 0n;
  const num = t.rateMicros * BigInt(b);
  let q = num / 60n;
  if ((num % 60n) * 2n >= 60n) q += 1n;
  return t.connectMicros + q;
}
/** The largest N <= MAX_CALL_DURATION with cost(N) <= available (cost never decreases with N). */
function maxDuration(t: Tariff, available: bigint): number {
  let n = MAX_CALL_DURATION;
  while (n > 0 && cost(t, n) > available) n--;
  return n;
}

// ---- the model ---------------------------------------------------------------------------------
interface Payer { accountId: number; tariff: Tariff; reason: string }
interface CallerSpec { login: string; sip: string; payersByDestination: Record<string, Payer[]> }
interface OpenCall { uniqueid: string; caller: number; destination: string; maxDuration: number; held: Array<{ accountId: number; amount: bigint; tariff: Tariff }> }
interface SettledCall { uniqueid: string; caller: number; destination: string; answered: number; disposition: string; cost: bigint }
interface Model { balances: Map<number, bigint>; open: OpenCall[]; settled: SettledCall[] }
interface Real { t: TestServer; key: string; callers: CallerSpec[]; accountIds: number[] }

const reservedOf = (m: Model, accountId: number) =>
  m.open.reduce((sum, c) => sum + c.held.filter((h) => h.accountId === accountId).reduce((s, h) => s + h.amount, 0n), 0n);

async function assertMatches(m: Model, r: Real, step: string): Promise<void> {
  const rows = await r.t.server.ctx.db.selectFrom('accounts').select(['id', 'balance_micros', 'reserved_micros']).where('id', 'in', r.accountIds).execute();
  const real = Object.fromEntries(rows.map((row) => [Number(row.id), { balance: BigInt(row.balance_micros), reserved: BigInt(row.reserved_micros) }]));
  const expected = Object.fromEntries(r.accountIds.map((id) => [id, { balance: m.balances.get(id)!, reserved: reservedOf(m, id) }]));
  assert.deepEqual(real, expected, `after ${step}`);
}

const DESTINATIONS = ['4930123456', '15551234567'];
const pickOf = <T>(list: T[], pick: number): T => list[Math.floor(pick * list.length) % list.length];

class Authorize implements fc.AsyncCommand<Model, Real> {
  constructor(readonly caller: number, readonly destination: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const spec = r.callers[this.caller];
    const uniqueid = `m-${crypto.randomBytes(6).toString('hex')}`;
    const res = await r.t.call('switch', 'authorize', { key: r.key, body: { uniqueid, sip_login: spec.sip, destination: this.destination } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const payers = spec.payersByDestination[this.destination];
    let limit = MAX_CALL_DURATION;
    let refusal: string | null = null;
    for (const p of payers) {
      const available = m.balances.get(p.accountId)! - reservedOf(m, p.accountId);
      if (cost(p.tariff, p.tariff.initblock) > available) { refusal = p.reason; break; }
      limit = Math.min(limit, maxDuration(p.tariff, available));
    }
    if (refusal) {
      assert.deepEqual({ allowed: res.body.allowed, reason: res.body.reason }, { allowed: false, reason: refusal }, this.toString());
    } else {
      assert.deepEqual({ allowed: res.body.allowed, max_duration: res.body.max_duration }, { allowed: true, max_duration: limit }, this.toString());
      m.open.push({
        uniqueid, caller: this.caller, destination: this.destination, maxDuration: limit,
        held: payers.map((p) => ({ accountId: p.accountId, amount: cost(p.tariff, limit), tariff: p.tariff })),
      });
    }
    await assertMatches(m, r, this.toString());
  }
  toString = () => `authorize(caller ${this.caller}, ${this.destination})`;
}

class Reauthorize implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.open.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const call = pickOf(m.open, this.pick);
    const res = await r.t.call('switch', 'authorize', { key: r.key, body: { uniqueid: call.uniqueid, sip_login: r.callers[call.caller].sip, destination: call.destination } });
    assert.deepEqual({ allowed: res.body.allowed, max_duration: res.body.max_duration }, { allowed: true, max_duration: call.maxDuration });
    await assertMatches(m, r, this.toString());
  }
  toString = () => `reauthorize(${this.pick.toFixed(2)})`;
}

class Cdr implements fc.AsyncCommand<Model, Real> {
  /** `fraction` of the authorized limit answered; 0 = not answered. */
  constructor(readonly pick: number, readonly fraction: number, readonly disposition: 'ANSWERED' | 'NO ANSWER' | 'BUSY') {}
  check = (m: Readonly<Model>) => m.open.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const call = pickOf(m.open, this.pick);
    const answered = this.disposition === 'ANSWERED' ? Math.round(call.maxDuration * this.fraction) : 0;
    const res = await r.t.call('switch', 'cdr', { key: r.key, body: {
      uniqueid: call.uniqueid, sip_login: r.callers[call.caller].sip, destination: call.destination, answered_seconds: answered, disposition: this.disposition,
    } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // Each payer pays cost(N) at the tariff its reservation was made at.
    for (const h of call.held) m.balances.set(h.accountId, m.balances.get(h.accountId)! - cost(h.tariff, answered));
    const clientCost = cost(call.held[0].tariff, answered);
    assert.equal(res.body.cost, (Number(clientCost) / 1e6).toFixed(4));
    m.open = m.open.filter((c) => c !== call);
    m.settled.push({ uniqueid: call.uniqueid, caller: call.caller, destination: call.destination, answered, disposition: this.disposition, cost: clientCost });
    await assertMatches(m, r, this.toString());
  }
  toString = () => `cdr(${this.pick.toFixed(2)}, ${this.disposition} ${this.fraction.toFixed(2)})`;
}

class ReplayCdr implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.settled.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const call = pickOf(m.settled, this.pick);
    const res = await r.t.call('switch', 'cdr', { key: r.key, body: {
      uniqueid: call.uniqueid, sip_login: r.callers[call.caller].sip, destination: call.destination, answered_seconds: call.answered, disposition: call.disposition,
    } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.duplicate, true);
    await assertMatches(m, r, this.toString());
  }
  toString = () => `replay(${this.pick.toFixed(2)})`;
}

class Expire implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.open.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    // Past every limit plus the grace: every open reservation is freed, no balance moves.
    await expireReservations(r.t.server.ctx, new Date(Date.now() + (MAX_CALL_DURATION + 3600) * 1000));
    m.open = [];
    await assertMatches(m, r, this.toString());
  }
  toString = () => 'expire()';
}

class Refill implements fc.AsyncCommand<Model, Real> {
  constructor(readonly account: number, readonly amountMicros: bigint) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const accountId = r.accountIds[this.account];
    const login = (await r.t.server.ctx.db.selectFrom('accounts').select('login').where('id', '=', accountId).executeTakeFirstOrThrow()).login;
    const amount = (Number(this.amountMicros) / 1e6).toFixed(6);
    const res = await r.t.call('admin', 'refill', { body: { login, amount } });
    const after = m.balances.get(accountId)! + this.amountMicros;
    // A debit other than a call leaves at least what open reservations hold.
    if (this.amountMicros < 0n && after < reservedOf(m, accountId)) {
      if (process.env.MODEL_TRACE) console.error("EXPECT402", this.toString());
      assert.equal(res.status, 402, JSON.stringify(res.body));
      assert.equal(res.body.code, 'INSUFFICIENT_BALANCE');
    } else {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      m.balances.set(accountId, after);
    }
    await assertMatches(m, r, this.toString());
  }
  toString = () => `refill(account ${this.account}, ${this.amountMicros})`;
}

describe('ledger: a model of authorize, CDR, expiry and refills', () => {
  let t: TestServer;
  let key: string;
  let planId: number;
  before(async () => {
    t = await startTestServer({ MAX_CALL_DURATION: String(MAX_CALL_DURATION) });
    key = (await t.admin('create-switch-key', { name: 'model' })).api_key;
    const { plan } = await t.admin('create-plan', { name: `MODEL-${crypto.randomBytes(3).toString('hex')}` });
    await t.admin('add-rates', { plan_id: plan.id, rates: [
      { prefix: '49', destination: 'Germany', rate: '0.60', connect_charge: '0.05', initblock: 60, billingblock: 6 },
      { prefix: '1', destination: 'USA', rate: '0.013', initblock: 6, billingblock: 6, minimal_time: 3 },
    ] });
    planId = plan.id;
  });
  after(async () => t.close());

  const tariffsOf = async (plan: number): Promise<Record<string, Tariff>> => {
    const rows = await t.server.ctx.db.selectFrom('rates').selectAll().where('plan_id', '=', plan).execute();
    const byPrefix = Object.fromEntries(rows.map((row) => [row.prefix, {
      rateMicros: BigInt(row.rate_micros), connectMicros: BigInt(row.connect_charge_micros), initblock: row.initblock, billingblock: row.billingblock, minimalTime: row.minimal_time,
    }]));
    return { [DESTINATIONS[0]]: byPrefix['49'], [DESTINATIONS[1]]: byPrefix['1'] };
  };

  /** Fresh accounts for each run: two direct clients, a reseller and its client. */
  async function setup(): Promise<{ model: Model; real: Real }> {
    const wholesale = await tariffsOf(planId);
    const callers: CallerSpec[] = [];
    const accountIds: number[] = [];
    const balances = new Map<number, bigint>();
    for (const balance of ['3', '0.3']) {
      const body = await t.admin('create-client', { plan_id: planId, balance });
      accountIds.push(body.client.id);
      balances.set(body.client.id, BigInt(Math.round(Number(balance) * 1e6)));
      const payers = (d: string) => [{ accountId: body.client.id, tariff: wholesale[d], reason: 'INSUFFICIENT_BALANCE' }];
      callers.push({ login: body.client.login, sip: body.sip.name, payersByDestination: Object.fromEntries(DESTINATIONS.map((d) => [d, payers(d)])) });
    }
    const r = await t.admin('create-reseller', { plan_id: planId, balance: '2' });
    // The reseller's client pays the wholesale rows at the default +20%, half-up (docs/retail-prices.md).
    const retail = Object.fromEntries(Object.entries(wholesale).map(([d, w]) => [d, {
      ...w, rateMicros: applyMarkup(w.rateMicros, 20_000_000n), connectMicros: applyMarkup(w.connectMicros, 20_000_000n),
    }]));
    const created = await t.call('reseller', 'create-client', { key: r.api_key, body: { plan_id: r.reseller.retail_plan_id } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await t.admin('refill', { login: created.body.client.login, amount: '4' });
    const clientId = created.body.client.id;
    accountIds.push(r.reseller.id, clientId);
    balances.set(r.reseller.id, 2_000_000n);
    balances.set(clientId, 4_000_000n);
    callers.push({
      login: created.body.client.login, sip: created.body.sip.name,
      payersByDestination: Object.fromEntries(DESTINATIONS.map((d) => [d, [
        { accountId: clientId, tariff: retail[d], reason: 'INSUFFICIENT_BALANCE' },
        { accountId: r.reseller.id, tariff: wholesale[d], reason: 'RESELLER_INSUFFICIENT_BALANCE' },
      ]])),
    });
    return { model: { balances, open: [], settled: [] }, real: { t, key, callers, accountIds } };
  }

  it('balances and reservations always equal the model', async () => {
    const commands = [
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom(...DESTINATIONS)).map(([c, d]) => new Authorize(c, d)),
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom(...DESTINATIONS)).map(([c, d]) => new Authorize(c, d)),
      fc.double({ min: 0, max: 0.999, noNaN: true }).map((p) => new Reauthorize(p)),
      fc.tuple(fc.double({ min: 0, max: 0.999, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('ANSWERED', 'ANSWERED', 'NO ANSWER', 'BUSY') as fc.Arbitrary<'ANSWERED' | 'NO ANSWER' | 'BUSY'>)
        .map(([p, f, d]) => new Cdr(p, f, d)),
      fc.double({ min: 0, max: 0.999, noNaN: true }).map((p) => new ReplayCdr(p)),
      fc.constant(new Expire()),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: -3_000_000n, max: 2_000_000n }).filter((a) => a !== 0n)).map(([a, amount]) => new Refill(a, amount)),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: -1_000_000n, max: -1n })).map(([a, amount]) => new Refill(a, amount)),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'max' }), async (cmds) => {
        if (process.env.MODEL_TRACE) console.error('RUN', [...cmds].length);
        await fc.asyncModelRun(setup, cmds);
      }),
      { numRuns: 10, seed: process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined },
    );
    // The ledger check agrees after all of it.
    assert.equal((await t.admin('verify-ledger')).ok_ledger, true);
  });
});
