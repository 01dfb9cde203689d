// DEMO=1: seeds exactly the accounts, plans and voucher that the README's examples use, then
// prints working API keys as shell assignments and ready-to-paste curl lines. Re-running issues
// fresh keys for the same accounts (keys are stored only as hashes, so old ones cannot be shown).
//
// What the README relies on: plan 1 (DEMO-PLAN, the admin's) with the rates below; reseller
// `demoreseller` on it, whose retail plan is plan 2; direct client 1234567801 (SIP account of
// the same name) with 10.00; the reseller's client 1234567892 (the original document's example
// login) with 5.00 transferred; voucher 123456789012 worth 5.00 for direct clients; a switch key;
// the SMS rates of provider cryptosms below.
import type { Actor } from './accounts/actor.js';
import { createSwitchKey, issueApiKey } from './accounts/provisioning.js';
import type { Ctx } from './context.js';
import { inTx } from './db/tx.js';
import { createClient, createReseller } from './onboarding/onboarding.js';
import { addRates, createPlan } from './plans/plans.js';
import { transfer } from './resellers/transfers.js';
import { setSmsRate } from './sms/rates.js';
import { nowIso } from './util/time.js';

const DEMO_RATES = [
  { prefix: '1', destination: 'USA/Canada', rate: '0.0120', initblock: 6, billingblock: 6 },
  { prefix: '44', destination: 'United Kingdom', rate: '0.0250', initblock: 60, billingblock: 6 },
  { prefix: '447', destination: 'United Kingdom Mobile', rate: '0.0900', initblock: 60, billingblock: 6 },
  { prefix: '49', destination: 'Germany', rate: '0.0300', connect_charge: '0.01', initblock: 30, billingblock: 6 },
  { prefix: '4915', destination: 'Germany Mobile', rate: '0.1100', initblock: 30, billingblock: 6 },
];

const DEMO_SMS_RATES = [
  { provider: 'cryptosms', prefix: '1', rate: '0.0090' },
  { provider: 'cryptosms', prefix: '44', rate: '0.0400' },
  { provider: 'cryptosms', prefix: '447', rate: '0.0350' },
  { provider: 'cryptosms', prefix: '49', rate: '0.0750' },
];

export const DEMO = {
  client: '1234567801',
  reseller: 'demoreseller',
  resellerClient: '1234567892',
  voucher: '123456789012',
  switchName: 'demo',
} as const;

interface DemoSeed { client: string; reseller: string; resellerClient: string; voucher: string | null; sip: string; sipPassword: string | null }

async function seed(ctx: Ctx): Promise<DemoSeed> {
  const plan = await createPlan(ctx, { name: 'DEMO-PLAN', selectable: true });
  await addRates(ctx, { plan_id: plan.id, rates: DEMO_RATES });
  const reseller = await createReseller(ctx, { login: DEMO.reseller, plan_id: plan.id, balance: '100' });
  const client = await createClient(ctx, null, { login: DEMO.client, plan_id: plan.id, balance: '10' });
  const resellerId = Number(reseller.reseller.id);
  await createClient(ctx, resellerId, { login: DEMO.resellerClient, plan_id: Number(reseller.retailPlan.id) });
  const resellerActor: Actor = {
    id: resellerId, keyId: null, login: DEMO.reseller, role: 'reseller', parentId: null, active: true, ownActive: true,
    readAtAuth: { balanceMicros: 0, planId: plan.id, planName: null },
  };
  await transfer(ctx, resellerActor, { login: DEMO.resellerClient, amount: '5', external_id: 'DEMO-OPENING-TRANSFER' });
  // A voucher with the code the README shows: demo money on a demo server.
  const voucher = await ctx.db.insertInto('vouchers').values({
    code: DEMO.voucher, value_micros: 5_000_000n, issuer_id: null, used_by: null, used_at: null, created_at: nowIso(),
  }).onConflict((oc) => oc.column('code').doNothing()).returning('id').executeTakeFirst();
  return {
    client: client.client.login, reseller: reseller.reseller.login, resellerClient: DEMO.resellerClient,
    voucher: voucher ? DEMO.voucher : null, sip: client.sip.name, sipPassword: client.sip.password,
  };
}

