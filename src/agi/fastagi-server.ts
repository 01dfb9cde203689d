// FastAGI listener (AGI_PORT, default 4573): Asterisk's dialplan reaches the Switch API's
// authorize and cdr through AGI(agi://HOST:PORT/authorize) and AGI(agi://HOST:PORT/cdr).
// Each connection is one script run; errors are logged and end that connection only.
import net from 'node:net';
import type { Ctx } from '../context.js';
import { AgiChannel, AgiClosedError, AgiCommandError, AgiDeadChannelError, type AgiLimits } from './channel.js';
import { AGI_SCRIPTS } from './scripts.js';

export interface FastAgiOptions extends Partial<AgiLimits> {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Connections beyond this are closed at once; Asterisk then sees AGISTATUS=FAILURE. */
  maxConnections?: number;
  /** On close, how long running scripts may take to finish before their connections are dropped. */
  shutdownGraceMs?: number;
}

export interface FastAgiServer {
  port: number;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: AgiLimits = { maxLineLength: 8192, maxHeaders: 256, idleTimeoutMs: 30_000 };

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

  const server = net.createServer({ noDelay: true }, (socket) => {
    const agi = new AgiChannel(socket, limits);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const run = session(agi, remote).catch((err) => log.error({ err }, 'AGI session crashed'));
    sessions.set(agi, run);
    void run.finally(() => sessions.delete(agi));
  });
  server.maxConnections = opts.maxConnections ?? 1000;
  server.on('drop', (info) => log.warn({ remote: info?.remoteAddress, max: server.maxConnections }, 'AGI connection refused: too many connections'));

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
