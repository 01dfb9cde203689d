// DEMO=1: seeds a demo plan with rates, a reseller, a client with SIP account and a voucher,
// then prints working API keys and curl lines. Re-running issues fresh keys for the same accounts.
import { createClient, createReseller, issueApiKey } from './accounts/provisioning.js';
import type { Ctx } from './context.js';
import { inTx } from './db/tx.js';
import { addRates, createPlan } from './plans/plans.js';
import { createVouchers } from './vouchers/vouchers.js';

const DEMO_RATES = [
  { prefix: '1', destination: 'USA/Canada', rate: '0.0120', initblock: 6, billingblock: 6 },
  { prefix: '44', destination: 'United Kingdom', rate: '0.0250', initblock: 60, billingblock: 6 },
  { prefix: '447', destination: 'United Kingdom Mobile', rate: '0.0900', initblock: 60, billingblock: 6 },
  { prefix: '49', destination: 'Germany', rate: '0.0300', connect_charge: '0.01', initblock: 30, billingblock: 6 },
  { prefix: '4915', destination: 'Germany Mobile', rate: '0.1100', initblock: 30, billingblock: 6 },
];

export async function seedDemo(ctx: Ctx, baseUrl: string): Promise<void> {
  const existing = await ctx.db.selectFrom('settings').select('value').where('key', '=', 'demo').executeTakeFirst();
  let ids: { client: string; reseller: string; voucher: string | null; sip: string; sipPassword: string | null };
  if (!existing) {
    const plan = await createPlan(ctx, { name: 'DEMO-PLAN', selectable: true });
    await addRates(ctx, { plan_id: plan.id, rates: DEMO_RATES });
    const reseller = await createReseller(ctx, { login: 'demoreseller', plan_id: plan.id, balance: '100' });
    const client = await createClient(ctx, null, { login: '1000000001', plan_id: plan.id, balance: '10' });
    const vouchers = await createVouchers(ctx, null, { value: '5', count: 1 });
    ids = { client: client.client.login, reseller: reseller.reseller.login, voucher: vouchers.vouchers[0], sip: client.sip.name, sipPassword: client.sip.password };
    await ctx.db.insertInto('settings').values({ key: 'demo', value: JSON.stringify({ ...ids, sipPassword: null }) }).execute();
  } else {
    ids = JSON.parse(existing.value);
  }
  const keys = await inTx(ctx.db, async (trx) => {
    const accounts = await trx.selectFrom('accounts').select(['id', 'login']).where('login', 'in', [ids.client, ids.reseller]).execute();
    const byLogin = new Map(accounts.map((a) => [a.login, Number(a.id)]));
    return {
      client: await issueApiKey(trx, byLogin.get(ids.client)!, 'demo'),
      reseller: await issueApiKey(trx, byLogin.get(ids.reseller)!, 'demo'),
    };
  });
  const lines = [
    '',
    '== Ledgerline demo ==',
    `Client ${ids.client}   API key: ${keys.client}`,
    `Reseller ${ids.reseller}   API key: ${keys.reseller}`,
    `SIP account ${ids.sip}${ids.sipPassword ? `   password: ${ids.sipPassword}` : ''}   domain: ${ctx.config.sipDomain}`,
    ids.voucher ? `Voucher (5.00): ${ids.voucher}` : '',
    '',
    `curl -sS -H "X-API-Key: ${keys.client}" "${baseUrl}/client-api/index.php?endpoint=me"`,
    `curl -sS -H "X-API-Key: ${keys.client}" "${baseUrl}/client-api/index.php?endpoint=sip"`,
    ids.voucher
      ? `curl -sS -X POST -H "X-API-Key: ${keys.client}" -H "Content-Type: application/json" -d '{"voucher":"${ids.voucher}"}' "${baseUrl}/client-api/index.php?endpoint=redeem-voucher"`
      : '',
    `curl -sS -H "X-API-Key: ${keys.client}" "${baseUrl}/client-api/index.php?endpoint=refills"`,
    '',
  ];
  process.stdout.write(lines.filter((l, i) => l !== '' || i === 0 || i === lines.length - 1).join('\n') + '\n');
}
