// The white-label portal's web phone: a browser registers the client's `<login>_web1` service
// SIP account through the Janus gateway's SIP plugin. This hands the portal what it needs:
// the Janus URL, a Janus token signed with the shared token_auth_secret, and the SIP identity.
import type { Actor } from '../accounts/actor.js';
import { randomPassword } from '../accounts/credentials.js';
import { assertActive, reachableClient } from '../accounts/tenancy.js';
import type { Ctx } from '../context.js';
import type { SipAccount } from '../db/schema.js';
import { inTx } from '../db/tx.js';
import { AppError, accountInactive, badRequest, conflict } from '../errors.js';
import { insertSipAccount } from '../sip/sip-accounts.js';
import { LOGIN_RE } from '../util/input.js';
import { formatLocal } from '../util/time.js';
import { buildJanusToken, JANUS_SIP_PLUGIN } from './janus-token.js';

/** Length of the generated web phone SIP secret (letters and digits, about 140 bits). */
const WEB_SECRET_LENGTH = 24;

export const webSipName = (clientLogin: string) => `${clientLogin}_web1`;

export const janusNotConfigured = () => conflict(
  'JANUS_NOT_CONFIGURED',
  'The web phone is not enabled on this server: the operator has not set JANUS_TOKEN_SECRET',
);

export interface SoftphoneToken {
  login: string;
  janus_url: string;
  janus_plugin: string;
  janus_token: string;
  token_expires_at: string | null;
  token_expires_unix: number;
  token_ttl: number;
  sip: {
    username: string;
    authuser: string;
    secret: string;
    domain: string;
    realm: string;
    uri: string;
    proxy: string;
    display_name: string;
  };
  /** The body of the SIP plugin's `register` message, ready to send. */
  register: Record<string, string>;
  created: boolean;
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * `client-softphone-token {login}`: creates the client's `_web1` account when missing (projected
 * into the switch tables in the same transaction), reuses it afterwards, and signs a token.
 */
export async function softphoneToken(ctx: Ctx, actor: Actor, input: { login?: unknown }): Promise<SoftphoneToken> {
  if (typeof input.login !== 'string' || input.login.trim() === '') throw badRequest('login', 'is required');
  const login = input.login.trim();
  if (!LOGIN_RE.test(login)) throw badRequest('login', 'must be a client login (3-32 letters, digits, dot, dash or underscore)');

  // Two requests racing to create the account: the loser retries and finds the winner's.
  for (let attempt = 1; ; attempt++) {
    try {
      return await issue(ctx, actor, login);
    } catch (err) {
      const race = isUniqueViolation(err) || (err instanceof AppError && err.code === 'SIP_LOGIN_TAKEN');
      if (!race || attempt >= 2) throw err;
    }
  }
}

async function issue(ctx: Ctx, actor: Actor, login: string): Promise<SoftphoneToken> {
  return inTx(ctx.db, async (trx) => {
    const client = await reachableClient(trx, actor, login);
    assertActive(actor);
    if (client.active !== 1) throw accountInactive();
    const secretKey = ctx.config.janusTokenSecret;
    if (!secretKey) throw janusNotConfigured();

    const name = webSipName(client.login);
    const existing: SipAccount | undefined = await trx.selectFrom('sip_accounts').selectAll()
      .where('name', '=', name).where('account_id', '=', client.id).where('kind', '=', 'web').executeTakeFirst();
    const created = existing === undefined;
    let secret: string;
    if (existing === undefined) {
      secret = randomPassword(WEB_SECRET_LENGTH);
      await insertSipAccount(ctx, trx, client, name, 'web', secret);
    } else {
      if (!existing.secret_enc) throw conflict('SIP_SECRET_UNAVAILABLE', `SIP account ${name} has no stored secret`);
      secret = ctx.secrets.decrypt(existing.secret_enc);
    }

    const domain = ctx.config.sipDomain;
    const nowMs = Date.now();
    const token = buildJanusToken(secretKey, { nowMs, plugins: [JANUS_SIP_PLUGIN] });
    const uri = `sip:${name}@${domain}`;
    const proxy = `sip:${domain}`;
    return {
      login: client.login,
      janus_url: ctx.config.janusUrl,
      janus_plugin: JANUS_SIP_PLUGIN,
      janus_token: token.token,
      token_expires_at: formatLocal(new Date(token.expiresAt * 1000).toISOString()),
      token_expires_unix: token.expiresAt,
      token_ttl: token.expiresAt - Math.floor(nowMs / 1000),
      sip: {
        username: name,
        authuser: name,
        secret,
        domain,
        realm: domain,
        uri,
        proxy,
        display_name: client.name ?? client.login,
      },
      register: {
        request: 'register',
        username: uri,
        authuser: name,
        display_name: client.name ?? client.login,
        secret,
        proxy,
      },
      created,
    };
  });
}
