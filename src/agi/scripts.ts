// The two FastAGI scripts of the Switch API (deploy/asterisk/extensions.conf calls them):
//   agi://HOST:4573/authorize  before Dial: may the call start, and for how long?
//   agi://HOST:4573/cdr        from the hangup handler: settle the call.
// They run the same services as the HTTP Switch API (authorizeCall, settleCdr).
import type { Logger } from 'pino';
import { authorizeCall, type AuthorizeResult } from '../calls/authorize.js';
import { normalizeDestination } from '../calls/caller.js';
import { releaseReservations, settleCdr, type Disposition } from '../calls/settle.js';
import { switchRefOfAgi } from '../calls/switch-ref.js';
import { writeAudit, writeAuditLogged, type AuditEntry } from '../audit/audit-log.js';
import { withTrx, type Ctx } from '../context.js';
import { inTx } from '../db/tx.js';
import { AppError, OverloadedError } from '../errors.js';
import { callsAuthorized } from '../metrics.js';
import type { AgiChannel } from './channel.js';

/** Refusals the AGI adds to authorizeCall's own reasons (LL_REASON). */
export type AgiRefusal = 'INVALID_REQUEST' | 'INVALID_DESTINATION' | 'UNKNOWN_CALLER' | 'ERROR';

/** Asterisk's DIALSTATUS mapped to a CDR disposition (as Asterisk's own CDRs do). */
export function dispositionOf(dialStatus: string | null): Disposition {
  switch ((dialStatus ?? '').trim().toUpperCase()) {
    case 'ANSWER': return 'ANSWERED';
    case 'NOANSWER':
    case 'CANCEL': return 'NO ANSWER';
    case 'BUSY': return 'BUSY';
    case 'CONGESTION': return 'CONGESTION';
    default: return 'FAILED'; // CHANUNAVAIL, DONTCALL, TORTURE, INVALIDARGS, or Dial never ran
  }
}

const CHANNEL_PEER_RE = /^(?:PJSIP|SIP)\/(.+)-[0-9a-f]{8}$/i;

/**
 * The SIP login of the calling endpoint: CHANNEL(endpoint) (the PJSIP endpoint is the SIP
 * login or the `<login>_ipaN` peer), else the peer in the channel name
 * (`PJSIP/1234567801-00000001`), else the channel's accountcode (the client login, which is
 * also its main SIP account).
 */
export function callerLogin(endpoint: string | null, headers: Record<string, string>): string | null {
  const fromEndpoint = endpoint?.trim();
  if (fromEndpoint) return fromEndpoint;
  const peer = CHANNEL_PEER_RE.exec(headers.agi_channel ?? '');
  if (peer) return peer[1];
  const accountcode = headers.agi_accountcode?.trim();
  return accountcode || null;
}

/** The channel's creation time (`[system-]EPOCH.SEQ`), which is where Asterisk's CDR starts. */
export function startTimeOf(uniqueid: string): string | undefined {
  const m = /(\d{9,11})\.\d+$/.exec(uniqueid);
  return m ? m[1] : undefined;
}

type Outcome = Omit<AuthorizeResult, 'reason'> & { reason?: AuthorizeResult['reason'] | AgiRefusal };

/** An AGI script's request in the audit log, like an HTTP one: api `agi`, Asterisk's address. */
function agiAudit(agi: AgiChannel, script: string, status = 200, errorCode: string | null = null): AuditEntry {
  return { actor: null, api: 'agi', endpoint: script, method: 'AGI', ip: agi.remoteAddress, status, errorCode };
}

function refusal(reason: AgiRefusal): Outcome {
  callsAuthorized.inc({ outcome: reason });
  return { allowed: false, max_duration: 0, caller_id: null, rate: null, reason };
}

