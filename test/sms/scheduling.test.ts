// Scheduled SMS and campaigns over HTTP (CONTRACT §5): the original document's examples, times
// in the server's zone or with an offset, the dispatcher sending what is due and charging it
// then, cancelling what is not yet sent, refusing a campaign the balance cannot pay, and a
// balance that runs out mid-campaign.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createPlan, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const pad = (n: number) => String(n).padStart(2, '0');
/** `YYYY-MM-DD HH:MM:SS` in the server's (this process's) time zone, `seconds` from now. */
function localIn(seconds: number): string {
  const d = new Date(Date.now() + seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const numbers = (from: number, count: number) => Array.from({ length: count }, (_, i) => `+4475753${String(from + i).padStart(5, '0')}`);

describe('SMS API: scheduled messages and campaigns', () => {
  let t: TestServer;
  let plan: { id: number };
  let client: TestClient;

  const sms = (key: string, endpoint: string, body?: Record<string, unknown>, query?: Record<string, string | number>) =>
    t.call('sms', endpoint, { key, ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) });
  const balanceOf = async (login: string) => Number((await t.server.ctx.db.selectFrom('accounts').select('balance_micros')
    .where('login', '=', login).executeTakeFirstOrThrow()).balance_micros);
  const smsCharges = async (login: string) => (await t.server.ctx.db.selectFrom('ledger_postings as p')
    .innerJoin('accounts as a', 'a.id', 'p.account_id').select('p.amount_micros').where('a.login', '=', login)
    .where('p.kind', '=', 'sms').execute()).map((r) => Number(r.amount_micros));
  const statuses = async (campaignId: number) => (await t.server.ctx.db.selectFrom('sms_messages').select(['status', 'error_code'])
    .where('campaign_id', '=', campaignId).orderBy('id').execute());

  const final = (rows: Array<{ status: string }>) => rows.every((r) => r.status === 'DELIVERED' || r.status === 'FAILED' || r.status === 'CANCELLED');

  before(async () => {
    t = await startTestServer({ SMS_SIMULATOR_REPORT_MS: '10' });
    for (const [prefix, rate] of [['44', '0.05'], ['1', '0.01']] as const) await t.admin('set-sms-rate', { provider: 'cryptosms', prefix, rate });
    plan = await createPlan(t);
    client = await createClient(t, plan.id, { balance: '50' });
  });
  after(async () => { await t?.close(); });

  it('schedule: the document\'s example with its date in the past is refused; a time ahead is sent then, and charged then', async () => {
    const example = {
      phone: '+1234567890', provider: 'cryptosms', sender_id: 'MyBrand', message: 'API scheduled test', scheduled_at: '2026-05-09 23:00:00',
    };
    const past = await sms(client.key, 'schedule', example);
    assert.equal(past.status, 400);
    assert.match(past.body.error, /scheduled_at/);
    const far = await sms(client.key, 'schedule', { ...example, scheduled_at: localIn(367 * 86400) });
    assert.equal(far.status, 400);
    assert.match(far.body.error, /scheduled_at/);

    const before = await balanceOf(client.login);
    const res = await sms(client.key, 'schedule', { ...example, scheduled_at: localIn(2) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body.scheduled_sms_id, 'number');
    assert.equal(res.body.provider, 'cryptosms');
    assert.equal(res.body.status, 'SCHEDULED');
    assert.match(res.body.server_utc_offset, /^[+-]\d{2}:\d{2}$/);
    const listed = await sms(client.key, 'scheduled', undefined, { limit: 20 });
    assert.ok(listed.body.scheduled.some((m: any) => m.sms_id === res.body.scheduled_sms_id));
    assert.equal(await balanceOf(client.login), before, 'nothing charged before it is sent');

    const done = await until('the scheduled SMS', async () => (await sms(client.key, 'status', undefined, { id: res.body.scheduled_sms_id })).body,
      (b: any) => b.status === 'DELIVERED');
    assert.equal(done.cost, '0.0100');
    assert.equal(before - (await balanceOf(client.login)), 10_000);

    // ISO 8601 with an offset is taken too.
    const iso = await sms(client.key, 'schedule', { ...example, scheduled_at: new Date(Date.now() + 3_600_000).toISOString().replace('Z', '+00:00') });
    assert.equal(iso.status, 200, JSON.stringify(iso.body));
  });

  it('cancel-scheduled: a cancelled message is never sent nor charged; a sent one cannot be cancelled; another\'s answers 404', async () => {
    const before = await balanceOf(client.login);
    const res = await sms(client.key, 'schedule', { phone: '+447575396991', message: 'later', scheduled_at: localIn(2) });
    const id = res.body.scheduled_sms_id;
    const cancel = await sms(client.key, 'cancel-scheduled', { scheduled_sms_id: id });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.deepEqual(cancel.body, { success: true, scheduled_sms_id: id, status: 'CANCELLED' });
    const again = await sms(client.key, 'cancel-scheduled', { scheduled_sms_id: id });
    assert.equal(again.status, 200);
    const other = await createClient(t, plan.id, { balance: '1' });
    assert.equal((await sms(other.key, 'cancel-scheduled', { scheduled_sms_id: id })).status, 404);
    await new Promise((r) => setTimeout(r, 3500));
    const status = await sms(client.key, 'status', undefined, { id });
    assert.equal(status.body.status, 'CANCELLED');
    assert.equal(await balanceOf(client.login), before);

    const sent = await sms(client.key, 'send', { phone: '+447575396991', message: 'now' });
    const late = await sms(client.key, 'cancel-scheduled', { scheduled_sms_id: sent.body.sms_id });
    assert.equal(late.status, 404, 'a message sent at once was never scheduled');
  });

  it('bulk: the document\'s example queues both numbers; a campaign for now is sent and charged per message', async () => {
    const example = await sms(client.key, 'bulk', {
      provider: 'cryptosms', sender_id: 'MyBrand', message: 'API bulk test', scheduled_at: localIn(3600), phones: ['+1234567890', '+1234567891'],
    });
    assert.equal(example.status, 200, JSON.stringify(example.body));
    assert.equal(typeof example.body.campaign_id, 'number');
    assert.equal(example.body.recipients_queued, 2);
    assert.equal(example.body.status, 'QUEUED');

    const c = await createClient(t, plan.id, { balance: '10' });
    const phones = [...numbers(100, 40), '+447575300100', '0044 7575 300101', 'not a number', '+3312345678', 12];
    const res = await sms(c.key, 'bulk', { message: 'Hello all', phones });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.recipients_queued, 40);
    assert.equal(res.body.duplicates_removed, 2);
    assert.equal(res.body.rejected_count, 3);
    assert.deepEqual(res.body.rejected.map((r: any) => r.reason).sort(), ['INVALID_NUMBER', 'INVALID_NUMBER', 'NO_RATE']);
    assert.equal(res.body.estimated_cost, '2.0000');
    const rows = await until('the campaign', () => statuses(res.body.campaign_id), final);
    assert.equal(rows.length, 40);
    assert.ok(rows.every((r) => r.status === 'DELIVERED'), JSON.stringify(rows));
    assert.deepEqual(await smsCharges(c.login), Array(40).fill(-50_000));
    const list = await sms(c.key, 'campaigns', undefined, { limit: 20 });
    assert.equal(list.body.campaigns[0].campaign_id, res.body.campaign_id);
    assert.equal(list.body.campaigns[0].status, 'COMPLETED');
    assert.equal(list.body.campaigns[0].messages.delivered, 40);
  });

  it('bulk refuses a campaign the balance cannot pay (402) and records nothing', async () => {
    const c = await createClient(t, plan.id, { balance: '1' });
    const res = await sms(c.key, 'bulk', { message: 'too many', phones: numbers(200, 21) });
    assert.equal(res.status, 402);
    assert.equal(res.body.code, 'INSUFFICIENT_BALANCE');
    assert.equal((await sms(c.key, 'campaigns')).body.total, 0);
  });

  it('a balance that runs out mid-campaign: the rest FAILED with INSUFFICIENT_BALANCE, uncharged', async () => {
    const c = await createClient(t, plan.id, { balance: '1' });
    const res = await sms(c.key, 'bulk', { message: 'twenty', phones: numbers(300, 20), scheduled_at: localIn(2) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // 1.00 paid for all twenty when accepted; 0.35 of it is spent before they are due.
    await t.admin('refill', { login: c.login, amount: '-0.35' });
    const rows = await until('the campaign', () => statuses(res.body.campaign_id), final);
    const delivered = rows.filter((r) => r.status === 'DELIVERED').length;
    const failed = rows.filter((r) => r.status === 'FAILED');
    assert.equal(delivered, 13);
    assert.equal(failed.length, 7);
    assert.ok(failed.every((r) => r.error_code === 'INSUFFICIENT_BALANCE'));
    assert.deepEqual(await smsCharges(c.login), Array(13).fill(-50_000));
    assert.equal(await balanceOf(c.login), 0);
  });

  it('a reseller key: providers, and schedule, scheduled and cancel-scheduled for its own client only', async () => {
    const r = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    const other = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    const newClient = async (key: string, planId: number) => {
      const created = await t.call('reseller', 'create-client', { key, body: { plan_id: planId } });
      await t.call('reseller', 'transfer', { key, body: { login: created.body.client.login, amount: '10' } });
      return created.body.client.login as string;
    };
    const mine = await newClient(r.api_key, r.reseller.retail_plan_id);
    const theirs = await newClient(other.api_key, other.reseller.retail_plan_id);
    const providers = await sms(r.api_key, 'providers');
    assert.deepEqual(providers.body.providers.map((p: any) => p.code), ['cryptosms']);

    const example = { client_login: mine, phone: '+1234567890', message: 'Your SMS text', provider: 'cryptosms', sender_id: 'MyBrand', scheduled_at: localIn(3600) };
    const scheduled = await sms(r.api_key, 'schedule', example);
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    assert.equal(scheduled.body.status, 'SCHEDULED');
    const foreign = await sms(r.api_key, 'schedule', { ...example, client_login: theirs });
    assert.equal(foreign.status, 404);
    assert.equal((await sms(other.api_key, 'scheduled', undefined, { client_login: theirs })).body.total, 0, 'nothing scheduled for their client');

    const listed = await sms(r.api_key, 'scheduled', undefined, { client_login: mine, limit: 20 });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.scheduled.map((m: any) => m.sms_id), [scheduled.body.scheduled_sms_id]);
    assert.equal((await sms(r.api_key, 'scheduled', undefined, { client_login: theirs })).status, 404);

    const wrong = await sms(other.api_key, 'cancel-scheduled', { client_login: theirs, scheduled_sms_id: scheduled.body.scheduled_sms_id });
    assert.equal(wrong.status, 404);
    assert.equal((await sms(r.api_key, 'status', undefined, { client_login: mine, id: scheduled.body.scheduled_sms_id })).body.status, 'SCHEDULED');
    const cancel = await sms(r.api_key, 'cancel-scheduled', { client_login: mine, scheduled_sms_id: scheduled.body.scheduled_sms_id });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body.status, 'CANCELLED');
  });

  it('cancel-campaign stops every message not yet sent; a reseller acts for its own client only', async () => {
    const r = await t.admin('create-reseller', { plan_id: plan.id, balance: '100' });
    const created = await t.call('reseller', 'create-client', { key: r.api_key, body: { plan_id: r.reseller.retail_plan_id } });
    const login = created.body.client.login;
    await t.call('reseller', 'transfer', { key: r.api_key, body: { login, amount: '20' } });
    const res = await sms(r.api_key, 'bulk', { client_login: login, message: 'later', phones: numbers(400, 30), scheduled_at: localIn(2) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const foreign = await sms(client.key, 'cancel-campaign', { campaign_id: res.body.campaign_id });
    assert.equal(foreign.status, 404);
    const cancel = await sms(r.api_key, 'cancel-campaign', { client_login: login, campaign_id: res.body.campaign_id });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body.messages_cancelled, 30);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const rows = await statuses(res.body.campaign_id);
    assert.ok(rows.every((row) => row.status === 'CANCELLED'));
    assert.deepEqual(await smsCharges(login), []);
    const list = await sms(r.api_key, 'campaigns', undefined, { client_login: login });
    assert.equal(list.body.campaigns[0].status, 'CANCELLED');
  });
});
