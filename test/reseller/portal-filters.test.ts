// The portal lists narrowed by the caller: `client-calls` and `client-failed-calls` to days of
// the calls' start time (`from`, `to`, in the billing timezone), `client-rates` by `search` (a
// prefix's leading digits, or part of a destination name). `total` counts what the filter keeps,
// and the cursor walks within it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createReseller, createResellerClient, type PortalClient, type TestReseller } from './portal-fixtures.js';

interface ListedCall { uniqueid: string; starttime: string }
interface ListedRate { prefix: string; destination: string; rate: number; connect_charge: number }

/** A wholesale deck with prefixes that share leading digits, and names that share words. */
const DECK = [
  { prefix: '1', destination: 'USA', rate: '0.0100' },
  { prefix: '44', destination: 'UK', rate: '0.0200' },
  { prefix: '4420', destination: 'UK London', rate: '0.0210' },
  { prefix: '447', destination: 'UK Mobile', rate: '0.1000' },
  { prefix: '49', destination: 'Germany', rate: '0.0300' },
  { prefix: '491', destination: 'Germany Mobile', rate: '0.1500' },
  { prefix: '5', destination: 'Latin America', rate: '0.0500' },
  { prefix: '8816', destination: 'Sat_Phone', rate: '1.0000' },
  { prefix: '99', destination: 'Test Network', rate: '0.0010' },
  { prefix: '990', destination: 'Test Network Two', rate: '0.0020' },
];

