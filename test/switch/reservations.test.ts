import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { expireReservations } from '../../src/calls/reservation-expiry.js';
import { createClient, createPlan, startTestServer, type TestServer } from '../helpers/server.js';

const uid = () => `call-${crypto.randomBytes(6).toString('hex')}`;

describe('switch api: reservations, IP-auth callers, rate changes, call limit', () => {
  let t: TestServer;
  let key: string;
  let plan: { id: number };
  before(async () => {
    t = await startTestServer({ MAX_CALL_DURATION: '300' });
    plan = await createPlan(t);
    key = (await t.admin('create-switch-key', { name: 'asterisk' })).api_key;
  });
  after(async () => t.close());
  const authorize = (body: Record<string, unknown>) => t.call('switch', 'authorize', { key, body });
  const reserved = async (login: string) => Number((await t.server.ctx.db.selectFrom('accounts').select('reserved_micros').where('login', '=', login).executeTakeFirstOrThrow()).reserved_micros);

  it('a reservation whose CDR never comes is freed by the expiry worker after max_duration plus the grace', async () => {
    const c = await createClient(t, plan.id, { balance: '10' });
    const a = await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '447575396991' });
    assert.equal(a.body.allowed, true);
    assert.equal(a.body.max_duration, 300, 'capped by MAX_CALL_DURATION');
    assert.equal(await reserved(c.login), 6_000_000);
    assert.equal(await expireReservations(t.server.ctx, new Date()), 0, 'not expired yet');
    const later = new Date(Date.now() + (300 + 301) * 1000);
    assert.ok(await expireReservations(t.server.ctx, later) >= 1);
    assert.equal(await reserved(c.login), 0);
    // The money is free again: a new call gets the full limit.
    assert.equal((await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '447575396991' })).body.max_duration, 300);
  });

  it('finds the caller by the source address of an IP-auth peer', async () => {
    const c = await createClient(t, plan.id, { balance: '5' });
    const ip = `203.0.113.${1 + crypto.randomInt(250)}`;
    const created = await t.call('client', 'ip-auth-create', { key: c.key, body: { sip_login: c.sip.name, ip, port: 5080 } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const a = await authorize({ uniqueid: uid(), source_ip: ip, destination: '442071234567' });
    assert.equal(a.body.allowed, true, JSON.stringify(a.body));
    assert.equal(a.body.sip_login, created.body.data.peer_name);
    await t.call('client', 'ip-auth-disable', { key: c.key, body: { id: created.body.data.id } });
    assert.equal((await authorize({ uniqueid: uid(), source_ip: ip, destination: '442071234567' })).body.reason, 'UNKNOWN_CALLER');
  });

  it('a call is charged at the rate it was authorized at: a rate raised mid-call cannot overspend', async () => {
    const { plan: p } = await t.admin('create-plan', { name: `MID-${crypto.randomBytes(3).toString('hex')}` });
    await t.admin('add-rates', { plan_id: p.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.60', initblock: 60, billingblock: 60 }] });
    const c = await createClient(t, p.id, { balance: '1.20' });
    const id = uid();
    const a = await authorize({ uniqueid: id, sip_login: c.sip.name, destination: '4930123456' });
    assert.equal(a.body.max_duration, 120);
    assert.equal(await reserved(c.login), 1_200_000);
    // Ten times the price, and a longer prefix, while the call is up.
    await t.admin('add-rates', { plan_id: p.id, rates: [
      { prefix: '49', destination: 'Germany', rate: '6.00', initblock: 60, billingblock: 60 },
      { prefix: '4930', destination: 'Berlin', rate: '9.00', initblock: 1, billingblock: 1 },
    ] });
    const settled = await t.call('switch', 'cdr', { key, body: { uniqueid: id, sip_login: c.sip.name, destination: '4930123456', answered_seconds: 120, disposition: 'ANSWERED' } });
    assert.equal(settled.status, 200, JSON.stringify(settled.body));
    assert.equal(settled.body.cost, '1.2000');
    assert.equal((await t.call('client', 'balance', { key: c.key })).body.data.balance, '0.0000');
    const row = await t.server.ctx.db.selectFrom('calls').select(['rate_prefix', 'rate_destination']).where('uniqueid', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { rate_prefix: '49', rate_destination: 'Germany' });
    // A CDR for a number the reserved rate does not cover is rated afresh.
    await t.admin('refill', { login: c.login, amount: '100' });
    const other = uid();
    const berlin = await authorize({ uniqueid: other, sip_login: c.sip.name, destination: '4930123456' });
    assert.deepEqual(berlin.body.rate, { prefix: '4930', destination: 'Berlin' });
    const moved = await t.call('switch', 'cdr', { key, body: { uniqueid: other, sip_login: c.sip.name, destination: '4989123456', answered_seconds: 10, disposition: 'ANSWERED' } });
    assert.equal(moved.body.cost, '6.0000', 'one 60 s block at 6.00/min (49), not 10 s of the reserved Berlin rate');
  });

  it('a rate change applies to the next call at once', async () => {
    const { plan: p } = await t.admin('create-plan', { name: `RC-${crypto.randomBytes(3).toString('hex')}` });
    await t.admin('add-rates', { plan_id: p.id, rates: [{ prefix: '49', destination: 'Germany', rate: '0.60', initblock: 60, billingblock: 60 }] });
    const c = await createClient(t, p.id, { balance: '1.20' });
    const firstId = uid();
    const first = await authorize({ uniqueid: firstId, sip_login: c.sip.name, destination: '4930123456' });
    assert.equal(first.body.max_duration, 120);
    assert.equal(await reserved(c.login), 1_200_000);
    // The call it authorized ends unanswered: its CDR frees the reservation at once.
    const ended = await t.call('switch', 'cdr', { key, body: { uniqueid: firstId, sip_login: c.sip.name, destination: '4930123456', answered_seconds: 0, disposition: 'NO ANSWER' } });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    assert.equal(ended.body.duplicate, false);
    assert.equal(await reserved(c.login), 0);
    await t.admin('add-rates', { plan_id: p.id, rates: [{ prefix: '4930', destination: 'Berlin', rate: '1.20', initblock: 60, billingblock: 60 }] });
    const second = await authorize({ uniqueid: uid(), sip_login: c.sip.name, destination: '4930123456' });
    assert.deepEqual(second.body.rate, { prefix: '4930', destination: 'Berlin' });
    assert.equal(second.body.max_duration, 60);
  });
});
