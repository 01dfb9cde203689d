// The built-in eSIM upstream: a realistic catalog (countries with their operators and network
// types, regions, 1-50 GB, 7-365 days, prices in 1/10,000 USD), orders once per transactionId,
// profiles after their allocation delay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EsimSimulator, simulatorCatalog } from '../../src/esim/upstream/simulator.js';

describe('eSIM simulator', () => {
  it('sells countries and regions, 1 to 50 GB, 7 to 365 days, each with its operators and network types', () => {
    const catalog = simulatorCatalog();
    assert.equal(new Set(catalog.map((p) => p.packageCode)).size, catalog.length, 'codes are unique');
    const gb = catalog.map((p) => p.volume / 1024 ** 3);
    assert.deepEqual([Math.min(...gb), Math.max(...gb)], [1, 50]);
    const days = catalog.map((p) => p.duration);
    assert.deepEqual([Math.min(...days), Math.max(...days)], [7, 365]);
    const europe = catalog.find((p) => p.packageCode === 'EU-5GB-30D')!;
    assert.equal(europe.name, 'Europe 5GB 30 Days');
    assert.ok(europe.location.split(',').includes('DE'));
    const germany = europe.locationNetworkList.find((l) => l.locationCode === 'DE')!;
    assert.deepEqual(germany.operatorList[0], { operatorName: 'Telekom', networkType: '5G' });
    assert.ok(catalog.every((p) => Number.isInteger(p.price) && p.price > 0 && p.price % 100 === 0));
    // Regions cost more per GB than the cheapest of their countries; more data costs more.
    const de5 = catalog.find((p) => p.packageCode === 'DE-5GB-30D')!;
    assert.ok(europe.price > de5.price);
    assert.ok(catalog.find((p) => p.packageCode === 'DE-10GB-30D')!.price > de5.price);
    // The original document's example package.
    assert.equal(catalog.find((p) => p.packageCode === 'P2CYMUS93')?.name, 'United States 3GB 15 Days');
  });

  it('orders once per transactionId and allocates the profile after its delay', async () => {
    const sim = new EsimSimulator(50);
    const [pkg] = await sim.listPackages();
    const placed = await sim.order('t1', pkg.packageCode, pkg.price);
    assert.ok(placed.placed);
    assert.deepEqual(await sim.order('t1', pkg.packageCode, pkg.price), { placed: false, errorCode: '200011', errorMsg: 'duplicate transactionId' });
    assert.equal((await sim.order('t2', pkg.packageCode, pkg.price + 1)).placed, false);
    assert.equal(await sim.orderOfTransaction('t1'), placed.orderNo);
    assert.equal(await sim.orderOfTransaction('t2'), null);
    assert.deepEqual(await sim.profiles(placed.orderNo), []);
    await new Promise((r) => setTimeout(r, 60));
    const [profile] = await sim.profiles(placed.orderNo);
    assert.match(profile.iccid, /^\d{19}$/);
    assert.equal(profile.ac, `LPA:1$rsp.simulator.invalid$${placed.orderNo}`);
    assert.equal(profile.totalVolume, pkg.volume);
  });
});
