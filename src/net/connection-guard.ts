// Admission of TCP connections on a listener (HTTP or FastAGI): an optional allow-list of
// peer addresses, a cap per peer address and, through net.Server.maxConnections, a cap in
// all. A refused connection is destroyed before anything is read from it. Refusals are
// counted in /metrics and logged, at most one line per peer and reason every 10 s, so that
// a flood cannot flood the log too.
import type { Server, Socket } from 'node:net';
import client from 'prom-client';
import type { Logger } from 'pino';
import { registry } from '../metrics.js';
import { peerKey } from './addresses.js';

export type RefusalReason = 'not_allowed' | 'per_address' | 'total';

const connectionsRefused = new client.Counter({
  name: 'ledgerline_connections_refused_total',
  help: 'Connections closed on arrival, by listener and reason (not_allowed, per_address, total)',
  labelNames: ['listener', 'reason'] as const,
  registers: [registry],
});

const REPORT_INTERVAL_MS = 10_000;
/** Peers remembered for log throttling; beyond this the memory is cleared (a few extra lines). */
const MAX_REPORTED_PEERS = 1024;

export interface ConnectionGuardOptions {
  /** `http` or `agi`: the metric label and the log lines' prefix. */
  listener: 'http' | 'agi';
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** When given, peers it rejects are refused (the AGI allow-list). */
  allowed?: (address: string | undefined) => boolean;
  /** The log line of an allow-list refusal. */
  notAllowedMessage?: string;
  log: Logger;
}

export class ConnectionGuard {
  /** Open connections per peer key; entries leave the map when their count drops to 0. */
  private readonly openByPeer = new Map<string, number>();
  private readonly lastReported = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly opts: ConnectionGuardOptions) {}

  /** Caps `server` in all and logs what its cap drops; call admit() from its connection handler. */
  attach(server: Server): void {
    server.maxConnections = this.opts.maxConnections;
    server.on('drop', (info) => this.refused('total', info?.remoteAddress, this.opts.maxConnections));
  }

  /** Counts the connection in, or destroys it and returns false. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress;
    if (this.opts.allowed && !this.opts.allowed(address)) {
      socket.destroy();
      this.refused('not_allowed', address, null);
      return false;
    }
    const key = peerKey(address);
    const open = this.openByPeer.get(key) ?? 0;
    if (open >= this.opts.maxConnectionsPerAddress) {
      socket.destroy();
      this.refused('per_address', address, this.opts.maxConnectionsPerAddress);
      return false;
    }
    this.openByPeer.set(key, open + 1);
    socket.once('close', () => {
      const left = (this.openByPeer.get(key) ?? 1) - 1;
      if (left <= 0) this.openByPeer.delete(key);
      else this.openByPeer.set(key, left);
    });
    return true;
  }

  private refused(reason: RefusalReason, address: string | undefined, limit: number | null): void {
    connectionsRefused.labels(this.opts.listener, reason).inc();
    const id = `${reason} ${peerKey(address)}`;
    const nowMs = Date.now();
    const last = this.lastReported.get(id);
    if (last && nowMs - last.atMs < REPORT_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (!last && this.lastReported.size >= MAX_REPORTED_PEERS) this.lastReported.clear();
    this.lastReported.set(id, { atMs: nowMs, suppressed: 0 });
    const name = this.opts.listener === 'http' ? 'HTTP' : 'AGI';
    const msg = reason === 'not_allowed'
      ? (this.opts.notAllowedMessage ?? `${name} connection refused: address not allowed`)
      : reason === 'per_address'
        ? `${name} connection refused: too many connections from this address`
        : `${name} connection refused: too many connections in all`;
    this.opts.log.warn({
      listener: this.opts.listener, reason, remote: address ?? null, limit,
      // Refusals of this peer for this reason not logged since the last line.
      alsoRefused: last?.suppressed ?? 0,
    }, msg);
  }
}
