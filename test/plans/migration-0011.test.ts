// Migration 0011 on a database whose retail plans are copies of their wholesale plan: rows that
// equal the wholesale row at the reseller's markup go, rows an operator set on purpose (another
// price, destination or block, or a prefix the wholesale plan lacks) stay as overrides, and only
// the plans that lost rows get a new rates_version.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DbHandle } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { applyMarkup } from '../../src/money.js';
import { databaseBeforeMigration } from '../helpers/migrated-before.js';

describe('migration 0011: retail plans keep only their overrides', () => {
  let handle: DbHandle;
  let dispose: () => Promise<void>;
  before(async () => {
    ({ handle, dispose } = await databaseBeforeMigration('0011'));
  });
  after(async () => { await dispose(); });

  it('removes the copies at the current markup, keeps every other row, bumps only the plans that changed', async () => {
    const db = handle.db as any;
    const now = new Date().toISOString();
    const account = async (login: string, markup: bigint | null) => Number((await db.insertInto('accounts').values({
      login, role: 'reseller', markup_micro_percent: markup, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow()).id);
    const plan = async (name: string, owner: number | null, wholesale: number | null) => Number((await db.insertInto('plans').values({
      name, owner_id: owner, wholesale_plan_id: wholesale, created_at: now,
    }).returning('id').executeTakeFirstOrThrow()).id);
    interface Row { prefix: string; destination: string; rate: bigint; connect?: bigint; initblock?: number }
    const insert = (planId: number, rows: Row[]) => db.insertInto('rates').values(rows.map((r) => ({
      plan_id: planId, prefix: r.prefix, destination: r.destination, rate_micros: r.rate, connect_charge_micros: r.connect ?? 0n,
      initblock: r.initblock ?? 1, billingblock: 1, minimal_time: 0, updated_at: now,
    }))).execute();

    const halfUp = await account('r-twelve-half', 12_500_000n);
    const byDefault = await account('r-default', null);
    const wholesaleId = await plan('W', null, null);
    const wholesale: Row[] = [
      { prefix: '1', destination: 'USA', rate: 12_000n },
      { prefix: '44', destination: 'UK', rate: 25_000n, connect: 50_000n },
      // 3 micros at +12.5% = 3.375 → 3; at +20% = 3.6 → 4: the copy carries the rounding.
      { prefix: '447', destination: 'UK Mobile', rate: 3n, initblock: 60 },
      { prefix: '49', destination: 'Germany', rate: 30_000n },
      { prefix: '33', destination: 'France', rate: 20_000n },
    ];
    await insert(wholesaleId, wholesale);
    const up = (r: Row, markup: bigint): Row => ({ ...r, rate: applyMarkup(r.rate, markup), connect: applyMarkup(r.connect ?? 0n, markup) });

    // Reseller at 12.5%: copies of 1, 44, 447; its own prices for 49 (price), 33 (destination),
    // 7 (no wholesale row) and 1234 (a longer prefix than wholesale has).
    const mixed = await plan('R-mixed', halfUp, wholesaleId);
    await insert(mixed, [
      up(wholesale[0], 12_500_000n), up(wholesale[1], 12_500_000n), up(wholesale[2], 12_500_000n),
      { prefix: '49', destination: 'Germany', rate: 99_000n },
      { ...up(wholesale[4], 12_500_000n), destination: 'France (own)' },
      { prefix: '7', destination: 'Russia', rate: 50_000n },
      { prefix: '1234', destination: 'USA special', rate: 1_000n },
    ]);
    // Reseller at the default 20%: every row a copy, one copied at a stale markup (stays).
    const copies = await plan('R-copies', byDefault, wholesaleId);
    await insert(copies, [...wholesale.slice(0, 4).map((r) => up(r, 20_000_000n)), up(wholesale[4], 30_000_000n)]);
    // A reseller plan not derived from wholesale, with a row equal to a marked-up one: untouched.
    const own = await plan('R-own', halfUp, null);
    await insert(own, [up(wholesale[0], 12_500_000n)]);
    // A derived plan with nothing to remove keeps its version.
    const overridesOnly = await plan('R-overrides', halfUp, wholesaleId);
    await insert(overridesOnly, [{ prefix: '44', destination: 'UK', rate: 1n }]);

    await migrateToLatest(handle.db, handle.dialect);

    const rowsOf = async (planId: number) => (await db.selectFrom('rates').select(['prefix', 'destination', 'rate_micros'])
      .where('plan_id', '=', planId).orderBy('prefix').execute())
      .map((r: any) => `${r.prefix} ${r.destination} ${Number(r.rate_micros)}`);
    const versionOf = async (planId: number) => Number((await db.selectFrom('plans').select('rates_version').where('id', '=', planId).executeTakeFirstOrThrow()).rates_version);

    assert.deepEqual(await rowsOf(mixed), ['1234 USA special 1000', '33 France (own) 22500', '49 Germany 99000', '7 Russia 50000']);
    assert.deepEqual(await rowsOf(copies), ['33 France 26000']);
    assert.deepEqual(await rowsOf(own), ['1 USA 13500']);
    assert.deepEqual(await rowsOf(overridesOnly), ['44 UK 1']);
    assert.equal((await rowsOf(wholesaleId)).length, 5, 'the wholesale plan is untouched');
    assert.equal(await versionOf(mixed), 1);
    assert.equal(await versionOf(copies), 1);
    assert.equal(await versionOf(own), 0);
    assert.equal(await versionOf(overridesOnly), 0);
    assert.equal(await versionOf(wholesaleId), 0);
  });
});
