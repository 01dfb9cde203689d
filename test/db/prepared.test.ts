// Prepared statements (src/db/prepared.ts) take named parameters: each value reaches the
// column its name is written at, whatever order the caller lists them in, on both dialects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Ctx } from '../../src/context.js';
import { preparedQuery } from '../../src/db/prepared.js';
import { createPlan, startTestServer, type TestServer } from '../helpers/server.js';

interface RateParams {
  planId: number;
  prefix: string;
  rateMicros: bigint;
  connectChargeMicros: bigint;
  now: string;
}
const insertRate = preparedQuery<RateParams>()((db, p) => db.insertInto('rates').values({
  plan_id: p.planId, prefix: p.prefix, destination: sql.lit('Test'), rate_micros: p.rateMicros, connect_charge_micros: p.connectChargeMicros,
  initblock: sql.lit(1), billingblock: sql.lit(1), minimal_time: sql.lit(0), updated_at: p.now,
}));
// The same value used twice in one statement.
const ratesAtLeast = preparedQuery<{ planId: number; micros: number }>()((db, p) => db.selectFrom('rates')
  .select(['prefix']).where('plan_id', '=', p.planId).where('prefix', 'like', sql.lit('9999%')).where('rate_micros', '>=', p.micros).where('connect_charge_micros', '<', p.micros)
  .orderBy('prefix'));
// A value written into the query instead of a parameter: it would be sent as it was when built.
const withLiteral = preparedQuery<{ planId: number }>()((db, p) => db.selectFrom('rates')
  .select('prefix').where('plan_id', '=', p.planId).where('prefix', '=', '49'));

// Checked by `npm run typecheck`: a misspelt or missing name, or a value of the wrong type, does not compile.
export function typeLevelChecks(ctx: Ctx) {
  const now = '2026-01-01T00:00:00.000Z';
  // @ts-expect-error rateMicro is not a parameter (rateMicros is)
  void insertRate(ctx.db, { planId: 1, prefix: '1', rateMicro: 1n, connectChargeMicros: 0n, now });
  // @ts-expect-error connectChargeMicros is missing
  void insertRate(ctx.db, { planId: 1, prefix: '1', rateMicros: 1n, now });
  // @ts-expect-error a money value is a bigint
  void insertRate(ctx.db, { planId: 1, prefix: '1', rateMicros: '1', connectChargeMicros: 0n, now });
}

describe('prepared statements with named parameters', () => {
  let t: TestServer;
  let ctx: Ctx;
  let planId: number;

  before(async () => {
    t = await startTestServer();
    ctx = t.server.ctx;
    planId = (await createPlan(t)).id; // with rates of its own; these tests add prefixes 9999...
  });
  after(async () => { await t.close(); });

  test('each value lands in the column of its name, in whatever order the caller lists them', async () => {
    const now = new Date().toISOString();
    await insertRate(ctx.db, { now, connectChargeMicros: 20_000n, rateMicros: 150_000n, prefix: '999930', planId });
    await insertRate(ctx.db, { planId, prefix: '999940', rateMicros: 90_000n, connectChargeMicros: 0n, now });
    const rows = await ctx.db.selectFrom('rates').select(['prefix', 'rate_micros', 'connect_charge_micros', 'updated_at'])
      .where('plan_id', '=', planId).where('prefix', 'like', '9999%').orderBy('prefix').execute();
    assert.deepEqual(rows.map((r) => [r.prefix, Number(r.rate_micros), Number(r.connect_charge_micros), r.updated_at]),
      [['999930', 150_000, 20_000, now], ['999940', 90_000, 0, now]]);
    // A name used twice takes the same value at both places.
    assert.deepEqual((await ratesAtLeast(ctx.db, { planId, micros: 20_000 })).map((r) => r.prefix), ['999940']);
    assert.deepEqual((await ratesAtLeast(ctx.db, { planId, micros: 200_000 })), []);
  });

  test('a literal value left in a prepared query is refused when it is built', async () => {
    await assert.rejects(withLiteral(ctx.db, { planId }), /prepared query parameter 2 is a literal; use p\.<name>/);
  });
});