/** Seeds on the first demo start; returns the text to print (keys, shell assignments, curl lines). */
export async function seedDemo(ctx: Ctx, baseUrl: string, adminKeyCreated: string | null = null): Promise<string> {
  const existing = await ctx.db.selectFrom('settings').select('value').where('key', '=', 'demo').executeTakeFirst();
  let ids: DemoSeed;
  if (!existing) {
    ids = await seed(ctx);
    await ctx.db.insertInto('settings').values({ key: 'demo', value: JSON.stringify({ ...ids, sipPassword: null }) }).execute();
  } else {
    ids = JSON.parse(existing.value);
  }
  // Also on a demo database seeded before SMS existed.
  if (!(await ctx.db.selectFrom('sms_rates').select('prefix').limit(1).executeTakeFirst())) {
    for (const rate of DEMO_SMS_RATES) await setSmsRate(ctx, rate);
  }
  const keys = await inTx(ctx.db, async (trx) => {
    const accounts = await trx.selectFrom('accounts').select(['id', 'login'])
      .where('login', 'in', [ids.client, ids.reseller, ids.resellerClient ?? ids.client]).execute();
    const byLogin = new Map(accounts.map((a) => [a.login, Number(a.id)]));
    return {
      client: await issueApiKey(trx, byLogin.get(ids.client)!, 'demo'),
      reseller: await issueApiKey(trx, byLogin.get(ids.reseller)!, 'demo'),
      resellerClient: ids.resellerClient && byLogin.has(ids.resellerClient)
        ? await issueApiKey(trx, byLogin.get(ids.resellerClient)!, 'demo') : null,
    };
  });
  const switchKey = (await createSwitchKey(ctx, DEMO.switchName)).apiKey;
  const lines = [
    '',
    '== Ledgerline demo ==',
    `Client ${ids.client} (direct, 10.00)   SIP account ${ids.sip}${ids.sipPassword ? `   password: ${ids.sipPassword}` : ''}   domain: ${ctx.config.sipDomain}`,
    `Reseller ${ids.reseller} (100.00, retail plan 2)   its client ${ids.resellerClient ?? '-'} (5.00)`,
    ids.voucher ? `Voucher (5.00, direct clients): ${ids.voucher}` : '',
    '',
    'Paste these into your shell; the README\'s examples then run as written:',
    `KEY=${keys.client}`,
    `R=${keys.reseller}`,
    'RESELLER_KEY=$R',
    keys.resellerClient ? `CLIENT_KEY=${keys.resellerClient}   # the reseller's client ${ids.resellerClient}` : '',
    `SW=${switchKey}`,
    adminKeyCreated ? `ADMIN=${adminKeyCreated}` : 'ADMIN=...   # the admin key printed at the first start (or your ADMIN_API_KEY)',
    '',
    `curl -sS -H "X-API-Key: $KEY" "${baseUrl}/client-api/index.php?endpoint=me"`,
    `curl -sS -H "X-API-Key: $KEY" "${baseUrl}/client-api/index.php?endpoint=sip"`,
    ids.voucher
      ? `curl -sS -X POST -H "X-API-Key: $KEY" -H "Content-Type: application/json" -d '{"voucher":"${ids.voucher}"}' "${baseUrl}/client-api/index.php?endpoint=redeem-voucher"`
      : '',
    `curl -sS -H "X-API-Key: $R" "${baseUrl}/reseller-api/index.php?endpoint=clients"`,
    `curl -sS -X POST -H "X-API-Key: $KEY" -H "Content-Type: application/json" -d '{"phone":"+447575396991","provider":"cryptosms","sender_id":"MyBrand","message":"MyBrand: Your code is 123456"}' "${baseUrl}/sms-api/index.php?endpoint=send"`,
    `curl -sS -H "X-API-Key: $KEY" "${baseUrl}/esim-api/index.php?endpoint=packages&q=Europe&limit=5"`,
    `curl -sS -X POST -H "Content-Type: application/json" -H "X-API-Key: $KEY" -d '{"package_code":"P2CYMUS93"}' "${baseUrl}/esim-api/index.php?endpoint=buy"`,
    '',
  ];
  return lines.filter((l, i) => l !== '' || i === 0 || i === lines.length - 1 || lines[i - 1] !== '').join('\n') + '\n';
}
