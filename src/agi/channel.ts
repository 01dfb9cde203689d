// One FastAGI connection from Asterisk: the `agi_*` environment block, then commands sent one
// per line, each answered with `200 result=N [(value)]` or an error code (510 unknown command,
// 511 not permitted on a dead channel, 520 usage, possibly as a `520-` multi-line block).
// Asterisk may also write a bare `HANGUP` line at any moment once the caller has hung up; it
// is not the answer to anything and is noted, not queued.
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

export interface AgiLimits {
  /** Longest line accepted from Asterisk, in characters. */
  maxLineLength: number;
  /** Most `agi_*` environment lines accepted before the blank line. */
  maxHeaders: number;
  /** How long to wait for Asterisk's next line, in milliseconds. */
  idleTimeoutMs: number;
}

/** The connection ended (socket closed, idle timeout, or a protocol violation). */
export class AgiClosedError extends Error {}
/** Asterisk refused the command because the channel is gone (511). */
export class AgiDeadChannelError extends Error {}
/** Asterisk answered with an error code other than 511, or with something unparsable. */
export class AgiCommandError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export interface AgiReply {
  code: number;
  result: number;
  /** The text in parentheses after `result=N`, when there is one. */
  value: string | null;
}

const REPLY_RE = /^(\d{3})([ -])(.*)$/;
const RESULT_RE = /^result=(-?\d+)(?: \((.*)\))?/;
const VARIABLE_NAME_RE = /^[A-Za-z0-9_]+(\([A-Za-z0-9_,.-]*\))?$/;
const MAX_USAGE_LINES = 200;

const clip = (text: string, n = 120) => (text.length > n ? `${text.slice(0, n)}…` : text);

/** Double-quotes an argument the way Asterisk's AGI argument parser reads it. */
export function quoteArg(value: string): string {
  return `"${value.replace(/[\r\n]/g, ' ').replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export class AgiChannel {
  readonly headers: Record<string, string> = {};
  /** Asterisk reported that the caller hung up (the channel is dead; variables still work). */
  hungUp = false;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private readonly lines: string[] = [];
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null = null;
  private closedError: Error | null = null;

  constructor(private readonly socket: Socket, private readonly limits: AgiLimits) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.fail(new AgiClosedError('Asterisk closed the connection')));
    socket.on('close', () => this.fail(new AgiClosedError('connection closed')));
    socket.on('error', (err) => this.fail(new AgiClosedError(`socket error: ${err.message}`)));
  }

  /** Asterisk's address, for the audit log. */
  get remoteAddress(): string | null {
    return this.socket.remoteAddress ?? null;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Reads the environment block up to its blank line. */
  async readEnvironment(): Promise<void> {
    for (let count = 0; ; count++) {
      const line = await this.readLine();
      if (line === '') return;
      if (count >= this.limits.maxHeaders) throw this.abort(`more than ${this.limits.maxHeaders} environment lines`);
      const sep = line.indexOf(':');
      if (sep <= 0) continue; // not `name: value`; ignored
      const name = line.slice(0, sep).trim().toLowerCase();
      if (!name.startsWith('agi_')) continue;
      this.headers[name] = line.slice(sep + 1).trim();
    }
  }

  /** Sends one command and reads its answer; throws on anything but a 200. */
  async command(cmd: string): Promise<AgiReply> {
    if (this.closedError) throw this.closedError;
    if (/[\r\n]/.test(cmd)) throw new Error('AGI command must be a single line');
    this.socket.write(`${cmd}\n`);
    const line = await this.readLine();
    const m = REPLY_RE.exec(line);
    if (!m) throw this.abort(`unexpected answer to ${cmd.split(' ', 2).join(' ')}: "${clip(line)}"`);
    const code = Number(m[1]);
    if (m[2] === '-') {
      // Multi-line answer (520 usage text): skip to its closing `NNN ` line.
      for (let i = 0; ; i++) {
        if (i >= MAX_USAGE_LINES) throw this.abort('multi-line answer too long');
        const next = await this.readLine();
        if (next.startsWith(`${m[1]} `)) break;
      }
    }
    if (code === 511) throw new AgiDeadChannelError(`${cmd}: channel is dead (511)`);
    if (code !== 200) throw new AgiCommandError(code, `${cmd}: Asterisk answered ${code} ${clip(m[3])}`);
    const r = RESULT_RE.exec(m[3]);
    if (!r) throw new AgiCommandError(code, `${cmd}: unparsable answer "${clip(line)}"`);
    return { code, result: Number(r[1]), value: r[2] ?? null };
  }

  /** `GET VARIABLE`: the value, or null when the variable is unset. */
  async getVariable(name: string): Promise<string | null> {
    if (!VARIABLE_NAME_RE.test(name)) throw new Error(`invalid variable name ${name}`);
    const reply = await this.command(`GET VARIABLE ${name}`);
    return reply.result === 1 ? (reply.value ?? '') : null;
  }

  /** `SET VARIABLE name "value"`. */
  async setVariable(name: string, value: string | number): Promise<void> {
    if (!VARIABLE_NAME_RE.test(name)) throw new Error(`invalid variable name ${name}`);
    await this.command(`SET VARIABLE ${name} ${quoteArg(String(value))}`);
  }

  /** Ends the session: Asterisk continues its dialplan once the connection closes. */
  end(): void {
    this.fail(new AgiClosedError('session ended'), true);
    if (!this.socket.destroyed) this.socket.end();
  }

  /** Drops the connection now (shutdown, protocol violation). */
  destroy(reason: string): void {
    this.fail(new AgiClosedError(reason), true);
    this.socket.destroy();
  }

  private abort(reason: string): AgiClosedError {
    const err = new AgiClosedError(`protocol error: ${reason}`);
    this.fail(err, true);
    this.socket.destroy();
    return err;
  }

  private onData(chunk: Buffer): void {
    if (this.closedError) return;
    this.partial += this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) !== -1) {
      let line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > this.limits.maxLineLength) {
        this.abort(`line longer than ${this.limits.maxLineLength} characters`);
        return;
      }
      if (line.trim() === 'HANGUP') {
        this.hungUp = true;
        continue;
      }
      this.push(line);
      if (this.closedError) return;
    }
    if (this.partial.length > this.limits.maxLineLength) {
      this.abort(`line longer than ${this.limits.maxLineLength} characters`);
    }
  }

  private push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve(line);
      return;
    }
    // Asterisk answers one command at a time; a long unsolicited backlog is not Asterisk.
    if (this.lines.length >= this.limits.maxHeaders + MAX_USAGE_LINES) {
      this.abort('too many unsolicited lines');
      return;
    }
    this.lines.push(line);
  }

  private readLine(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(this.abortIdle());
      }, this.limits.idleTimeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  private abortIdle(): AgiClosedError {
    const err = new AgiClosedError(`no data from Asterisk for ${this.limits.idleTimeoutMs} ms`);
    this.fail(err, true);
    this.socket.destroy();
    return err;
  }

  /** Marks the connection closed; lines already received stay readable unless `discard`. */
  private fail(err: Error, discard = false): void {
    if (discard) this.lines.length = 0;
    if (this.closedError) return;
    this.closedError = err;
    if (this.waiter && this.lines.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
