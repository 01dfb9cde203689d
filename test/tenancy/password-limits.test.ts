// Failed password limits never cross tenants (CONTRACT §3): a portal that passes no client_ip
// gets the per-login limit only, and a client_ip counts within its reseller alone. Runs on the
// memory store (SQLite) and on the shared counter table (PostgreSQL).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  callFrom, createReseller, createResellerClient, wholesalePlan, type PortalClient, type TestReseller,
} from '../reseller/portal-fixtures.js';

describe('tenancy: failed password limits', () => {
  let t: TestServer;
  let agent: TestReseller;
  let rival: TestReseller;
  let seq = 0;

  before(async () => {
    t = await startTestServer();
    const planId = await wholesalePlan(t);
    agent = await createReseller(t, planId);
    rival = await createReseller(t, planId);
  });
  after(async () => { await t?.close(); });

  const client = (r: TestReseller, password: string): Promise<PortalClient> => {
    seq += 1;
    return createResellerClient(t, r, `limits-${r.id}-${seq}`, password);
  };
  /** The portal server's own address: the same for every visitor of every portal on it. */
  const PORTAL_HOST = '127.0.3.1';
  const auth = (r: TestReseller, body: Record<string, unknown>, from = PORTAL_HOST) => callFrom(t, from, 'reseller', 'client-auth', r.key, body);
  const change = (r: TestReseller, body: Record<string, unknown>, from = PORTAL_HOST) =>
    callFrom(t, from, 'reseller', 'client-change-password', r.key, body);

  it('client-auth without client_ip: five wrong passwords limit that login only, not the portal nor another reseller', async () => {
    const victim = await client(agent, 'VictimPass123');
    const neighbour = await client(agent, 'NeighbourPass123');
    const foreign = await client(rival, 'ForeignPass123');
    for (let i = 0; i < 5; i++) {
      const res = await auth(agent, { login: victim.login, password: `Typo${i}typo99` });
      assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
    }
    const locked = await auth(agent, { login: victim.login, password: victim.password });
    assert.equal(locked.status, 429, 'the guessed login is limited');
    assert.equal(locked.body.code, 'RATE_LIMITED');

    const other = await auth(agent, { login: neighbour.login, password: neighbour.password });
    assert.equal(other.status, 200, `another client of the same portal: ${JSON.stringify(other.body)}`);
    const otherReseller = await auth(rival, { login: foreign.login, password: foreign.password });
    assert.equal(otherReseller.status, 200, `a client of another reseller behind the same host: ${JSON.stringify(otherReseller.body)}`);
    // The same host's password changes for other clients go through as well.
    const changed = await change(agent, { login: neighbour.login, current_password: neighbour.password, new_password: 'Neighbour2Pass' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
  });

  it('client-auth without client_ip: probing logins that are not the reseller\'s locks nobody out', async () => {
    const own = await client(agent, 'OwnPass12345');
    const foreign = await client(rival, 'ForeignPass123');
    for (let i = 0; i < 8; i++) {
      const res = await auth(agent, { login: i % 2 ? foreign.login : `nobody-${seq}-${i}`, password: 'Whatever123' });
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    assert.equal((await auth(agent, { login: own.login, password: own.password })).status, 200);
    assert.equal((await auth(rival, { login: foreign.login, password: foreign.password })).status, 200);
  });

  it('client-auth with client_ip: that visitor is limited for every login of this portal, nobody else is', async () => {
    const victim = await client(agent, 'VictimPass123');
    const neighbour = await client(agent, 'NeighbourPass123');
    const foreign = await client(rival, 'ForeignPass123');
    const guesser = '198.51.100.77';
    for (let i = 0; i < 5; i++) {
      const res = await auth(agent, { login: victim.login, password: `Guess${i}guess99`, client_ip: guesser });
      assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
    }
    const same = await auth(agent, { login: neighbour.login, password: neighbour.password, client_ip: guesser });
    assert.equal(same.status, 429, `the guessing visitor, another login: ${JSON.stringify(same.body)}`);
    const otherVisitor = await auth(agent, { login: neighbour.login, password: neighbour.password, client_ip: '198.51.100.78' });
    assert.equal(otherVisitor.status, 200, JSON.stringify(otherVisitor.body));
    const noIp = await auth(agent, { login: neighbour.login, password: neighbour.password });
    assert.equal(noIp.status, 200, `the portal's own address is not the visitor's: ${JSON.stringify(noIp.body)}`);
    // The same address behind another reseller's portal is counted there, from zero.
    const elsewhere = await auth(rival, { login: foreign.login, password: foreign.password, client_ip: guesser });
    assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    // The client API counts the caller's own address, not a portal visitor's.
    const direct = await t.call('client', 'change-password', {
      key: foreign.key, body: { current_password: foreign.password, new_password: 'Foreign2Pass123' },
    });
    assert.equal(direct.status, 200, JSON.stringify(direct.body));
  });

  it('client-auth with client_ip: probing foreign logins counts against that visitor within this reseller', async () => {
    const own = await client(agent, 'OwnPass12345');
    const foreign = await client(rival, 'ForeignPass123');
    const prober = '203.0.113.9';
    for (let i = 0; i < 5; i++) {
      const res = await auth(agent, { login: i % 2 ? foreign.login : `nobody-${seq}-${i}`, password: 'Whatever123', client_ip: prober });
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    assert.equal((await auth(agent, { login: own.login, password: own.password, client_ip: prober })).status, 429);
    assert.equal((await auth(agent, { login: own.login, password: own.password, client_ip: '203.0.113.10' })).status, 200);
    // The probed login is not limited in its own portal, even from that address.
    assert.equal((await auth(rival, { login: foreign.login, password: foreign.password, client_ip: prober })).status, 200);
  });

  it('client-change-password follows the same rules: per login always, per client_ip within the reseller', async () => {
    const victim = await client(agent, 'VictimPass123');
    const neighbour = await client(agent, 'NeighbourPass123');
    const foreign = await client(rival, 'ForeignPass123');
    for (let i = 0; i < 5; i++) {
      const res = await change(agent, { login: victim.login, current_password: `Typo${i}typo99`, new_password: 'Another12345' });
      assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'INVALID_PASSWORD');
    }
    assert.equal((await change(agent, { login: victim.login, current_password: victim.password, new_password: 'Another12345' })).status, 429);
    assert.equal((await auth(agent, { login: neighbour.login, password: neighbour.password })).status, 200);
    assert.equal((await auth(rival, { login: foreign.login, password: foreign.password })).status, 200);

    const visitor = '192.0.2.44';
    for (let i = 0; i < 5; i++) {
      const res = await change(agent, { login: neighbour.login, current_password: `Typo${i}typo99`, new_password: 'Another12345', client_ip: visitor });
      assert.equal(res.status, 403, `attempt ${i + 1}: ${JSON.stringify(res.body)}`);
    }
    const fresh = await client(agent, 'FreshPass1234');
    const sameVisitor = await change(agent, { login: fresh.login, current_password: fresh.password, new_password: 'Fresh2Pass1234', client_ip: visitor });
    assert.equal(sameVisitor.status, 429, JSON.stringify(sameVisitor.body));
    const rivalVisitor = await change(rival, { login: foreign.login, current_password: foreign.password, new_password: 'Foreign3Pass123', client_ip: visitor });
    assert.equal(rivalVisitor.status, 200, JSON.stringify(rivalVisitor.body));
  });

  it('client_ip must be an address (400 naming client_ip) on both endpoints', async () => {
    const c = await client(agent, 'CheckPass1234');
    for (const bad of ['not-an-ip', 12345, '999.1.1.1']) {
      const a = await auth(agent, { login: c.login, password: c.password, client_ip: bad });
      assert.equal(a.status, 400, JSON.stringify(a.body));
      assert.equal(a.body.field, 'client_ip');
      const ch = await change(agent, { login: c.login, current_password: c.password, new_password: 'Check2Pass1234', client_ip: bad });
      assert.equal(ch.status, 400, JSON.stringify(ch.body));
      assert.equal(ch.body.field, 'client_ip');
    }
  });
});