describe('reseller api: portal list filters', () => {
  let t: TestServer;
  let switchKey: string;
  let plain: TestReseller;
  let withOwn: TestReseller;
  let caller: PortalClient;
  let plainClient: PortalClient;
  let ownClient: PortalClient;

  const get = (endpoint: string, query: Record<string, string | number>, key = plain.key) => t.call('reseller', endpoint, { key, query });

  /** One call, authorized and then settled with the start time given (billing timezone). */
  async function call(c: PortalClient, startTime: string, disposition: 'ANSWERED' | 'BUSY' | 'NO ANSWER'): Promise<string> {
    const uniqueid = `pf-${startTime.replace(/\D/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
    const destination = '442071234567';
    const a = await t.call('switch', 'authorize', { key: switchKey, body: { uniqueid, sip_login: c.sip, destination } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    const settled = await t.call('switch', 'cdr', { key: switchKey, body: {
      uniqueid, sip_login: c.sip, destination, start_time: startTime,
      answered_seconds: disposition === 'ANSWERED' ? 30 : 0, disposition,
    } });
    assert.equal(settled.status, 200, JSON.stringify(settled.body));
    return uniqueid;
  }

  // Settled out of start-time order, so that the id order (newest first) and the start times differ.
  const ANSWERED = [
    ['mar2-first', '2026-03-02 00:00:00'],
    ['mar1-first', '2026-03-01 00:00:00'],
    ['mar3', '2026-03-03 09:00:00'],
    ['mar1-last', '2026-03-01 23:59:59'],
    ['feb28-last', '2026-02-28 23:59:59'],
    ['mar1-noon', '2026-03-01 12:00:00'],
    ['mar2-ten', '2026-03-02 10:00:00'],
  ] as const;
  const FAILED = [
    ['f-mar2', '2026-03-02 08:00:00', 'NO ANSWER'],
    ['f-mar1', '2026-03-01 08:00:00', 'BUSY'],
    ['f-mar5', '2026-03-05 08:00:00', 'BUSY'],
  ] as const;
  const ids = new Map<string, string>();
  /** The names of the calls listed, in the order listed. */
  const named = (calls: ListedCall[]) => calls.map((c) => [...ids].find(([, id]) => id === c.uniqueid)?.[0] ?? c.uniqueid);

  before(async () => {
    t = await startTestServer();
    const { plan } = await t.admin('create-plan', { name: `FILTERS-${crypto.randomBytes(3).toString('hex')}` });
    await t.admin('add-rates', { plan_id: plan.id, rates: DECK });
    plain = await createReseller(t, plan.id);
    withOwn = await createReseller(t, plan.id);
    // Overrides: one renames a wholesale prefix, one has a prefix of its own, one keeps a word of the name.
    await t.admin('add-rates', { plan_id: withOwn.retailPlanId, rates: [
      { prefix: '44', destination: 'Great Britain (own)', rate: '0.0111' },
      { prefix: '4930', destination: 'Berlin (own)', rate: '0.0222' },
      { prefix: '491', destination: 'Germany Mobile (own)', rate: '0.0333' },
    ] });
    caller = await createResellerClient(t, plain, 'filter-caller');
    plainClient = await createResellerClient(t, plain, 'filter-plain');
    ownClient = await createResellerClient(t, withOwn, 'filter-own');
    await t.admin('refill', { login: caller.login, amount: '50' });
    switchKey = (await t.admin('create-switch-key', { name: 'filters-sw' })).api_key;
    for (const [name, start] of ANSWERED) ids.set(name, await call(caller, start, 'ANSWERED'));
    for (const [name, start, disposition] of FAILED) ids.set(name, await call(caller, start, disposition));
  });
  after(async () => t.close());

  describe('client-calls and client-failed-calls: from and to', () => {
    it('keeps the calls started from the first second of from through the last of to, newest first', async () => {
      const day = await get('client-calls', { login: caller.login, from: '2026-03-01', to: '2026-03-01' });
      assert.equal(day.status, 200, JSON.stringify(day.body));
      assert.deepEqual(named(day.body.calls), ['mar1-noon', 'mar1-last', 'mar1-first']);
      assert.equal(day.body.total, 3);
      assert.equal(day.body.next, null);
      assert.deepEqual(day.body.calls.map((c: ListedCall) => c.starttime), ['2026-03-01 12:00:00', '2026-03-01 23:59:59', '2026-03-01 00:00:00']);

      const two = await get('client-calls', { login: caller.login, from: '2026-03-01', to: '2026-03-02' });
      assert.deepEqual(named(two.body.calls), ['mar2-ten', 'mar1-noon', 'mar1-last', 'mar1-first', 'mar2-first']);
      assert.equal(two.body.total, 5);

      const since = await get('client-calls', { login: caller.login, from: '2026-03-02' });
      assert.deepEqual(named(since.body.calls), ['mar2-ten', 'mar3', 'mar2-first']);
      assert.equal(since.body.total, 3);
      const until = await get('client-calls', { login: caller.login, to: '2026-02-28' });
      assert.deepEqual(named(until.body.calls), ['feb28-last']);
      assert.equal(until.body.total, 1);

      const none = await get('client-calls', { login: caller.login, from: '2026-04-01', to: '2026-04-30' });
      assert.deepEqual([none.body.total, none.body.calls, none.body.next], [0, [], null]);
      // Without a filter: every call, and the maintained total.
      const all = await get('client-calls', { login: caller.login });
      assert.equal(all.body.total, ANSWERED.length);
      assert.equal(all.body.calls.length, ANSWERED.length);
      // Empty values are no filter.
      assert.equal((await get('client-calls', { login: caller.login, from: '', to: '' })).body.total, ANSWERED.length);
    });

    it('pages within the filter by cursor and by offset, with the filtered total on every page', async () => {
      const window = { login: caller.login, from: '2026-03-01', to: '2026-03-02' };
      const seen: string[] = [];
      let page = await get('client-calls', { ...window, limit: 2 });
      for (;;) {
        assert.equal(page.status, 200, JSON.stringify(page.body));
        assert.equal(page.body.total, 5);
        seen.push(...named(page.body.calls));
        if (page.body.next === null) break;
        assert.equal(page.body.calls.length, 2);
        page = await get('client-calls', { ...window, limit: 2, after: page.body.next });
      }
      assert.deepEqual(seen, ['mar2-ten', 'mar1-noon', 'mar1-last', 'mar1-first', 'mar2-first']);

      const second = await get('client-calls', { ...window, limit: 2, offset: 2 });
      assert.deepEqual(named(second.body.calls), ['mar1-last', 'mar1-first']);
      assert.equal(second.body.total, 5);
      assert.notEqual(second.body.next, null);
      // A cursor taken without the filter still starts the filtered page past its row.
      const unfiltered = await get('client-calls', { login: caller.login, limit: 1 });
      assert.deepEqual(named(unfiltered.body.calls), ['mar2-ten']);
      const rest = await get('client-calls', { ...window, after: unfiltered.body.next });
      assert.deepEqual(named(rest.body.calls), ['mar1-noon', 'mar1-last', 'mar1-first', 'mar2-first']);
      assert.equal(rest.body.total, 5);
    });

    it('filters the failed calls the same way', async () => {
      const day = await get('client-failed-calls', { login: caller.login, from: '2026-03-01', to: '2026-03-01' });
      assert.equal(day.status, 200, JSON.stringify(day.body));
      assert.deepEqual(named(day.body.calls), ['f-mar1']);
      assert.equal(day.body.total, 1);
      const window = { login: caller.login, from: '2026-03-01', to: '2026-03-04' };
      const first = await get('client-failed-calls', { ...window, limit: 1 });
      assert.deepEqual(named(first.body.calls), ['f-mar1']);
      assert.equal(first.body.total, 2);
      const next = await get('client-failed-calls', { ...window, limit: 1, after: first.body.next });
      assert.deepEqual(named(next.body.calls), ['f-mar2']);
      assert.equal(next.body.total, 2);
      assert.equal(next.body.next, null);
      assert.equal((await get('client-failed-calls', { login: caller.login })).body.total, FAILED.length);
      // The answered list never holds a failed call, nor the other way round.
      assert.equal((await get('client-failed-calls', { login: caller.login, from: '2026-02-28', to: '2026-02-28' })).body.total, 0);
    });

    it('refuses a malformed day naming it, and to before from naming to', async () => {
      for (const endpoint of ['client-calls', 'client-failed-calls']) {
        for (const [query, field] of [
          [{ from: '2026-13-01' }, 'from'], [{ from: '2026-02-30' }, 'from'], [{ from: 'yesterday' }, 'from'],
          [{ from: '2026-03-01 10:00:00' }, 'from'], [{ from: '1999-12-31' }, 'from'],
          [{ to: '2026-3-1' }, 'to'], [{ to: '20260301' }, 'to'], [{ to: '2026-02-29' }, 'to'],
          [{ from: '2026-03-02', to: '2026-03-01' }, 'to'], [{ from: 'bad', to: '2026-03-01' }, 'from'],
        ] as const) {
          const res = await get(endpoint, { login: caller.login, ...query });
          assert.equal(res.status, 400, `${endpoint} ${JSON.stringify(query)}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.field, field, `${endpoint} ${JSON.stringify(query)}`);
        }
        const posted = await t.call('reseller', endpoint, { key: plain.key, body: { login: caller.login, from: 20260301 } });
        assert.equal(posted.status, 400, JSON.stringify(posted.body));
        assert.equal(posted.body.field, 'from');
      }
    });
  });

  describe('client-rates: search', () => {
    /** Every retail row of the client's plan, and the ones `search` should keep of them. */
    const everyRate = async (c: PortalClient, key: string): Promise<ListedRate[]> => {
      const res = await get('client-rates', { login: c.login, limit: 500 }, key);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, res.body.rates.length);
      return res.body.rates;
    };
    const expected = (rows: ListedRate[], search: string) => rows.filter((r) => (/^\d+$/.test(search.trim())
      ? r.prefix.startsWith(search.trim())
      : r.destination.toLowerCase().includes(search.trim().toLowerCase())));

    async function searchAgrees(c: PortalClient, key: string, search: string, prefixes: string[]): Promise<ListedRate[]> {
      const res = await get('client-rates', { login: c.login, limit: 500, search }, key);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.rates.map((r: ListedRate) => r.prefix), prefixes, `search ${search}`);
      assert.deepEqual(res.body.rates, expected(await everyRate(c, key), search), `search ${search}: the same rows as the whole list`);
      assert.equal(res.body.total, prefixes.length, `search ${search}: total`);
      return res.body.rates;
    }

    it('on a retail plan without rows of its own: prefixes by leading digits, destinations by text', async () => {
      await searchAgrees(plainClient, plain.key, '44', ['44', '4420', '447']);
      await searchAgrees(plainClient, plain.key, '4', ['44', '4420', '447', '49', '491']);
      await searchAgrees(plainClient, plain.key, '49', ['49', '491']);
      await searchAgrees(plainClient, plain.key, '99', ['99', '990']);
      await searchAgrees(plainClient, plain.key, '4421', []);
      await searchAgrees(plainClient, plain.key, 'uk', ['44', '4420', '447']);
      await searchAgrees(plainClient, plain.key, 'MOBILE', ['447', '491']);
      await searchAgrees(plainClient, plain.key, ' test network ', ['99', '990']);
      // LIKE's wildcards are text like any other.
      await searchAgrees(plainClient, plain.key, '_', ['8816']);
      await searchAgrees(plainClient, plain.key, '%', []);
      // The prices are the marked-up wholesale ones of the whole list.
      const [uk] = await searchAgrees(plainClient, plain.key, '447', ['447']);
      assert.equal(uk.rate, 0.13725);

      const paged = await get('client-rates', { login: plainClient.login, search: '4', limit: 2, offset: 1 });
      assert.deepEqual(paged.body.rates.map((r: ListedRate) => r.prefix), ['4420', '447']);
      assert.deepEqual([paged.body.total, paged.body.limit, paged.body.offset], [5, 2, 1]);
      assert.equal((await get('client-rates', { login: plainClient.login, search: '' })).body.total, DECK.length);
    });

    it('with overrides: an override is found by its own prefix and name, never by the wholesale row it replaces', async () => {
      await searchAgrees(ownClient, withOwn.key, '44', ['44', '4420', '447']);
      await searchAgrees(ownClient, withOwn.key, '49', ['49', '491', '4930']);
      await searchAgrees(ownClient, withOwn.key, '493', ['4930']);
      // 44 is "Great Britain (own)" here: no longer UK.
      await searchAgrees(ownClient, withOwn.key, 'uk', ['4420', '447']);
      const [gb] = await searchAgrees(ownClient, withOwn.key, 'britain', ['44']);
      assert.deepEqual([gb.destination, gb.rate], ['Great Britain (own)', 0.0111]);
      const mobile = await searchAgrees(ownClient, withOwn.key, 'mobile', ['447', '491']);
      assert.deepEqual(mobile.map((r) => r.destination), ['UK Mobile', 'Germany Mobile (own)']);
      await searchAgrees(ownClient, withOwn.key, '(own)', ['44', '491', '4930']);
      await searchAgrees(ownClient, withOwn.key, 'germany', ['49', '491']);
    });

    it('refuses a search longer than 100 characters, naming it', async () => {
      const res = await get('client-rates', { login: plainClient.login, search: 'x'.repeat(101) });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, 'search');
    });
  });
});
