import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  accountRow, callFrom, createAdminClient, createReseller, createResellerClient, MARKUP_PERCENT, RESELLER_BALANCE, RETAIL,
  wholesalePlan, WHOLESALE, type PortalClient, type TestReseller,
} from './portal-fixtures.js';

const PORTAL_READS = ['client-dashboard', 'client-sip', 'client-calls', 'client-failed-calls', 'client-refills', 'client-callerids', 'client-rates'];
const PORTAL_ENDPOINTS = ['portal-bootstrap', 'client-auth', ...PORTAL_READS];
/** The agent's own pages of its portal (their answers are about the agent, so not walked for leaks to clients). */
const AGENT_ENDPOINTS = ['agent-auth'];
const ACCOUNT_ENDPOINTS = ['check-client-login', 'reset-client-password', 'set-client-password', 'client-change-password',
  'reset-client-sip-password', 'client-profile-update'];

describe('reseller api: white-label portal endpoints', () => {
  let t: TestServer;
  let planId: number;
  let agent: TestReseller;
  let rival: TestReseller;
  let alice: PortalClient;
  let bob: PortalClient;
  let rivalClient: PortalClient;
  let direct: PortalClient;
  let switchKey: string;

  const get = (endpoint: string, query: Record<string, string | number>, key = agent.key) => t.call('reseller', endpoint, { key, query });

  before(async () => {
    t = await startTestServer({ JANUS_TOKEN_SECRET: 'portal-test-janus-secret' });
    planId = await wholesalePlan(t);
    agent = await createReseller(t, planId);
    rival = await createReseller(t, planId);
    alice = await createResellerClient(t, agent, 'portal-alice', 'AlicePass123');
    bob = await createResellerClient(t, agent, 'portal-bob', 'BobPass12345');
    rivalClient = await createResellerClient(t, rival, 'rival-carol', 'CarolPass123');
    direct = await createAdminClient(t, planId, 'direct-dave', 'DavePass1234');
    switchKey = (await t.admin('create-switch-key', { name: 'portal-sw' })).api_key;

    // Alice's history: a refill, an answered and a failed call, a caller ID, an IP-auth peer and
    // a web phone account (service accounts), an additional SIP account.
    await t.admin('refill', { login: alice.login, amount: '12.3456', description: 'Opening' });
    const cdr = (body: Record<string, unknown>) => t.call('switch', 'cdr', { key: switchKey, body });
    const answered = await cdr({ uniqueid: 'portal-call-answered', sip_login: alice.sip, destination: '+442071234567',
      start_time: '2026-11-27 10:00:00', answered_seconds: 61, disposition: 'ANSWERED' });
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    const failed = await cdr({ uniqueid: 'portal-call-failed', sip_login: alice.sip, destination: '+12125550100',
      start_time: '2026-11-27 10:05:00', answered_seconds: 0, disposition: 'NO ANSWER', hangup_cause: 'NO_ANSWER' });
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    assert.equal((await t.call('client', 'add-callerid', { key: alice.key, body: { cid: '+15551230000', set_active: true } })).status, 200);
    assert.equal((await t.call('client', 'create-sip', { key: alice.key, body: {} })).status, 200);
    assert.equal((await t.call('client', 'ip-auth-create', { key: alice.key, body: { sip_login: alice.sip, ip: '203.0.113.10' } })).status, 200);
    const { insertSipAccount } = await import('../../src/sip/sip-accounts.js');
    const aliceRow = await accountRow(t, alice.id);
    await t.server.ctx.db.transaction().execute((trx) => insertSipAccount(t.server.ctx, trx, aliceRow, `${alice.login}_web1`, 'web', 'WebSecret12345'));
  });
  after(async () => t.close());

  describe('portal-bootstrap', () => {
    it('answers the portal login, API version, server time and offset, and the endpoints', async () => {
      const res = await get('portal-bootstrap', {});
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ok, true);
      assert.equal(res.body.portal.login, agent.login);
      assert.equal(typeof res.body.portal.name, 'string');
      assert.equal(res.body.portal.active, true);
      assert.equal(typeof res.body.api_version, 'string');
      assert.match(res.body.server_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(res.body.server_utc_offset, /^[+-]\d{2}:\d{2}$/);
      for (const name of [...PORTAL_ENDPOINTS, ...AGENT_ENDPOINTS, ...ACCOUNT_ENDPOINTS]) assert.ok(res.body.endpoints.includes(name), name);
      assert.equal(JSON.stringify(res.body).includes(agent.key), false, 'the API key is never echoed');
    });

    it('is for reseller keys only', async () => {
      assert.equal((await t.call('reseller', 'portal-bootstrap', { key: alice.key })).status, 403);
      assert.equal((await t.call('reseller', 'portal-bootstrap', {})).status, 403, 'the admin key is not a reseller key');
      assert.equal((await t.call('reseller', 'portal-bootstrap', { key: null })).status, 401);
      assert.equal((await t.call('reseller', 'portal-bootstrap', { key: 'll_nope' })).status, 401);
      assert.equal((await t.call('reseller', 'portal-bootstrap', { key: agent.key, body: {} })).status, 200, 'a read may be POSTed');
    });
  });

  describe('client-auth', () => {
    const auth = (addr: string, body: Record<string, unknown>, key = agent.key) => callFrom(t, addr, 'reseller', 'client-auth', key, body);

    it('returns the public profile for the right password', async () => {
      const res = await auth('127.0.1.1', { login: alice.login, password: 'AlicePass123' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ok, true);
      assert.equal(res.body.authenticated, true);
      const c = res.body.client;
      assert.equal(c.login, alice.login);
      assert.equal(c.id, alice.id);
      assert.equal(c.active, true);
      assert.equal(c.id_plan, agent.retailPlanId);
      assert.equal(typeof c.plan_name, 'string');
      for (const key of ['name', 'email', 'phone', 'language', 'created_at']) assert.ok(key in c, key);
      assert.equal('password_hash' in c, false);
      assert.equal('password' in c, false);
    });

    it('a wrong password answers 403 INVALID_CREDENTIALS', async () => {
      const res = await auth('127.0.1.2', { login: bob.login, password: 'WrongPass999' });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'INVALID_CREDENTIALS');
    });

    it('validates login, password and client_ip (400 naming the field), and answers only POST', async () => {
      for (const [body, field] of [
        [{ password: 'AlicePass123' }, 'login'], [{ login: '', password: 'AlicePass123' }, 'login'], [{ login: [42], password: 'x' }, 'login'],
        [{ login: alice.login }, 'password'], [{ login: alice.login, password: '' }, 'password'], [{ login: alice.login, password: 123 }, 'password'],
        [{ login: alice.login, password: 'AlicePass123', client_ip: 'not-an-ip' }, 'client_ip'],
      ] as const) {
        const res = await auth('127.0.1.3', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, field);
      }
      const viaGet = await get('client-auth', { login: alice.login, password: 'AlicePass123' });
      assert.equal(viaGet.status, 405);
    });

    it('another reseller\'s client, an admin client and an unknown login answer 404, even with the right password', async () => {
      for (const [login, password] of [[rivalClient.login, rivalClient.password], [direct.login, direct.password], ['nobody-here', 'Whatever123']]) {
        const res = await auth('127.0.1.4', { login, password });
        assert.equal(res.status, 404, `${login}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'NOT_FOUND');
      }
      // The rival's own portal still logs its client in.
      const own = await auth('127.0.1.4', { login: rivalClient.login, password: rivalClient.password }, rival.key);
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    it('refuses an inactive client and a client of an inactive reseller with 403 ACCOUNT_INACTIVE', async () => {
      const other = await createReseller(t, planId);
      const erin = await createResellerClient(t, other, 'portal-erin', 'ErinPass1234');
      const frank = await createResellerClient(t, agent, 'portal-frank', 'FrankPass123');

      await t.admin('set-account-status', { login: frank.login, active: false });
      const inactive = await auth('127.0.1.5', { login: frank.login, password: frank.password });
      assert.equal(inactive.status, 403, JSON.stringify(inactive.body));
      assert.equal(inactive.body.code, 'ACCOUNT_INACTIVE');
      // Without the password nobody learns the status.
      const guess = await auth('127.0.1.5', { login: frank.login, password: 'Guess12345' });
      assert.equal(guess.body.code, 'INVALID_CREDENTIALS');

      await t.admin('set-account-status', { login: other.login, active: false });
      const ofInactive = await auth('127.0.1.5', { login: erin.login, password: erin.password }, other.key);
      assert.equal(ofInactive.status, 403, JSON.stringify(ofInactive.body));
      assert.equal(ofInactive.body.code, 'ACCOUNT_INACTIVE');
      await t.admin('set-account-status', { login: other.login, active: true });
      assert.equal((await auth('127.0.1.5', { login: erin.login, password: erin.password }, other.key)).status, 200);
    });

    it('after 5 wrong passwords the login is rate-limited (429), even with the right one, from any address', async () => {
      const gina = await createResellerClient(t, agent, 'portal-gina', 'GinaPass1234');
      for (let i = 0; i < 5; i++) {
        const res = await auth('127.0.1.11', { login: gina.login, password: `Guess${i}word99` });
        assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
      }
      const right = await auth('127.0.1.11', { login: gina.login, password: gina.password });
      assert.equal(right.status, 429, JSON.stringify(right.body));
      assert.equal(right.body.ok, false);
      assert.equal(right.body.code, 'RATE_LIMITED');
      assert.equal((await auth('127.0.1.12', { login: gina.login, password: gina.password })).status, 429);
    });

    it('failed checks are limited per address too: the client_ip the portal passes', async () => {
      const hal = await createResellerClient(t, agent, 'portal-hal', 'HalPass12345');
      const ivy = await createResellerClient(t, agent, 'portal-ivy', 'IvyPass12345');
      const visitor = '198.51.100.21';
      for (let i = 0; i < 5; i++) {
        assert.equal((await auth('127.0.1.21', { login: hal.login, password: `Nope${i}nope99`, client_ip: visitor })).status, 403);
      }
      const fromSame = await auth('127.0.1.21', { login: ivy.login, password: ivy.password, client_ip: visitor });
      assert.equal(fromSame.status, 429, JSON.stringify(fromSame.body));
      const fromOther = await auth('127.0.1.21', { login: ivy.login, password: ivy.password, client_ip: '198.51.100.22' });
      assert.equal(fromOther.status, 200, JSON.stringify(fromOther.body));
      // Without client_ip the portal's own address is nobody's: the per-login limit only.
      const noClientIp = await auth('127.0.1.21', { login: ivy.login, password: ivy.password });
      assert.equal(noClientIp.status, 200, JSON.stringify(noClientIp.body));
    });

    it('probing logins that are not the reseller\'s counts against the address, never against those logins', async () => {
      const max = await createResellerClient(t, agent, 'portal-max', 'MaxPass12345');
      const prober = '198.51.100.25';
      for (let i = 0; i < 5; i++) {
        const res = await auth('127.0.1.25', { login: i % 2 ? rivalClient.login : `nobody-${i}`, password: 'Whatever123', client_ip: prober });
        assert.equal(res.status, 404, JSON.stringify(res.body));
      }
      const blocked = await auth('127.0.1.25', { login: max.login, password: max.password, client_ip: prober });
      assert.equal(blocked.status, 429, JSON.stringify(blocked.body));
      assert.equal((await auth('127.0.1.25', { login: 'nobody-9', password: 'Whatever123', client_ip: prober })).status, 429);
      // The probed client of the other reseller is not locked out of its own portal.
      const own = await auth('127.0.1.26', { login: rivalClient.login, password: rivalClient.password, client_ip: prober }, rival.key);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal((await auth('127.0.1.25', { login: max.login, password: max.password, client_ip: '198.51.100.26' })).status, 200);
    });

    it('with client_ip the per-address limit counts the end user\'s address instead of the portal\'s', async () => {
      const jo = await createResellerClient(t, agent, 'portal-jo', 'JoPass123456');
      const kim = await createResellerClient(t, agent, 'portal-kim', 'KimPass12345');
      for (let i = 0; i < 5; i++) {
        assert.equal((await auth('127.0.1.31', { login: jo.login, password: `Nope${i}nope99`, client_ip: '198.51.100.7' })).status, 403);
      }
      // Another visitor of the same portal is not locked out...
      const other = await auth('127.0.1.31', { login: kim.login, password: kim.password, client_ip: '198.51.100.8' });
      assert.equal(other.status, 200, JSON.stringify(other.body));
      // ...the guessing visitor is, for any login.
      const same = await auth('127.0.1.31', { login: kim.login, password: kim.password, client_ip: '198.51.100.7' });
      assert.equal(same.status, 429, JSON.stringify(same.body));
    });
  });

  describe('client-dashboard', () => {
    it('shows the visible balance with 4 decimals, plan, status and counts', async () => {
      const res = await get('client-dashboard', { login: alice.login });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const c = res.body.client;
      assert.equal(c.login, alice.login);
      // 12.3456 refilled, one 66 s UK call at the retail 0.040763/min: 0.0448393 → 0.044839.
      // A JSON number, exact to the micro, like every Reseller API amount (12.300761 shown as 12.3008 by the Client API).
      assert.equal(c.balance, 12.300761);
      assert.equal(c.id_plan, agent.retailPlanId);
      assert.equal(typeof c.plan_name, 'string');
      assert.equal(c.active, true);
      assert.equal(c.callerid, '+15551230000');
      assert.deepEqual(res.body.counts, { sip_accounts: 2, callerids: 1, calls: 1, failed_calls: 1, refills: 1 });
    });

    it('an inactive client reads as inactive', async () => {
      const lea = await createResellerClient(t, agent, 'portal-lea', 'LeaPass12345');
      await t.admin('set-account-status', { login: lea.login, active: false });
      const res = await get('client-dashboard', { login: lea.login });
      assert.equal(res.status, 200);
      assert.equal(res.body.client.active, false);
      assert.equal(res.body.client.balance, 0);
    });
  });

  describe('client-sip', () => {
    it('lists SIP accounts without passwords; service accounts only with include_service=1', async () => {
      const res = await get('client-sip', { login: alice.login });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.sip_accounts.map((s: any) => s.name), [alice.sip, `${alice.login}02`]);
      assert.deepEqual(res.body.sip_accounts.map((s: any) => s.type), ['main', 'additional']);
      for (const s of res.body.sip_accounts) {
        assert.equal('password' in s, false);
        assert.equal(typeof s.host, 'string');
      }
      const all = await get('client-sip', { login: alice.login, include_service: 1 });
      assert.equal(all.status, 200);
      const names = all.body.sip_accounts.map((s: any) => s.name);
      assert.ok(names.includes(`${alice.sip}_ipa1`), names.join(','));
      assert.ok(names.includes(`${alice.login}_web1`), names.join(','));
      assert.equal(JSON.stringify(all.body).includes('WebSecret12345'), false);
      for (const s of all.body.sip_accounts) assert.equal('password' in s, false);
      assert.equal((await get('client-sip', { login: alice.login, include_service: 0 })).body.sip_accounts.length, 2);
    });

    it('include_service must be 0 or 1', async () => {
      const res = await get('client-sip', { login: alice.login, include_service: 'maybe' });
      assert.equal(res.status, 400);
      assert.equal(res.body.field, 'include_service');
    });
  });

  describe('client-calls, client-failed-calls', () => {
    it('lists answered calls at the client\'s retail price', async () => {
      const res = await get('client-calls', { login: alice.login, limit: 50 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 1);
      assert.equal(res.body.limit, 50);
      const call = res.body.calls[0];
      assert.equal(call.uniqueid, 'portal-call-answered');
      assert.equal(call.sessiontime, 61);
      assert.equal(call.billed_seconds, 66);
      assert.equal(call.cost, 0.0448);
      assert.equal(call.disposition, 'ANSWERED');
      assert.equal(call.destination_name, 'UK');
    });

    it('lists failed calls separately', async () => {
      const res = await get('client-failed-calls', { login: alice.login, limit: 10 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 1);
      assert.equal(res.body.calls[0].uniqueid, 'portal-call-failed');
      assert.equal(res.body.calls[0].disposition, 'NO ANSWER');
      assert.equal(res.body.calls[0].cost, 0);
    });

    it('validates limit and offset', async () => {
      for (const endpoint of ['client-calls', 'client-failed-calls', 'client-refills', 'client-rates']) {
        for (const [query, field] of [[{ limit: 0 }, 'limit'], [{ limit: 'ten' }, 'limit'], [{ offset: -1 }, 'offset']] as const) {
          const res = await get(endpoint, { login: alice.login, ...query });
          assert.equal(res.status, 400, `${endpoint} ${JSON.stringify(query)}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.field, field);
        }
      }
    });
  });

  describe('client-refills, client-callerids', () => {
    it('lists refills', async () => {
      const res = await get('client-refills', { login: alice.login, limit: 5 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 1);
      assert.equal(res.body.refills[0].amount, 12.3456);
      assert.equal(res.body.refills[0].balance_after, 12.3456);
    });

    it('lists caller IDs with the active one', async () => {
      const res = await get('client-callerids', { login: alice.login });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 1);
      assert.equal(res.body.callerids[0].cid, '+15551230000');
      assert.equal(res.body.callerids[0].active, true);
    });
  });

  /** The retail prices as the Reseller API renders amounts: JSON numbers. */
  const retailNumbers = (prefix: keyof typeof RETAIL) => ({ rate: Number(RETAIL[prefix].rate), connect_charge: Number(RETAIL[prefix].connect_charge) });

  describe('client-rates', () => {
    it('lists the retail rates of the client\'s plan, never wholesale', async () => {
      const res = await get('client-rates', { login: alice.login, limit: 100 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 3);
      assert.equal(res.body.plan.id, agent.retailPlanId);
      assert.deepEqual(res.body.rates, [
        { prefix: '1', destination: 'USA', ...retailNumbers('1'), initblock: 1, billingblock: 1, minimal_time: 0 },
        { prefix: '44', destination: 'UK', ...retailNumbers('44'), initblock: 60, billingblock: 6, minimal_time: 0 },
        { prefix: '447', destination: 'UK Mobile', ...retailNumbers('447'), initblock: 60, billingblock: 6, minimal_time: 0 },
      ]);
    });

    it('pages with limit and offset', async () => {
      const res = await get('client-rates', { login: alice.login, limit: 1, offset: 1 });
      assert.equal(res.status, 200);
      assert.equal(res.body.total, 3);
      assert.deepEqual(res.body.rates.map((r: any) => r.prefix), ['44']);
    });
  });

  describe('tenancy', () => {
    it('every portal read answers 400 without login and 404 for another reseller\'s, an admin or an unknown client', async () => {
      for (const endpoint of PORTAL_READS) {
        const missing = await get(endpoint, {});
        assert.equal(missing.status, 400, `${endpoint}: ${JSON.stringify(missing.body)}`);
        assert.equal(missing.body.field, 'login');
        for (const login of [rivalClient.login, direct.login, 'nobody-here', agent.login, rival.login]) {
          const res = await get(endpoint, { login });
          assert.equal(res.status, 404, `${endpoint} ${login}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.ok, false);
          assert.equal(res.body.code, 'NOT_FOUND');
          assert.equal(res.body.error, 'Client not found', 'the same answer for every foreign login');
        }
        // The owner reads its client.
        assert.equal((await get(endpoint, { login: rivalClient.login }, rival.key)).status, 200);
      }
    });

    it('client and admin keys cannot use the portal endpoints', async () => {
      for (const endpoint of PORTAL_READS) {
        assert.equal((await get(endpoint, { login: alice.login }, alice.key)).status, 403, endpoint);
        assert.equal((await get(endpoint, { login: alice.login }, t.adminKey)).status, 403, endpoint);
      }
    });
  });

  describe('nothing of the reseller leaks', () => {
    const FORBIDDEN_KEY = /reseller|wholesale|markup|credit|reserv|agent|owner|parent|cost_price|buy_?rate/i;
    /** The client's own balance (and a refill's balance after it) are its to see; any other balance is not. */
    const forbiddenKey = (k: string) => FORBIDDEN_KEY.test(k) || (/balance/i.test(k) && k !== 'balance' && k !== 'balance_after');

    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    /** A decimal amount in any rendering (0.0297, 0.029700, 0.0297000), not as part of another number. */
    const amount = (text: string) => new RegExp(`(?<![\\d.])${escape(text)}0*(?!\\d)`);
    /** An integer (micro-units) standing alone. */
    const integer = (text: string) => new RegExp(`(?<!\\d)${text}(?!\\d)`);
    const micros = (decimal: string) => {
      const [whole, frac = ''] = decimal.split('.');
      return String(BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, '0')));
    };

    /** Every value the reseller must keep from its clients, in the forms a leak could take. */
    function secretPatterns(): RegExp[] {
      const patterns = [
        // The reseller's balance, before and after its wholesale charges (98765.xxxx, 98764.xxxx).
        /(?<![\d.])9876\d\.\d/, /(?<!\d)9876\d{7}(?!\d)/,
        amount(MARKUP_PERCENT), amount('1.3725'), amount('0.3725'), integer(micros(MARKUP_PERCENT)),
        // Its credit limit and open reservations (set below).
        amount('55443.2211'), integer('55443221100'), amount('31.415926'), integer('31415926'),
        // Its wholesale cost of alice's UK call: 0.0297 * 66 / 60 = 0.03267.
        amount('0.03267'), amount('0.0327'), integer('32670'),
      ];
      for (const r of Object.values(WHOLESALE)) {
        patterns.push(amount(r.rate), integer(micros(r.rate)));
        if ('connect_charge' in r) patterns.push(amount(r.connect_charge), integer(micros(r.connect_charge)));
      }
      return patterns;
    }

    function walk(value: unknown, path: string, problems: string[]): void {
      if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, `${path}[${i}]`, problems));
      } else if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (forbiddenKey(k)) problems.push(`key ${path}.${k}`);
          walk(v, `${path}.${k}`, problems);
        }
      } else if (typeof value === 'string' || typeof value === 'number') {
        const text = String(value);
        for (const pattern of secretPatterns()) if (pattern.test(text)) problems.push(`value ${path} = ${text} (matches ${pattern})`);
      }
    }

    /** A request for every `client-*` endpoint; the test fails when the API serves one not listed here. */
    const clientEndpointRequests = (): Record<string, () => Promise<{ status: number; body: unknown }>> => {
      const reads = Object.fromEntries(PORTAL_READS.map((e) => [e, () => get(e, { login: alice.login, include_service: 1, limit: 500 })]));
      const post = (endpoint: string, body: Record<string, unknown>) => () => t.call('reseller', endpoint, { key: agent.key, body });
      return {
        ...reads,
        'client-auth': () => callFrom(t, '127.0.1.41', 'reseller', 'client-auth', agent.key, { login: alice.login, password: 'AlicePass123' }),
        'client-profile-update': post('client-profile-update', { login: alice.login, name: 'Alice Portal', language: 'en' }),
        'client-change-password': () => callFrom(t, '127.0.1.42', 'reseller', 'client-change-password', agent.key,
          { login: alice.login, current_password: 'AlicePass123', new_password: 'AlicePass123' }),
        'client-softphone-token': post('client-softphone-token', { login: alice.login }),
      };
    };

    it('no portal answer carries the reseller balance, wholesale rates, markup or credit logic', async () => {
      // The reseller really holds those numbers, and a credit line and open reservations too.
      const me = await accountRow(t, agent.id);
      assert.ok(String(me.balance_micros).startsWith(RESELLER_BALANCE.slice(0, 4)), String(me.balance_micros));
      await t.server.ctx.db.updateTable('accounts').set({ credit_limit_micros: 55_443_221_100n, postpaid: 1, reserved_micros: 31_415_926 })
        .where('id', '=', agent.id).execute();
      try {
        const bootstrap = await get('portal-bootstrap', {});
        assert.equal(bootstrap.status, 200);
        const served = (bootstrap.body.endpoints as string[]).filter((e) => e.startsWith('client-'));
        const requests = clientEndpointRequests();
        assert.deepEqual(served.filter((e) => !(e in requests)), [], 'every client-* endpoint is walked');

        const responses: Array<[string, unknown]> = [['portal-bootstrap', bootstrap.body]];
        for (const endpoint of served) {
          const res = await requests[endpoint]();
          assert.equal(res.status, 200, `${endpoint}: ${JSON.stringify(res.body)}`);
          responses.push([endpoint, res.body]);
        }
        for (const endpoint of PORTAL_READS) responses.push([`${endpoint}?defaults`, (await get(endpoint, { login: alice.login })).body]);
        assert.ok(responses.length >= 1 + PORTAL_ENDPOINTS.length - 1 + PORTAL_READS.length, String(responses.length));
        const problems: string[] = [];
        for (const [name, body] of responses) walk(body, name, problems);
        assert.deepEqual(problems, []);
      } finally {
        await t.server.ctx.db.updateTable('accounts').set({ credit_limit_micros: 0n, postpaid: 0, reserved_micros: 0 })
          .where('id', '=', agent.id).execute();
      }
    });

    it('the walker itself catches a leak', () => {
      const problems: string[] = [];
      walk({
        client: { balance: '1.0000', reseller_balance: 1 }, rates: [{ rate: WHOLESALE.uk.rate }, { rate: 0.0297 }, { rate: '0.029700' }],
        markup_percent: 5, note: 'Balance 98765.4321 left', markup: '37.25', limit: 55443221100,
      }, 'sample', problems);
      assert.equal(problems.length, 9, problems.join('\n'));
      const clean: string[] = [];
      walk({ balance: '12.3008', rate: '0.040763', id: 198765, time: '2026-11-27 10:37:25', token: '1764098765,janus' }, 'clean', clean);
      assert.deepEqual(clean, []);
    });
  });

  it('a read of the portal changes nothing', async () => {
    const before = await accountRow(t, alice.id);
    for (const endpoint of PORTAL_READS) await get(endpoint, { login: alice.login });
    assert.deepEqual(await accountRow(t, alice.id), before);
  });
});
