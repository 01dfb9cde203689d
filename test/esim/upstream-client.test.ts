// The eSIM upstream client against a fake of the upstream on loopback that checks every
// signature: the requests are signed as the upstream checks them, paced to its rate limit,
// retried with back-off on 429 and 5xx when they are idempotent, timed out, and an order whose
// answer was lost is found again by its transactionId instead of being placed twice.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EsimAccessClient, signRequest } from '../../src/esim/upstream/client.js';
import { UpstreamUnavailable } from '../../src/esim/upstream/upstream.js';
import { FAKE_PACKAGES, startFakeUpstream, type FakeUpstream } from '../helpers/esim-upstream.js';

describe('eSIM upstream client', () => {
  let fake: FakeUpstream;
  const client = (extra: Partial<ConstructorParameters<typeof EsimAccessClient>[0]> = {}) => new EsimAccessClient({
    baseUrl: fake.url, accessCode: fake.accessCode, secretKey: fake.secretKey, requestsPerSecond: 50, timeoutMs: 500, backoffMs: 20, ...extra,
  });
  before(async () => { fake = await startFakeUpstream(); });
  after(async () => { await fake?.close(); });

  it('signs every request as the upstream checks it: HMAC-SHA256 of timestamp, request id, access code and body', async () => {
    fake.requests.length = 0;
    const packages = await client().listPackages();
    assert.deepEqual(packages.map((p) => p.packageCode), FAKE_PACKAGES.map((p) => p.packageCode));
    const [req] = fake.requests;
    assert.equal(req.signatureValid, true);
    const { headers } = req;
    const body = JSON.stringify(req.body);
    assert.equal(headers['rt-signature'], signRequest(fake, String(headers['rt-timestamp']), String(headers['rt-requestid']), body));
    assert.match(String(headers['rt-signature']), /^[0-9a-f]{64}$/);
    // A client with the wrong secret is refused by the upstream, as an answer.
    await assert.rejects(() => client({ secretKey: 'wrong' }).listPackages(), /signature invalid/);
    // The same inputs sign the same; another body does not.
    assert.notEqual(signRequest(fake, '1', 'r', '{}'), signRequest(fake, '1', 'r', '{"a":1}'));
    assert.equal(crypto.createHmac('sha256', fake.secretKey).update(`1r${fake.accessCode}{}`).digest('hex'), signRequest(fake, '1', 'r', '{}'));
  });

  it('retries an idempotent request on 429 and 5xx with back-off, then gives up as unavailable', async () => {
    fake.requests.length = 0;
    fake.failNext('package/list', [429, 503, 500]);
    const packages = await client().listPackages();
    assert.equal(packages.length, FAKE_PACKAGES.length);
    const tries = fake.requests.filter((r) => r.path === 'package/list');
    assert.equal(tries.length, 4);
    assert.ok(tries[3].at - tries[0].at >= 20 + 40 + 80 - 15, 'backed off between tries');
    assert.equal(new Set(tries.map((r) => r.headers['rt-requestid'])).size, 4, 'each try signed anew');

    fake.failNext('package/list', [502, 502, 502, 502]);
    await assert.rejects(() => client().listPackages(), UpstreamUnavailable);
  });

  it('paces requests to the upstream\'s rate limit', async () => {
    fake.requests.length = 0;
    const c = client({ requestsPerSecond: 20 });
    // Measured from before the first send, not from the first arrival: a first request that
    // arrives late (a busy machine) would make a correct pacer look too fast. The tenth may
    // leave no earlier than 9 × 50 ms after the first, so it arrives no earlier than that.
    const startedAt = Date.now();
    await Promise.all(Array.from({ length: 10 }, () => c.listPackages()));
    const at = fake.requests.map((r) => r.at).sort((a, b) => a - b);
    assert.equal(at.length, 10);
    assert.ok(at[9] - startedAt >= 9 * 50 - 2, `10 requests within ${at[9] - startedAt} ms at 20 a second`);
    assert.ok(at[4] - startedAt >= 4 * 50 - 2, `5 requests within ${at[4] - startedAt} ms at 20 a second`);
  });

  it('an order is placed once; a refusal is an answer; a lost answer is found again by its transactionId', async () => {
    const c = client();
    const placed = await c.order('tx-1', 'EU-5GB-30D', 65000);
    assert.equal(placed.placed, true);
    const again = await c.order('tx-1', 'EU-5GB-30D', 65000);
    assert.deepEqual(again, { placed: false, errorCode: '200011', errorMsg: 'duplicate transactionId' });
    assert.equal(await c.orderOfTransaction('tx-1'), placed.placed ? placed.orderNo : null);

    fake.refused.add('US-1GB-7D');
    const refused = await c.order('tx-2', 'US-1GB-7D', 18000);
    assert.equal(refused.placed, false);
    assert.equal(await c.orderOfTransaction('tx-2'), null);
    const changed = await c.order('tx-3', 'EU-5GB-30D', 60000);
    assert.deepEqual(changed.placed ? null : changed.errorCode, '200010');

    // The upstream places the order but its answer comes after the client's timeout.
    fake.holdNext('esim/order', 1000);
    await assert.rejects(() => c.order('tx-4', 'EU-5GB-30D', 65000), UpstreamUnavailable);
    const found = await c.orderOfTransaction('tx-4');
    assert.match(String(found), /^B\d{8}$/);
    // Not retried by the client: one order request for tx-4.
    assert.equal(fake.requests.filter((r) => r.path === 'esim/order' && r.body.transactionId === 'tx-4').length, 1);
  });

  it('profiles are empty while allocated, then carry the ICCID and the LPA activation code', async () => {
    const c = client();
    fake.allocationMs = 300;
    const placed = await c.order('tx-5', 'US-1GB-7D-NOPE', 1);
    assert.equal(placed.placed, false);
    fake.refused.delete('US-1GB-7D');
    const order = await c.order('tx-6', 'US-1GB-7D', 18000);
    assert.ok(order.placed);
    assert.deepEqual(await c.profiles(order.orderNo), []);
    await new Promise((r) => setTimeout(r, 350));
    const [profile] = await c.profiles(order.orderNo);
    assert.match(profile.iccid, /^\d{19}$/);
    assert.match(profile.ac, /^LPA:1\$/);
    assert.equal(profile.totalVolume, 1024 ** 3);
    assert.equal(profile.transactionId, 'tx-6');
  });
});
