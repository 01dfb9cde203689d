// Onboarding: a client comes with its main SIP account, a reseller with its retail plan at
// +markup (a plan of overrides only). Shared by the Admin API, the CLI, the Reseller API and
// the demo. Above accounts/, plans/ and sip/, whose pieces it puts together in one transaction.
import { randomPassword } from '../accounts/credentials.js';
import { chooseLogin, choosePassword, insertAccount, issueApiKey, parseMarkupPercent } from '../accounts/provisioning.js';
import type { Ctx } from '../context.js';
import type { Account, Plan } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { notFound } from '../errors.js';
import { post } from '../ledger/ledger.js';
import { microsFromDb } from '../money.js';
import { DEFAULT_MARKUP_MICRO_PERCENT } from '../plans/plans.js';
import { insertSipAccount } from '../sip/sip-accounts.js';
import { login as parseLogin, optionalMoney, positiveInt } from '../util/input.js';
import { nowIso } from '../util/time.js';

export interface CreateClientInput { login?: unknown; password?: unknown; plan_id?: unknown; balance?: unknown }
export interface CreatedClient {
  client: Account;
  plan: Plan;
  apiKey: string;
  password: string | null;
  sip: { name: string; password: string };
}

/**
 * Creates a client under `owner` (null: the admin's direct client; else a reseller) on one of
 * the owner's plans, with its main SIP account and an API key. An opening balance (admin
 * only) and the plan's initial credit are ledger postings in the same transaction.
 */
export async function createClient(ctx: Ctx, ownerResellerId: number | null, input: CreateClientInput): Promise<CreatedClient> {
  const requestedLogin = input.login === undefined || input.login === null ? undefined : parseLogin(input.login);
  const planId = positiveInt(input.plan_id, 'plan_id');
  const openingMicros = ownerResellerId === null ? optionalMoney(input.balance, 'balance', 0n) : 0n;
  const password = await choosePassword(input.password);
  const sipPassword = randomPassword(16);
  return inTx(ctx.db, async (trx) => {
    let planQuery = trx.selectFrom('plans').selectAll().where('id', '=', planId);
    planQuery = ownerResellerId === null ? planQuery.where('owner_id', 'is', null) : planQuery.where('owner_id', '=', ownerResellerId);
    const plan = await planQuery.executeTakeFirst();
    if (!plan) throw notFound('Plan');
    const login = await chooseLogin(trx, requestedLogin);
    let client = await insertAccount(trx, {
      role: 'client', login, parentId: ownerResellerId, planId, passwordHash: password.hash,
    });
    const initialCredit = microsFromDb(plan.initial_credit_micros);
    if (initialCredit > 0n) {
      await post(trx, { accountId: client.id, amountMicros: initialCredit, kind: 'refill', refType: 'plan', refId: plan.id, description: 'Initial credit of plan' });
    }
    if (openingMicros > 0n) {
      await post(trx, { accountId: client.id, amountMicros: openingMicros, kind: 'refill', refType: 'admin', description: 'Opening balance' });
    }
    client = await trx.selectFrom('accounts').selectAll().where('id', '=', client.id).executeTakeFirstOrThrow();
    await insertSipAccount(ctx, trx, client, login, 'main', sipPassword);
    const apiKey = await issueApiKey(trx, client.id, 'created with account');
    return { client, plan, apiKey, password: password.generated, sip: { name: login, password: sipPassword } };
  });
}

export interface CreateResellerInput { login?: unknown; password?: unknown; plan_id?: unknown; balance?: unknown; markup_percent?: unknown }

/**
 * A reseller on an admin (wholesale) plan, with its retail plan at +markup (20% by default). The
 * retail plan starts empty: its prices are the wholesale rows at the markup, computed when
 * rating (plans/retail-rates.ts), so creating a reseller costs the same on any size of deck.
 */
export async function createReseller(ctx: Ctx, input: CreateResellerInput) {
  const requestedLogin = input.login === undefined || input.login === null ? undefined : parseLogin(input.login);
  const planId = positiveInt(input.plan_id, 'plan_id');
  const openingMicros = optionalMoney(input.balance, 'balance', 0n);
  const markup = parseMarkupPercent(input.markup_percent, DEFAULT_MARKUP_MICRO_PERCENT);
  const password = await choosePassword(input.password);
  return inTx(ctx.db, async (trx) => {
    const wholesale = await trx.selectFrom('plans').selectAll().where('id', '=', planId).where('owner_id', 'is', null).executeTakeFirst();
    if (!wholesale) throw notFound('Plan');
    const login = await chooseLogin(trx, requestedLogin);
    const reseller = await insertAccount(trx, {
      role: 'reseller', login, parentId: null, planId, passwordHash: password.hash, markupMicroPercent: markup,
    });
    const retail = await trx.insertInto('plans').values({
      owner_id: reseller.id, name: `${login}-RETAIL`, signup: 1, initial_credit_micros: 0n, selectable: 1,
      tariff_limit: wholesale.tariff_limit, wholesale_plan_id: planId, created_at: nowIso(),
    }).returningAll().executeTakeFirstOrThrow();
    await trx.updateTable('accounts').set({ retail_plan_id: retail.id }).where('id', '=', reseller.id).execute();
    if (openingMicros > 0n) {
      await post(trx, { accountId: reseller.id, amountMicros: openingMicros, kind: 'refill', refType: 'admin', description: 'Opening balance' });
    }
    const apiKey = await issueApiKey(trx, reseller.id, 'created with account');
    const fresh = await trx.selectFrom('accounts').selectAll().where('id', '=', reseller.id).executeTakeFirstOrThrow();
    return { reseller: fresh, retailPlan: retail, retailRates: 0, apiKey, password: password.generated };
  });
}
