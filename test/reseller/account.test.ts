import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  accountRow, callFrom, createAdminClient, createReseller, createResellerClient, wholesalePlan, type PortalClient, type TestReseller,
} from './portal-fixtures.js';

const md5 = (text: string) => crypto.createHash('md5').update(text).digest('hex');

describe('reseller api: agent-portal account endpoints', () => {
  let t: TestServer;
  let planId: number;
  let agent: TestReseller;
  let rival: TestReseller;
  let alice: PortalClient;
  let rivalClient: PortalClient;
  let direct: PortalClient;

  const post = (endpoint: string, body: Record<string, unknown>, key = agent.key) => t.call('reseller', endpoint, { key, body });
  const auth = (addr: string, login: string, password: string, key = agent.key) =>
    callFrom(t, addr, 'reseller', 'client-auth', key, { login, password });
  const sipRow = (name: string) => t.server.ctx.db.selectFrom('sip_accounts').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
  const subscriber = (name: string) => t.server.ctx.db.selectFrom('subscriber').selectAll().where('username', '=', name).executeTakeFirstOrThrow();
  const psAuth = (name: string) => t.server.ctx.db.selectFrom('ps_auths').selectAll().where('id', '=', name).executeTakeFirstOrThrow();

  /** What a foreign request must leave untouched: the account row and every SIP secret. */
  async function snapshot(c: PortalClient) {
    return {
      account: await accountRow(t, c.id),
      sip: await t.server.ctx.db.selectFrom('sip_accounts').selectAll().where('account_id', '=', c.id).orderBy('id').execute(),
      subscriber: await t.server.ctx.db.selectFrom('subscriber').selectAll().where('username', 'like', `${c.login}%`).orderBy('id').execute(),
    };
  }

  /** Runs fn against another reseller's client and an admin client: 404 each time, nothing changed. */
  async function assertForeign404(fn: (login: string) => Promise<{ status: number; body: any }>) {
    for (const c of [rivalClient, direct]) {
      const before = await snapshot(c);
      const res = await fn(c.login);
      assert.equal(res.status, 404, `${c.login}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.code, 'NOT_FOUND');
      assert.deepEqual(await snapshot(c), before, `${c.login} must be unchanged`);
    }
  }

  /** Deactivates the reseller around fn (writes then answer 403 ACCOUNT_INACTIVE). */
  async function whileAgentInactive(fn: () => Promise<void>) {
    await t.admin('set-account-status', { login: agent.login, active: false });
    try {
      await fn();
    } finally {
      await t.admin('set-account-status', { login: agent.login, active: true });
    }
  }

  before(async () => {
    t = await startTestServer();
    planId = await wholesalePlan(t);
    agent = await createReseller(t, planId);
    rival = await createReseller(t, planId);
    alice = await createResellerClient(t, agent, 'acct-alice', 'AlicePass123');
    rivalClient = await createResellerClient(t, rival, 'acct-rival', 'RivalPass123');
    direct = await createAdminClient(t, planId, 'acct-direct', 'DirectPass123');
  });
  after(async () => t.close());

  describe('check-client-login', () => {
    it('tells own clients (exists) from free logins (available), by GET or POST', async () => {
      const viaGet = await t.call('reseller', 'check-client-login', { key: agent.key, query: { login: alice.login } });
      assert.equal(viaGet.status, 200, JSON.stringify(viaGet.body));
      assert.deepEqual(viaGet.body, { ok: true, login: alice.login, exists: true, available: false });
      const viaPost = await post('check-client-login', { login: alice.login });
      assert.deepEqual(viaPost.body, viaGet.body);
      const free = await post('check-client-login', { login: 'fresh-login-1' });
      assert.deepEqual(free.body, { ok: true, login: 'fresh-login-1', exists: false, available: true });
    });

    it('a login used by anyone else is only "not available"', async () => {
      const extraSip = (await t.call('client', 'create-sip', { key: rivalClient.key, body: {} })).body.data.name;
      for (const login of [rivalClient.login, direct.login, rival.login, agent.login, 'admin', extraSip]) {
        const res = await post('check-client-login', { login });
        assert.equal(res.status, 200, `${login}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, { ok: true, login, exists: false, available: false }, login);
      }
    });

    it('validates the login (400 naming it); other methods answer 405', async () => {
      for (const body of [{}, { login: '' }, { login: 'a b' }, { login: 'x' }, { login: 12 }, { login: 'someone_web1' }]) {
        const res = await post('check-client-login', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, 'login');
      }
      const put = await t.call('reseller', 'check-client-login', { key: agent.key, method: 'PUT', body: { login: alice.login } });
      assert.equal(put.status, 405);
    });

    it('is for reseller keys only', async () => {
      assert.equal((await post('check-client-login', { login: alice.login }, alice.key)).status, 403);
      assert.equal((await post('check-client-login', { login: alice.login }, t.adminKey)).status, 403);
    });
  });

  describe('reset-client-password', () => {
    it('returns a new temporary password once; the old one stops working', async () => {
      const c = await createResellerClient(t, agent, 'acct-reset', 'OldPass12345');
      const res = await post('reset-client-password', { login: c.login });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.login, c.login);
      assert.match(res.body.password, /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z\d]{12,}$/);
      const row = await accountRow(t, c.id);
      assert.match(row.password_hash ?? '', /^scrypt\$/);
      assert.equal(row.password_hash?.includes(res.body.password), false);
      assert.equal((await auth('127.0.2.1', c.login, 'OldPass12345')).status, 403);
      assert.equal((await auth('127.0.2.1', c.login, res.body.password)).status, 200);
      const again = await post('reset-client-password', { login: c.login });
      assert.notEqual(again.body.password, res.body.password);
    });

    it('validates, guards tenancy, and refuses an inactive reseller', async () => {
      for (const body of [{}, { login: '' }, { login: [7] }]) {
        const res = await post('reset-client-password', body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.field, 'login');
      }
      assert.equal((await t.call('reseller', 'reset-client-password', { key: agent.key, query: { login: alice.login } })).status, 405);
      await assertForeign404((login) => post('reset-client-password', { login }));
      const before = await snapshot(alice);
      await whileAgentInactive(async () => {
        const res = await post('reset-client-password', { login: alice.login });
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
      });
      assert.deepEqual(await snapshot(alice), before);
    });
  });

  describe('set-client-password', () => {
    it('sets a strong password chosen by the portal', async () => {
      const c = await createResellerClient(t, agent, 'acct-set', 'OldPass12345');
      const res = await post('set-client-password', { login: c.login, password: 'Chosen12345x' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.login, c.login);
      assert.equal('password' in res.body, false, 'a chosen password is not echoed');
      assert.equal((await auth('127.0.2.2', c.login, 'Chosen12345x')).status, 200);
      assert.equal((await auth('127.0.2.2', c.login, 'OldPass12345')).status, 403);
    });

    it('a weak password answers 400 naming password and changes nothing', async () => {
      const before = await snapshot(alice);
      for (const password of [undefined, '', 'short1', 'lettersonly', '12345678', 'with space 123', 12345678, 'x1'.repeat(70)]) {
        const res = await post('set-client-password', { login: alice.login, password });
        assert.equal(res.status, 400, `${JSON.stringify(password)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, 'password');
      }
      assert.equal((await post('set-client-password', { password: 'Chosen12345x' })).body.field, 'login');
      assert.deepEqual(await snapshot(alice), before);
    });

    it('guards tenancy and refuses an inactive reseller', async () => {
      await assertForeign404((login) => post('set-client-password', { login, password: 'Hijack12345x' }));
      const before = await snapshot(alice);
      await whileAgentInactive(async () => {
        const res = await post('set-client-password', { login: alice.login, password: 'Chosen12345x' });
        assert.equal(res.status, 403);
        assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
      });
      assert.deepEqual(await snapshot(alice), before);
    });
  });

  describe('client-change-password', () => {
    const change = (addr: string, body: Record<string, unknown>, key = agent.key) => callFrom(t, addr, 'reseller', 'client-change-password', key, body);

    it('changes the password after checking the current one', async () => {
      const c = await createResellerClient(t, agent, 'acct-change', 'OldPass12345');
      const res = await change('127.0.2.10', { login: c.login, current_password: 'OldPass12345', new_password: 'NewPass12345' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.login, c.login);
      assert.equal(res.body.changed, true);
      const stale = await change('127.0.2.10', { login: c.login, current_password: 'OldPass12345', new_password: 'Third12345x' });
      assert.equal(stale.status, 403, JSON.stringify(stale.body));
      assert.equal(stale.body.code, 'INVALID_PASSWORD');
      assert.equal((await auth('127.0.2.10', c.login, 'NewPass12345')).status, 200);
    });

    it('validates current_password and new_password (400 naming the field)', async () => {
      const before = await snapshot(alice);
      for (const [body, field] of [
        [{ login: alice.login, new_password: 'NewPass12345' }, 'current_password'],
        [{ login: alice.login, current_password: '', new_password: 'NewPass12345' }, 'current_password'],
        [{ login: alice.login, current_password: 'AlicePass123' }, 'new_password'],
        [{ login: alice.login, current_password: 'AlicePass123', new_password: 'weak' }, 'new_password'],
        [{ current_password: 'AlicePass123', new_password: 'NewPass12345' }, 'login'],
      ] as const) {
        const res = await change('127.0.2.11', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, field);
      }
      assert.deepEqual(await snapshot(alice), before);
    });

    it('after 5 wrong current passwords the login is rate-limited (429), even with the right one', async () => {
      const c = await createResellerClient(t, agent, 'acct-limited', 'RightPass123');
      const before = await snapshot(c);
      for (let i = 0; i < 5; i++) {
        const res = await change('127.0.2.12', { login: c.login, current_password: `Guess${i}word99`, new_password: 'NewPass12345' });
        assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'INVALID_PASSWORD');
      }
      const right = await change('127.0.2.12', { login: c.login, current_password: 'RightPass123', new_password: 'NewPass12345' });
      assert.equal(right.status, 429, JSON.stringify(right.body));
      assert.equal(right.body.code, 'RATE_LIMITED');
      const elsewhere = await change('127.0.2.13', { login: c.login, current_password: 'RightPass123', new_password: 'NewPass12345' });
      assert.equal(elsewhere.status, 429);
      // The portal login of the same client is limited as well: it is one login.
      assert.equal((await auth('127.0.2.14', c.login, 'RightPass123')).status, 429);
      assert.deepEqual(await snapshot(c), before);
      // A reset by the reseller gives the client a way back in.
      const reset = await post('reset-client-password', { login: c.login });
      assert.equal((await auth('127.0.2.14', c.login, reset.body.password)).status, 200);
    });

    it('failed checks are limited per address too: the client_ip the portal passes', async () => {
      const a = await createResellerClient(t, agent, 'acct-addr-a', 'AddrPass123a');
      const b = await createResellerClient(t, agent, 'acct-addr-b', 'AddrPass123b');
      const visitor = '198.51.100.15';
      for (let i = 0; i < 5; i++) {
        const res = await change('127.0.2.15', { login: a.login, current_password: `Nope${i}nope99`, new_password: 'NewPass12345', client_ip: visitor });
        assert.equal(res.status, 403);
      }
      const same = await change('127.0.2.15', { login: b.login, current_password: 'AddrPass123b', new_password: 'NewPass12345', client_ip: visitor });
      assert.equal(same.status, 429, JSON.stringify(same.body));
      const other = await change('127.0.2.15', { login: b.login, current_password: 'AddrPass123b', new_password: 'NewPass12345', client_ip: '198.51.100.16' });
      assert.equal(other.status, 200, JSON.stringify(other.body));
    });

    it('guards tenancy; refuses an inactive client and an inactive reseller', async () => {
      await assertForeign404((login) => change('127.0.2.17', { login, current_password: 'RivalPass123', new_password: 'Hijack12345x' }));
      const c = await createResellerClient(t, agent, 'acct-sleepy', 'SleepyPass123');
      await t.admin('set-account-status', { login: c.login, active: false });
      const before = await snapshot(c);
      const inactive = await change('127.0.2.18', { login: c.login, current_password: 'SleepyPass123', new_password: 'NewPass12345' });
      assert.equal(inactive.status, 403, JSON.stringify(inactive.body));
      assert.equal(inactive.body.code, 'ACCOUNT_INACTIVE');
      assert.deepEqual(await snapshot(c), before);
      await whileAgentInactive(async () => {
        const res = await change('127.0.2.18', { login: alice.login, current_password: 'AlicePass123', new_password: 'NewPass12345' });
        assert.equal(res.status, 403);
        assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
      });
    });
  });

  describe('reset-client-sip-password', () => {
    let sipClient: PortalClient;
    let extraSip: string;

    before(async () => {
      sipClient = await createResellerClient(t, agent, 'acct-sip', 'SipOwner1234');
      extraSip = (await t.call('client', 'create-sip', { key: sipClient.key, body: {} })).body.data.name;
      const ipa = await t.call('client', 'ip-auth-create', { key: sipClient.key, body: { sip_login: sipClient.sip, ip: '198.51.100.44' } });
      assert.equal(ipa.status, 200, JSON.stringify(ipa.body));
      const { insertSipAccount } = await import('../../src/sip/sip-accounts.js');
      const row = await accountRow(t, sipClient.id);
      await t.server.ctx.db.transaction().execute((trx) => insertSipAccount(t.server.ctx, trx, row, `${sipClient.login}_web1`, 'web', 'WebSecret12345'));
    });

    it('resets the main SIP account by default, returns the password once and re-projects it', async () => {
      const before = await subscriber(sipClient.sip);
      const res = await post('reset-client-sip-password', { login: sipClient.login });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.login, sipClient.login);
      assert.equal(res.body.sip.name, sipClient.sip);
      const password = res.body.sip.password;
      assert.match(password, /^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z\d]{12,}$/);
      const realm = t.config.sipDomain;
      const after = await subscriber(sipClient.sip);
      assert.notEqual(after.ha1, before.ha1);
      assert.equal(after.ha1, md5(`${sipClient.sip}:${realm}:${password}`));
      assert.equal(after.ha1b, md5(`${sipClient.sip}@${realm}:${realm}:${password}`));
      assert.equal((await psAuth(sipClient.sip)).md5_cred, md5(`${sipClient.sip}:${realm}:${password}`));
      assert.equal((await sipRow(sipClient.sip)).ha1, after.ha1);
      // The client's own API lists it; the portal never does.
      const own = await t.call('client', 'sip', { key: sipClient.key });
      assert.equal(own.body.data.find((s: any) => s.name === sipClient.sip).password, password);
      const portal = await t.call('reseller', 'client-sip', { key: agent.key, query: { login: sipClient.login, include_service: 1 } });
      assert.equal(JSON.stringify(portal.body).includes(password), false);
      for (const s of portal.body.sip_accounts) assert.equal('password' in s, false);
    });

    it('resets an additional SIP account named by sip_login', async () => {
      const main = await sipRow(sipClient.sip);
      const res = await post('reset-client-sip-password', { login: sipClient.login, sip_login: extraSip });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.sip.name, extraSip);
      assert.equal((await subscriber(extraSip)).ha1, md5(`${extraSip}:${t.config.sipDomain}:${res.body.sip.password}`));
      assert.deepEqual(await sipRow(sipClient.sip), main, 'the main account is untouched');
    });

    it('never resets a service account (_webN, _ipaN)', async () => {
      const before = await snapshot(sipClient);
      for (const sip_login of [`${sipClient.sip}_ipa1`, `${sipClient.login}_web1`]) {
        const res = await post('reset-client-sip-password', { login: sipClient.login, sip_login });
        assert.equal(res.status, 400, `${sip_login}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, 'sip_login');
        assert.equal(res.body.code, 'SERVICE_ACCOUNT');
        assert.equal('sip' in res.body, false);
      }
      assert.deepEqual(await snapshot(sipClient), before);
    });

    it('a SIP login of another client or unknown answers 404; the client and others are unchanged', async () => {
      const before = await snapshot(sipClient);
      const otherBefore = await snapshot(alice);
      for (const sip_login of [alice.sip, rivalClient.sip, 'no-such-sip']) {
        const res = await post('reset-client-sip-password', { login: sipClient.login, sip_login });
        assert.equal(res.status, 404, `${sip_login}: ${JSON.stringify(res.body)}`);
      }
      assert.deepEqual(await snapshot(sipClient), before);
      assert.deepEqual(await snapshot(alice), otherBefore);
      const bad = await post('reset-client-sip-password', { login: sipClient.login, sip_login: ['42'] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'sip_login');
      assert.equal((await post('reset-client-sip-password', {})).body.field, 'login');
    });

    it('guards tenancy and refuses an inactive reseller', async () => {
      await assertForeign404((login) => post('reset-client-sip-password', { login }));
      await assertForeign404((login) => post('reset-client-sip-password', { login, sip_login: login }));
      const before = await snapshot(sipClient);
      await whileAgentInactive(async () => {
        const res = await post('reset-client-sip-password', { login: sipClient.login });
        assert.equal(res.status, 403);
        assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
      });
      assert.deepEqual(await snapshot(sipClient), before);
    });
  });

  describe('client-profile-update', () => {
    it('stores name, email, normalized phone and language', async () => {
      const c = await createResellerClient(t, agent, 'acct-profile', 'Profile12345');
      const res = await post('client-profile-update', {
        login: c.login, name: '  Ada Lovelace ', email: 'ada@example.com', phone: '00 44 20-7123 4567', language: 'en-gb',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.client.login, c.login);
      assert.equal(res.body.client.name, 'Ada Lovelace');
      assert.equal(res.body.client.email, 'ada@example.com');
      assert.equal(res.body.client.phone, '+442071234567');
      assert.equal(res.body.client.language, 'en-GB');
      const row = await accountRow(t, c.id);
      assert.deepEqual([row.name, row.email, row.phone, row.language], ['Ada Lovelace', 'ada@example.com', '+442071234567', 'en-GB']);

      // Only the fields given change; the document's example works as written; null clears.
      const partial = await post('client-profile-update', { login: c.login, email: 'client@example.com', phone: '+123456789', language: 'EN' });
      assert.equal(partial.status, 200, JSON.stringify(partial.body));
      const row2 = await accountRow(t, c.id);
      assert.deepEqual([row2.name, row2.email, row2.phone, row2.language], ['Ada Lovelace', 'client@example.com', '+123456789', 'en']);
      const cleared = await post('client-profile-update', { login: c.login, phone: null, name: '' });
      assert.equal(cleared.status, 200);
      const row3 = await accountRow(t, c.id);
      assert.deepEqual([row3.name, row3.phone], [null, null]);
      // The portal sees the profile at login.
      const login = await auth('127.0.2.30', c.login, 'Profile12345');
      assert.equal(login.body.client.email, 'client@example.com');
    });

    it('validates every field (400 naming it) and changes nothing', async () => {
      const before = await snapshot(alice);
      for (const [body, field] of [
        [{ email: 'not-an-email' }, 'email'], [{ email: 'a@b' }, 'email'], [{ email: 'a b@example.com' }, 'email'], [{ email: 5 }, 'email'],
        [{ phone: '12345' }, 'phone'], [{ phone: '+0123456789' }, 'phone'], [{ phone: 'call me' }, 'phone'], [{ phone: '+1234567890123456' }, 'phone'],
        [{ language: 'english' }, 'language'], [{ language: 'e' }, 'language'], [{ language: 'en-GBR' }, 'language'], [{ language: 7 }, 'language'],
        [{ name: 'x'.repeat(101) }, 'name'], [{ name: 'bad\u0000name' }, 'name'], [{ name: {} }, 'name'],
        [{ name: 'Ok Name', email: 'broken' }, 'email'],
      ] as const) {
        const res = await post('client-profile-update', { login: alice.login, ...body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.field, field, JSON.stringify(body));
      }
      const empty = await post('client-profile-update', { login: alice.login });
      assert.equal(empty.status, 400);
      assert.equal((await post('client-profile-update', { name: 'Someone' })).body.field, 'login');
      assert.deepEqual(await snapshot(alice), before);
    });

    it('guards tenancy and refuses an inactive reseller', async () => {
      await assertForeign404((login) => post('client-profile-update', { login, name: 'Hijacked', email: 'evil@example.com' }));
      const before = await snapshot(alice);
      await whileAgentInactive(async () => {
        const res = await post('client-profile-update', { login: alice.login, name: 'Sleeping' });
        assert.equal(res.status, 403);
        assert.equal(res.body.code, 'ACCOUNT_INACTIVE');
      });
      assert.deepEqual(await snapshot(alice), before);
    });
  });

  it('account writes are audited', async () => {
    const rows = await t.server.ctx.db.selectFrom('audit_log').select(['endpoint', 'status_code'])
      .where('api', '=', 'reseller').where('actor_id', '=', agent.id).execute();
    const endpoints = new Set(rows.map((r) => r.endpoint));
    for (const e of ['reset-client-password', 'set-client-password', 'client-change-password', 'reset-client-sip-password', 'client-profile-update']) {
      assert.ok(endpoints.has(e), e);
    }
  });
});
