// The operator's operations, one table for both edges that offer them: the Admin API
// (http/admin-api.ts adds each one's wire schemas) and the `ledgerline` CLI (cli/main.ts, one
// command each). Name, kind and summary are said once here, so the two cannot drift.
import type { Actor } from '../accounts/actor.js';
import { accountView, getAccount, listAccounts, refill, setAccountStatus } from '../accounts/admin-ops.js';
import { listApiKeys, revokeApiKey } from '../accounts/api-keys.js';
import { setCredit } from '../accounts/credit.js';
import { createApiKeyFor, createSwitchKey } from '../accounts/provisioning.js';
import type { Ctx } from '../context.js';
import { findLedgerMismatches } from '../ledger/ledger.js';
import { formatMoney } from '../money.js';
import { createClient, createReseller } from '../onboarding/onboarding.js';
import { addRates, createPlan, planView } from '../plans/plans.js';
import { refreshEsimCatalog } from '../esim/catalog.js';
import { setEsimMargin } from '../esim/prices.js';
import { setSmsRate } from '../sms/rates.js';
import { createVouchers } from '../vouchers/vouchers.js';

export interface AdminOperation {
  /** GET: a read, which changes nothing and is not audited; POST: a change. */
  method: 'GET' | 'POST';
  /** One line, shown in `ledgerline help` and in /docs. */
  summary: string;
  /** Input fields as the Admin API names them; every service validates its own. */
  run(ctx: Ctx, actor: Actor, input: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const byName = {
  'create-plan': {
    method: 'POST', summary: 'Create a plan (rate table) of the operator',
    run: async (ctx, _actor, input) => ({ plan: planView(await createPlan(ctx, input)) }),
  },
  'add-rates': {
    method: 'POST', summary: 'Upsert rates by prefix; retail plans derived from this plan price the rows at once, marked up when rated',
    run: (ctx, _actor, input) => addRates(ctx, input),
  },
  'create-reseller': {
    method: 'POST', summary: 'Create a reseller on a wholesale plan, with its retail plan at +markup (default 20%), computed when rating',
    run: async (ctx, _actor, input) => {
      const r = await createReseller(ctx, input);
      return {
        reseller: accountView(r.reseller),
        retail_plan: { ...planView(r.retailPlan), rates: r.retailRates },
        api_key: r.apiKey,
        ...(r.password ? { password: r.password } : {}),
      };
    },
  },
  'create-client': {
    method: 'POST', summary: 'Create a direct client with its main SIP account; API key and SIP password shown once',
    run: async (ctx, _actor, input) => {
      const c = await createClient(ctx, null, input);
      return {
        client: accountView(c.client),
        api_key: c.apiKey,
        sip: c.sip,
        ...(c.password ? { password: c.password } : {}),
      };
    },
  },
  'create-api-key': {
    method: 'POST', summary: 'Issue another API key for an account (shown once)',
    run: async (ctx, actor, input) => {
      const r = await createApiKeyFor(ctx, actor, input.login);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  'api-keys': {
    method: 'GET',
    summary: 'The API keys of an account: id, prefix, role, label, created_at, last_used_at, revoked_at (never the key or its hash)',
    run: (ctx, _actor, input) => listApiKeys(ctx, input),
  },
  'revoke-api-key': {
    method: 'POST',
    summary: 'Revoke an API key by id: it answers 401 from the next request on, on every instance; 409 LAST_ADMIN_KEY for the last admin key',
    run: (ctx, _actor, input) => revokeApiKey(ctx, input),
  },
  'set-credit': {
    method: 'POST', summary: 'Make a direct client or a reseller postpaid with a credit limit it may spend beyond its balance, or prepaid again',
    run: (ctx, _actor, input) => setCredit(ctx, input),
  },
  'refill': {
    method: 'POST', summary: 'Credit (or, negative, correct) a balance by a ledger posting; send Idempotency-Key to retry safely',
    run: (ctx, _actor, input) => refill(ctx, input),
  },
  'create-vouchers': {
    method: 'POST', summary: 'Create voucher codes for the operator\'s direct clients',
    run: (ctx, _actor, input) => createVouchers(ctx, null, input),
  },
  'set-sms-rate': {
    method: 'POST', summary: 'Set the wholesale price of one SMS segment for a provider and destination prefix; reseller clients pay it plus the markup',
    run: (ctx, _actor, input) => setSmsRate(ctx, input),
  },
  'set-esim-margin': {
    method: 'POST', summary: 'Set the operator\'s margin on eSIM upstream prices: for one package, or (no package_code) for all others; 25% until set',
    run: (ctx, _actor, input) => setEsimMargin(ctx, input),
  },
  'refresh-esim-catalog': {
    method: 'POST', summary: 'Fetch the eSIM catalog from the upstream now',
    run: (ctx) => refreshEsimCatalog(ctx),
  },
  'set-account-status': {
    method: 'POST', summary: 'Activate or deactivate any account',
    run: (ctx, _actor, input) => setAccountStatus(ctx, input),
  },
  'create-switch-key': {
    method: 'POST', summary: 'API key of role switch for the Switch API',
    run: async (ctx, _actor, input) => {
      const r = await createSwitchKey(ctx, input.name);
      return { login: r.login, api_key: r.apiKey };
    },
  },
  'accounts': {
    method: 'GET', summary: 'List accounts, optionally by role',
    run: (ctx, _actor, input) => listAccounts(ctx, input),
  },
  'account': {
    method: 'GET', summary: 'One account with its API key prefixes',
    run: (ctx, _actor, input) => getAccount(ctx, input.login),
  },
  'verify-ledger': {
    method: 'GET', summary: 'Check balance = sum(postings), reserved = sum(open reservations) >= 0 for every account',
    run: async (ctx) => {
      const r = await findLedgerMismatches(ctx.db, ctx.reads);
      return {
        ok_ledger: r.mismatches.length === 0,
        accounts_checked: r.accountsChecked,
        mismatches: r.mismatches.map((m) => ({
          login: m.login, balance: formatMoney(m.balanceMicros, 6), postings_sum: formatMoney(m.postingsSumMicros, 6),
          reserved: formatMoney(m.reservedMicros, 6), open_reservations_sum: formatMoney(m.openReservationsMicros, 6),
        })),
      };
    },
  },
} satisfies Record<string, AdminOperation>;

export type AdminOperationName = keyof typeof byName;

/** Every operation with its name, in the order `ledgerline help` and /docs list them. */
export const ADMIN_OPERATIONS: ReadonlyArray<AdminOperation & { name: AdminOperationName }> =
  (Object.keys(byName) as AdminOperationName[]).map((name) => ({ name, ...byName[name] }));