export async function runAuthorize(ctx: Ctx, agi: AgiChannel, log: Logger): Promise<void> {
  const uniqueid = agi.headers.agi_uniqueid ?? '';
  const login = callerLogin(await agi.getVariable('CHANNEL(endpoint)'), agi.headers);
  // The dialled number: AGI(agi://…/authorize,NUMBER) when the dialplan passes one, else ${EXTEN}.
  let destination: string | null = null;
  try {
    destination = normalizeDestination(agi.headers.agi_arg_1 || agi.headers.agi_extension || '');
  } catch { /* refused below */ }

  let result: Outcome;
  let audited = false;
  if (!uniqueid) result = refusal('INVALID_REQUEST');
  else if (destination === null) result = refusal('INVALID_DESTINATION');
  else if (!login) result = refusal('UNKNOWN_CALLER');
  else {
    try {
      result = await inTx(ctx.db, async (trx) => {
        const authorized = await authorizeCall(withTrx(ctx, trx), { uniqueid, sip_login: login, destination }, switchRefOfAgi(agi.remoteAddress));
        await writeAudit(trx, agiAudit(agi, 'authorize'));
        return authorized;
      });
      audited = true;
      // As over HTTP: the reservation is on disk before the switch hears the answer.
      if (result.allowed) await ctx.durable();
    } catch (err) {
      if (err instanceof AppError && err.status === 400) {
        result = refusal(err.field === 'sip_login' ? 'UNKNOWN_CALLER' : 'INVALID_REQUEST');
      } else {
        log.error({ err, sip_login: login, destination }, 'authorize failed; call refused');
        result = refusal('ERROR');
      }
    }
  }
  // Refused before anything was written (bad request, unknown caller, failure): audited alone.
  if (!audited) await writeAuditLogged(ctx.db, agiAudit(agi, 'authorize', result.reason === 'ERROR' ? 500 : 400, result.reason ?? null), log);
  log[result.allowed ? 'debug' : 'info']({ sip_login: login, destination, allowed: result.allowed, max_duration: result.max_duration, reason: result.reason }, 'AGI authorize');

  // LL_ALLOWED goes last: the dialplan dials only once every other variable is in place.
  let allowedSent = false;
  try {
    await agi.setVariable('LL_MAX_DURATION', result.max_duration);
    if (destination !== null) await agi.setVariable('LL_DESTINATION', destination);
    if (result.sip_login) await agi.setVariable('LL_SIP', result.sip_login);
    if (result.allowed && result.caller_id) await agi.setVariable('CALLERID(num)', result.caller_id);
    if (!result.allowed) await agi.setVariable('LL_REASON', result.reason ?? 'ERROR');
    allowedSent = true;
    await agi.setVariable('LL_ALLOWED', result.allowed ? 1 : 0);
  } catch (err) {
    // The caller left (or Asterisk failed) before the call could be allowed: it will never be
    // dialled, so its reservation is freed now rather than when it expires.
    if (result.allowed && !allowedSent && destination !== null) {
      await inTx(ctx.db, async (trx) => {
        await releaseReservations(trx, ctx.dialect, uniqueid, switchRefOfAgi(agi.remoteAddress));
        await writeAudit(trx, agiAudit(agi, 'authorize-abandoned'));
      })
        .catch((e) => log.error({ err: e }, 'could not free the reservation of an abandoned call'));
      log.info({ reason: (err as Error).message }, 'AGI authorize interrupted; reservation freed');
      return;
    }
    throw err;
  }
}

export async function runCdr(ctx: Ctx, agi: AgiChannel, log: Logger): Promise<void> {
  const uniqueid = agi.headers.agi_uniqueid ?? '';
  const destination = await agi.getVariable('LL_DESTINATION');
  const sipLogin = await agi.getVariable('LL_SIP');
  let answeredTime = await agi.getVariable('ANSWEREDTIME');
  const dialStatus = await agi.getVariable('DIALSTATUS');
  const hangupCause = await agi.getVariable('HANGUPCAUSE');
  const disposition = dispositionOf(dialStatus);
  if (disposition === 'ANSWERED' && !answeredTime) {
    // Asterisk before ANSWEREDTIME existed: the CDR's billsec is the same figure.
    answeredTime = await agi.getVariable('CDR(billsec)');
  }
  if (!uniqueid || !destination || !sipLogin) {
    log.warn({ destination, sip_login: sipLogin }, 'AGI cdr without LL_DESTINATION/LL_SIP (call not authorized through AGI); ignored');
    return;
  }
  // Whole seconds answered; Asterisk may add a fraction (`61.2`), which is dropped, not rounded.
  const whole = /^\s*(\d{1,7})(?:\.\d*)?\s*$/.exec(answeredTime ?? '');
  const answered = disposition === 'ANSWERED' && whole ? Number(whole[1]) : 0;
  try {
    const res = await inTx(ctx.db, async (trx) => {
      const settled = await settleCdr(withTrx(ctx, trx), {
        uniqueid, sip_login: sipLogin, destination, start_time: startTimeOf(uniqueid),
        answered_seconds: answered, disposition, hangup_cause: hangupCause || undefined,
      }, switchRefOfAgi(agi.remoteAddress));
      await writeAudit(trx, agiAudit(agi, 'cdr'));
      return settled;
    });
    // The hangup handler ends when the connection closes: only once the charge is on disk.
    await ctx.durable();
    log.debug({ sip_login: sipLogin, destination, disposition, answered_seconds: answered, cost: res.cost, duplicate: res.duplicate }, 'AGI cdr');
  } catch (caught) {
    const err = caught instanceof OverloadedError ? caught.toAppError() : caught;
    // Everything needed to replay the CDR through the HTTP Switch API is in the log line.
    const cdr = { uniqueid, sip_login: sipLogin, destination, start_time: startTimeOf(uniqueid), answered_seconds: answered, disposition, hangup_cause: hangupCause };
    const code = err instanceof AppError ? err.code : 'INTERNAL_ERROR';
    const status = err instanceof AppError ? err.status : 500;
    // 5xx: nothing was applied and sending it again may succeed; 4xx: it would be refused again.
    const retry = status >= 500;
    if (err instanceof AppError) log.error({ code, error: err.message, retry, cdr }, 'AGI cdr not settled');
    else log.error({ err, code, retry, cdr }, 'AGI cdr not settled');
    await writeAuditLogged(ctx.db, agiAudit(agi, 'cdr', status, code), log);
    // Tell the dialplan, so the hangup handler can run the script again (LL_CDR_RETRY=1) or alert.
    try {
      await agi.setVariable('LL_CDR_ERROR', code);
      await agi.setVariable('LL_CDR_RETRY', retry ? 1 : 0);
    } catch (e) {
      log.error({ err: e, uniqueid }, 'AGI cdr: could not report the failure to the channel');
    }
  }
}

export const AGI_SCRIPTS: Record<string, (ctx: Ctx, agi: AgiChannel, log: Logger) => Promise<void>> = {
  authorize: runAuthorize,
  cdr: runCdr,
};
