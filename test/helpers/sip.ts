// Real SIP peers for the switch tests: Kamailio run with deploy/kamailio/kamailio.cfg, and
// sipp as the caller (UAC) and as the carrier (UAS), all on loopback. Every process started
// here is stopped by its stop(). Kamailio forks its workers: it runs in a process group of its
// own, and stop() ends the whole group, so no worker outlives it holding the test's pipes.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const KAMAILIO_CFG = path.join(root, 'deploy', 'kamailio', 'kamailio.cfg');
export const SIPP_DIR = path.join(root, 'test', 'switch', 'sipp');
export const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

/** Kamailio modules the configuration loads beyond the core package, by the Debian package that ships them. */
export const KAMAILIO_EXTRA_MODULES: Record<string, string> = {
  'http_client.so': 'kamailio-utils-modules',
  'jansson.so': 'kamailio-extra-modules',
  'db_sqlite.so': 'kamailio-sqlite-modules',
  'db_postgres.so': 'kamailio-postgres-modules',
};

function onExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after 5 s; to the process group when the child leads one. */
async function stopProcess(child: ChildProcess, group = false): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (group && child.pid) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch { /* already gone */ }
  };
  const exited = onExit(child);
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  // The workers of a group may linger a moment after its leader: make sure none is left.
  if (group) signal('SIGKILL');
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** One SIP request over UDP; resolves with the status line's code, or null after `ms`. */
export async function sipPing(port: number, ms = 500): Promise<number | null> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const local = socket.address().port;
    const callId = `ping-${Date.now()}-${Math.random()}`;
    const msg = [
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${callId.replace(/\W/g, '')}`,
      'Max-Forwards: 70',
      `From: <sip:ping@127.0.0.1>;tag=${local}`,
      `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0', '', '',
    ].join('\r\n');
    return await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      socket.on('message', (data) => {
        const m = /^SIP\/2\.0 (\d{3})/.exec(data.toString());
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
      socket.send(msg, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

export interface Kamailio { port: number; output: () => string; stop: () => Promise<void> }

export interface KamailioOptions {
  binary: string;
  dbUrl: string;
  sqlite: boolean;
  switchUrl: string;
  switchKey: string;
  carrierPort: number;
  sipDomain: string;
}

/** Kamailio on a free loopback port with the deployed configuration, once it answers OPTIONS. */
export async function startKamailio(o: KamailioOptions): Promise<Kamailio> {
  const port = await freePort();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-kamailio-'));
  const defines = [
    `LL_LISTEN=udp:127.0.0.1:${port}`,
    `LL_DB_URL="${o.dbUrl}"`,
    `LL_SIP_DOMAIN="${o.sipDomain}"`,
    `LL_SWITCH_URL="${o.switchUrl}"`,
    `LL_SWITCH_KEY="${o.switchKey}"`,
    `LL_CARRIER="sip:127.0.0.1:${o.carrierPort}"`,
    'LL_CHILDREN=8',
    ...(o.sqlite ? ['LL_DB_SQLITE'] : []),
  ];
  const args = ['-DD', '-E', '-f', KAMAILIO_CFG, '-Y', runDir, '-w', runDir, '-m', '64', '-M', '8',
    ...defines.flatMap((d) => ['-A', d])];
  const child = spawn(o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // Detached, it would outlive a test process that dies: the group goes with it.
  const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', killGroup);
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString()).slice(-400_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    process.off('exit', killGroup);
    await stopProcess(child, true);
    fs.rmSync(runDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      fs.rmSync(runDir, { recursive: true, force: true });
      throw new Error(`kamailio exited (${child.exitCode}):\n${output.slice(-6000)}`);
    }
    if (await sipPing(port, 300) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`kamailio did not answer OPTIONS:\n${output.slice(-6000)}`);
    }
  }
  return { port, output: () => output, stop };
}

/** A SIP message from sipp's message log. */
export interface SipMessage { direction: 'sent' | 'received'; firstLine: string; callId: string; text: string }

/** Parses sipp's -trace_msg log: blocks that start with a line of dashes and a timestamp. */
export function parseSippMessages(log: string): SipMessage[] {
  const out: SipMessage[] = [];
  for (const block of log.split(/^-{10,}.*$/m)) {
    const head = /^\s*(UDP|TCP) message (sent|received)[^\n]*\n+/.exec(block);
    if (!head) continue;
    const text = block.slice(head[0].length).replace(/^\s+/, '');
    const firstLine = text.split(/\r?\n/)[0].trim();
    const callId = /^(?:Call-ID|i)\s*:\s*(.+)$/im.exec(text)?.[1].trim() ?? '';
    out.push({ direction: head[2] as 'sent' | 'received', firstLine, callId, text });
  }
  return out;
}

export interface SippRun {
  code: number | null;
  messages: SipMessage[];
  output: string;
  /** Call-ID → the final response to its (last) INVITE, e.g. '200', '402'. */
  finalInviteStatus: Map<string, string>;
}

export interface UacOptions {
  binary: string;
  kamailioPort: number;
  scenario: 'uac.xml' | 'uac-until-bye.xml';
  login: string;
  destination: string;
  password?: string;
  /** Talk time before the caller hangs up (uac.xml). */
  talkMs?: number;
  calls?: number;
  /** Local address: 127.0.0.1 unless the caller plays an IP-auth peer. */
  localIp?: string;
  localPort?: number;
  timeoutS?: number;
}

/** Places `calls` calls (all at once) and waits for sipp to finish them. */
export async function runUac(o: UacOptions): Promise<SippRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-sipp-'));
  const messageFile = path.join(dir, 'messages.log');
  const calls = o.calls ?? 1;
  const args = [
    `127.0.0.1:${o.kamailioPort}`, '-sf', path.join(SIPP_DIR, o.scenario), '-nostdin',
    '-s', o.destination, '-key', 'login', o.login,
    '-m', String(calls), '-l', String(calls), '-r', String(Math.max(calls, 1)), '-rp', '1000',
    '-d', String(o.talkMs ?? 1000),
    '-i', o.localIp ?? '127.0.0.1', '-bind_local',
    '-p', String(o.localPort ?? await freePort()), '-mp', String(await freePort()),
    '-trace_msg', '-message_file', messageFile,
    '-timeout', `${o.timeoutS ?? 180}s`, '-timeout_error',
    ...(o.password !== undefined ? ['-au', o.login, '-ap', o.password] : []),
  ];
  const child = spawn(o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let output = '';
  child.stdout!.on('data', () => { /* the screen: not needed */ });
  child.stderr!.on('data', (d) => { output += d; });
  await onExit(child);
  const log = fs.existsSync(messageFile) ? fs.readFileSync(messageFile, 'utf8') : '';
  fs.rmSync(dir, { recursive: true, force: true });
  const messages = parseSippMessages(log);
  const finalInviteStatus = new Map<string, string>();
  for (const m of messages) {
    if (m.direction !== 'received') continue;
    const status = /^SIP\/2\.0 (\d{3})/.exec(m.firstLine)?.[1];
    if (status && Number(status) >= 200 && /^CSeq:\s*\d+ INVITE/im.test(m.text)) finalInviteStatus.set(m.callId, status);
  }
  return { code: child.exitCode, messages, output, finalInviteStatus };
}

export interface Uas { port: number; messages: () => SipMessage[]; stop: () => Promise<void> }

/** The carrier: sipp's UAS with test/switch/sipp/uas.xml on a free loopback port. */
export async function startUas(binary: string): Promise<Uas> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-sipp-uas-'));
  const messageFile = path.join(dir, 'messages.log');
  const port = await freePort();
  const child = spawn(binary, [
    '-sf', path.join(SIPP_DIR, 'uas.xml'), '-nostdin', '-i', '127.0.0.1', '-bind_local', '-p', String(port),
    '-mp', String(await freePort()), '-trace_msg', '-message_file', messageFile,
  ], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let output = '';
  child.stderr!.on('data', (d) => { output += d; });
  // Listening once it writes its message log or a moment has passed without it exiting.
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`sipp (uas) exited (${child.exitCode}): ${output}`);
  return {
    port,
    messages: () => parseSippMessages(fs.existsSync(messageFile) ? fs.readFileSync(messageFile, 'utf8') : ''),
    stop: async () => {
      await stopProcess(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
