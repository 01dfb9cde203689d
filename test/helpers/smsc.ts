// An SMSC on loopback for the SMPP adapter's tests: the `smpp` package's server side, playing
// a carrier. It checks the bind's credentials, records every submit_sm as it arrived (decoded
// text, UDH, data coding, addresses), answers with a message id, and sends a delivery receipt
// for it, as a carrier does: on the bind that submitted it, or, when that one is gone, on the
// next bound session; a receipt refused (a deliver_sm_resp with an error status) is sent again
// shortly, and one whose deliver_sm_resp never came is sent again on the next bind. Switches make it misbehave: answer nothing, drop every connection.
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type Session } from 'smpp';

export interface Submitted {
  messageId: string;
  /** Which bind it came on (1 for the first bind, and so on). */
  bind: number;
  source: string;
  sourceTon: number;
  destination: string;
  dataCoding: number;
  esmClass: number;
  udh: Buffer | null;
  text: string;
}

export interface TestSmsc {
  port: number;
  submitted: Submitted[];
  /** Message ids of the receipts acknowledged with status 0, in order. */
  acknowledged: string[];
  binds: number;
  /** Answer no submit_sm (the SMSC stops answering). */
  silent: boolean;
  /** How receipts are written: TLVs (receipted_message_id, message_state) or only the text. */
  receipts: 'tlv' | 'text' | 'none';
  /** Delivery outcome by destination (default DELIVRD). */
  outcome: (destination: string) => 'DELIVRD' | 'UNDELIV';
  dropConnections(): void;
  close(): Promise<void>;
}

const STATE: Record<string, number> = { DELIVRD: 2, UNDELIV: 5 };

export async function startSmsc(credentials = { systemId: 'ledgerline', password: 'secret' }): Promise<TestSmsc> {
  let next = 1000;
  const sessions = new Set<Session>();
  const bound = new Set<Session>();
  const heldReceipts: Array<Record<string, unknown>> = [];
  /** Receipts sent on each session and not yet acknowledged: sent again if it closes. */
  const unacked = new Map<Session, Set<Record<string, unknown>>>();
  const deliver = (preferred: Session, receipt: Record<string, unknown>) => {
    const session = bound.has(preferred) ? preferred : bound.values().next().value;
    if (!session) { heldReceipts.push(receipt); return; }
    const pending = unacked.get(session) ?? new Set();
    unacked.set(session, pending);
    pending.add(receipt);
    session.deliver_sm(receipt, (resp: PDU) => {
      pending.delete(receipt);
      if (resp.command_status !== 0) setTimeout(() => deliver(session, receipt), 100);
      else smsc.acknowledged.push(String(receipt.receipted_message_id ?? /\bid:(\S+)/.exec(String(receipt.short_message))?.[1]));
    });
  };
  const smsc: TestSmsc = {
    port: 0, submitted: [], acknowledged: [], binds: 0, silent: false, receipts: 'tlv', outcome: () => 'DELIVRD',
    dropConnections() { for (const s of sessions) s.destroy(); },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = smpp.createServer({}, (session: Session) => {
    sessions.add(session);
    let bind = 0;
    session.on('close', () => {
      sessions.delete(session);
      bound.delete(session);
      const pending = unacked.get(session);
      unacked.delete(session);
      for (const receipt of pending ?? []) deliver(session, receipt);
    });
    session.on('error', () => {});
    session.on('bind_transceiver', (pdu: PDU) => {
      const ok = pdu.system_id === credentials.systemId && pdu.password === credentials.password;
      if (ok) bind = ++smsc.binds;
      session.send(pdu.response({ command_status: ok ? 0 : 0x0e }));
      if (ok) {
        bound.add(session);
        for (const receipt of heldReceipts.splice(0)) deliver(session, receipt);
      }
    });
    session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
    session.on('unbind', (pdu: PDU) => { session.send(pdu.response()); session.close(); });
    session.on('submit_sm', (pdu: PDU) => {
      const messageId = `M${next++}`;
      const body = pdu.short_message as { udh?: Buffer[]; message: string | Buffer };
      smsc.submitted.push({
        messageId, bind, source: pdu.source_addr, sourceTon: pdu.source_addr_ton, destination: pdu.destination_addr,
        dataCoding: pdu.data_coding, esmClass: pdu.esm_class, udh: body.udh?.[0] ?? null,
        text: typeof body.message === 'string' ? body.message : body.message.toString('latin1'),
      });
      if (smsc.silent) return;
      session.send(pdu.response({ message_id: messageId }));
      if (smsc.receipts === 'none') return;
      const stat = smsc.outcome(pdu.destination_addr);
      const text = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612011200 done date:2612011200 stat:${stat} err:000 text:`;
      setTimeout(() => deliver(session, {
        source_addr: pdu.destination_addr, destination_addr: pdu.source_addr, esm_class: 0x04, short_message: text,
        ...(smsc.receipts === 'tlv' ? { receipted_message_id: messageId, message_state: STATE[stat] } : {}),
      }), 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  smsc.port = (server.address() as AddressInfo).port;
  return smsc;
}

/** The submitted parts of one message put back together, in order of their UDH sequence. */
export function reassemble(parts: Submitted[]): string {
  return [...parts].sort((a, b) => (a.udh ? a.udh[4] : 0) - (b.udh ? b.udh[4] : 0)).map((p) => p.text).join('');
}
