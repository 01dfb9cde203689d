// FastAGI listener (AGI_HOST:AGI_PORT, default 127.0.0.1:4573): Asterisk's dialplan reaches
// the Switch API's authorize and cdr through AGI(agi://HOST:PORT/authorize) and
// AGI(agi://HOST:PORT/cdr). FastAGI has no authentication: whoever connects is trusted as the
// switch, so connections are admitted only from the allow-list (when one is given), within
// per-address and total caps, and each session is bounded in time.
// Each connection is one script run; errors are logged and end that connection only.
import net from 'node:net';
import type { Ctx } from '../context.js';
import { addressMatcher } from '../net/addresses.js';
import { ConnectionGuard } from '../net/connection-guard.js';
import { AgiChannel, AgiClosedError, AgiCommandError, AgiDeadChannelError, type AgiLimits } from './channel.js';
import { AGI_SCRIPTS } from './scripts.js';

export interface FastAgiOptions extends Partial<AgiLimits> {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Switch addresses and CIDR blocks served (validated); empty or absent: any peer that reaches `host`. */
  allowedIps?: readonly string[];
  /** Connections beyond this are closed at once; Asterisk then sees AGISTATUS=FAILURE. */
  maxConnections?: number;
  /** Connections from one address (IPv6: one /64) beyond this are closed at once. */
  maxConnectionsPerAddress?: number;
  /** A session still running after this is dropped, however busy the peer keeps it. */
  sessionTimeoutMs?: number;
  /** On close, how long running scripts may take to finish before their connections are dropped. */
  shutdownGraceMs?: number;
}

export interface FastAgiServer {
  port: number;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: AgiLimits = { maxLineLength: 8192, maxHeaders: 256, idleTimeoutMs: 30_000 };
const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 1000;

/** `agi_network_script`: the path after agi://host:port/, without a query string or slashes. */
export function scriptName(raw: string | undefined): string {
  return (raw ?? '').split('?', 1)[0].replace(/^\/+|\/+$/g, '').toLowerCase();
}

export async function startFastAgiServer(ctx: Ctx, opts: FastAgiOptions): Promise<FastAgiServer> {
  const limits: AgiLimits = {
    maxLineLength: opts.maxLineLength ?? DEFAULT_LIMITS.maxLineLength,
    maxHeaders: opts.maxHeaders ?? DEFAULT_LIMITS.maxHeaders,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_LIMITS.idleTimeoutMs,
  };
  const log = ctx.log.child({ component: 'fastagi' });
  const sessions = new Map<AgiChannel, Promise<void>>();

  async function session(agi: AgiChannel, remote: string): Promise<void> {
    let slog = log.child({ remote });
    try {
      await agi.readEnvironment();
      const name = scriptName(agi.headers.agi_network_script);
      slog = slog.child({ script: name, uniqueid: agi.headers.agi_uniqueid, channel: agi.headers.agi_channel });
      const script = AGI_SCRIPTS[name];
      if (!script) {
        slog.warn({ request: agi.headers.agi_request }, 'unknown AGI script; connection closed');
        return;
      }
      await script(ctx, agi, slog);
    } catch (err) {
      if (err instanceof AgiClosedError || err instanceof AgiDeadChannelError) {
        slog.info({ reason: err.message, hangup: agi.hungUp }, 'AGI session ended early');
      } else if (err instanceof AgiCommandError) {
        slog.warn({ reason: err.message }, 'Asterisk refused an AGI command; session ended');
      } else {
        slog.error({ err }, 'AGI session failed');
      }
    } finally {
      agi.end();
    }
  }

  const sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const guard = new ConnectionGuard({
    listener: 'agi',
    maxConnections,
    maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? maxConnections,
    allowed: opts.allowedIps && opts.allowedIps.length > 0 ? addressMatcher(opts.allowedIps) : undefined,
    notAllowedMessage: 'AGI connection refused: address not in AGI_ALLOWED_IPS',
    log,
  });

  const server = net.createServer({ noDelay: true }, (socket) => {
    if (!guard.admit(socket)) return;
    const agi = new AgiChannel(socket, limits);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const overdue = setTimeout(() => {
      log.warn({ remote, sessionTimeoutMs }, 'AGI session took too long; connection dropped');
      agi.destroy(`session longer than ${sessionTimeoutMs} ms`);
    }, sessionTimeoutMs);
    const run = session(agi, remote).catch((err) => log.error({ err }, 'AGI session crashed'));
    sessions.set(agi, run);
    void run.finally(() => {
      clearTimeout(overdue);
      sessions.delete(agi);
    });
  });
  guard.attach(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'FastAGI listener error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  log.info({ host: opts.host, port }, 'FastAGI listening');

  return {
    port,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Running scripts get a moment to finish their database work and answers.
      const grace = opts.shutdownGraceMs ?? 2000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(sessions.values()),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, grace); }),
      ]);
      clearTimeout(timer);
      for (const agi of sessions.keys()) agi.destroy('server shutting down');
      await Promise.all(sessions.values());
      await stopped;
    },
  };
}
