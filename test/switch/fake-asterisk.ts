// A fake Asterisk for the FastAGI tests: connects like Asterisk does, sends the agi_*
// environment, answers each command the server sends and records them.
import net from 'node:net';

export { freePort } from '../helpers/net.js';

/** What the fake Asterisk answers to a command: a line, several lines, or null to hang up the socket. */
export type Answerer = (command: string) => string | string[] | null;

export interface AgiRun {
  commands: string[];
  /** True when the server closed the connection (a script ends that way), false when the test did. */
  closedByServer: boolean;
}

/** Answers GET VARIABLE from `vars` (unset: result=0) and every SET VARIABLE with success. */
export function asterisk(vars: Record<string, string>): Answerer {
  return (command) => {
    const get = /^GET VARIABLE (.+)$/.exec(command);
    if (get) return get[1] in vars ? `200 result=1 (${vars[get[1]]})` : '200 result=0';
    if (command.startsWith('SET VARIABLE ')) return '200 result=1';
    return '510 Invalid or unknown command';
  };
}

/** Connects like Asterisk does, sends the environment block and answers commands until the server closes. */
export function runAgi(port: number, env: Record<string, string>, answer: Answerer, opts: { raw?: string; localAddress?: string } = {}): Promise<AgiRun> {
  return new Promise((resolve, reject) => {
    const commands: string[] = [];
    let closedByServer = true;
    let buffer = '';
    // localAddress: another Asterisk host (any 127.x address reaches the listener on Linux).
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress }, () => {
      socket.write(opts.raw ?? `${Object.entries(env).map(([k, v]) => `${k}: ${v}\n`).join('')}\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const command = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        commands.push(command);
        const reply = answer(command);
        if (reply === null) {
          closedByServer = false;
          socket.destroy();
          return;
        }
        socket.write(`${(Array.isArray(reply) ? reply : [reply]).join('\n')}\n`);
      }
    });
    socket.on('error', (err) => { if (!['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '')) reject(err); });
    socket.on('close', () => resolve({ commands, closedByServer }));
    setTimeout(() => { socket.destroy(); reject(new Error(`AGI session did not end; commands: ${JSON.stringify(commands)}`)); }, 10_000).unref();
  });
}

export function agiEnv(port: number, script: string, fields: { uniqueid: string; login: string; extension: string }): Record<string, string> {
  return {
    agi_network: 'yes',
    agi_network_script: script,
    agi_request: `agi://127.0.0.1:${port}/${script}`,
    agi_channel: `PJSIP/${fields.login}-0000002a`,
    agi_language: 'en',
    agi_type: 'PJSIP',
    agi_uniqueid: fields.uniqueid,
    agi_version: '20.5.0',
    agi_callerid: fields.login,
    agi_calleridname: 'unknown',
    agi_callingpres: '0',
    agi_callingani2: '0',
    agi_callington: '0',
    agi_callingtns: '0',
    agi_dnid: fields.extension,
    agi_rdnis: 'unknown',
    agi_context: 'ledgerline',
    agi_extension: fields.extension,
    agi_priority: '2',
    agi_enhanced: '0.0',
    agi_accountcode: fields.login,
    agi_threadid: '140245112051264',
  };
}

