// Projects SIP accounts and IP-auth peers into the tables the switches read, always inside
// the transaction of the change: Asterisk PJSIP realtime (ps_*) and Kamailio (subscriber,
// address). "Removed from the switch" means removed from these tables.
import type { Trx } from '../db/connect.js';

export const DIALPLAN_CONTEXT = 'ledgerline';
const CODECS = 'ulaw,alaw,g722,opus';

export interface SipProjection {
  name: string;
  accountLogin: string;
  ha1: string;
  ha1b: string;
  callerId: string | null;
  realm: string;
  /** Web phone accounts: the browser speaks WebRTC to Janus, whose SIP plugin registers here over UDP. */
  webrtc: boolean;
}

export async function removeEndpoint(trx: Trx, name: string): Promise<void> {
  await trx.deleteFrom('ps_endpoints').where('id', '=', name).execute();
  await trx.deleteFrom('ps_auths').where('id', '=', name).execute();
  await trx.deleteFrom('ps_aors').where('id', '=', name).execute();
  await trx.deleteFrom('ps_endpoint_id_ips').where('id', '=', name).execute();
  await trx.deleteFrom('address').where('tag', '=', name).execute();
}

export async function removeSubscriber(trx: Trx, name: string, realm: string): Promise<void> {
  await trx.deleteFrom('subscriber').where('username', '=', name).where('domain', '=', realm).execute();
}

/** Digest-authenticated SIP account. Stores only digests: no clear password reaches the switch. */
export async function projectSipAccount(trx: Trx, p: SipProjection): Promise<void> {
  await removeEndpoint(trx, p.name);
  await removeSubscriber(trx, p.name, p.realm);
  await trx.insertInto('ps_endpoints').values({
    id: p.name,
    transport: 'transport-udp',
    aors: p.name,
    auth: p.name,
    context: DIALPLAN_CONTEXT,
    disallow: 'all',
    allow: CODECS,
    callerid: p.callerId,
    direct_media: 'no',
    identify_by: 'username',
    from_domain: p.realm,
    accountcode: p.accountLogin,
  }).execute();
  await trx.insertInto('ps_auths').values({
    id: p.name, auth_type: 'md5', username: p.name, realm: p.realm, md5_cred: p.ha1, password: null,
  }).execute();
  await trx.insertInto('ps_aors').values({ id: p.name, max_contacts: p.webrtc ? 5 : 3, remove_existing: 'yes', contact: null }).execute();
  await trx.insertInto('subscriber').values({ username: p.name, domain: p.realm, password: '', ha1: p.ha1, ha1b: p.ha1b }).execute();
}

export interface IpPeerProjection {
  peerName: string;
  accountLogin: string;
  ip: string;
  port: number;
  callerId: string | null;
}

/** IP-authenticated peer: identified by source address, no digest auth. */
export async function projectIpPeer(trx: Trx, p: IpPeerProjection): Promise<void> {
  await removeEndpoint(trx, p.peerName);
  await trx.insertInto('ps_endpoints').values({
    id: p.peerName,
    transport: 'transport-udp',
    aors: p.peerName,
    auth: null,
    context: DIALPLAN_CONTEXT,
    disallow: 'all',
    allow: CODECS,
    callerid: p.callerId,
    direct_media: 'no',
    identify_by: 'ip',
    from_domain: null,
    accountcode: p.accountLogin,
  }).execute();
  await trx.insertInto('ps_aors').values({
    id: p.peerName, max_contacts: 1, remove_existing: 'yes', contact: `sip:${p.ip}:${p.port}`,
  }).execute();
  await trx.insertInto('address').values({ grp: 1, ip_addr: p.ip, mask: 32, port: p.port, tag: p.peerName }).execute();
  await projectIpMatches(trx, p.ip);
}

/**
 * Asterisk identifies an IP peer by `ps_endpoint_id_ips.match`, and a source address matched by
 * two rows is a coin toss over who pays. An address belongs to one client (sip/ip-auth.ts), who
 * may still bind several ports of it: a lone active peer on the address matches the address
 * (any source port: a PBX may send from more than one), several each match their own
 * `ip:port` (port matching: Asterisk 16+). Run after any change of the address's active peers.
 * Bounded by the records one client may have (MAX_IP_AUTH_PER_CLIENT).
 */
export async function projectIpMatches(trx: Trx, ip: string): Promise<void> {
  const peers = await trx.selectFrom('ip_auth').select(['peer_name', 'port'])
    .where('ip', '=', ip).where('status', '=', 1).orderBy('id').execute();
  for (const peer of peers) {
    const match = peers.length === 1 ? ip : `${ip}:${peer.port}`;
    await trx.deleteFrom('ps_endpoint_id_ips').where('id', '=', peer.peer_name).execute();
    await trx.insertInto('ps_endpoint_id_ips').values({ id: peer.peer_name, endpoint: peer.peer_name, match }).execute();
  }
}

/** The active caller ID is presented on every endpoint of the account. */
export async function projectCallerId(trx: Trx, accountLogin: string, callerId: string | null): Promise<void> {
  await trx.updateTable('ps_endpoints').set({ callerid: callerId }).where('accountcode', '=', accountLogin).execute();
}
