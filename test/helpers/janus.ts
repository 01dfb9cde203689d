// Debian's `janus` gateway on loopback, configured for a test: token_auth with the shared
// secret, the SIP plugin and the HTTP transport only. Used by the web phone tests.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';

/** The plugin, transport, event and logger folders of the installed Janus. */
function janusFolders(emptyDir: string): Record<'plugins' | 'transports' | 'events' | 'loggers', string> {
  const found: Partial<Record<'plugins' | 'transports' | 'events' | 'loggers', string>> = {};
  for (const cfg of ['/etc/janus/janus.jcfg', '/usr/local/etc/janus/janus.jcfg', '/opt/janus/etc/janus/janus.jcfg']) {
    if (!fs.existsSync(cfg)) continue;
    const text = fs.readFileSync(cfg, 'utf8');
    for (const kind of ['plugins', 'transports', 'events', 'loggers'] as const) {
      const m = new RegExp(`^\\s*${kind}_folder\\s*=\\s*"([^"]+)"`, 'm').exec(text);
      if (m && !found[kind] && fs.existsSync(m[1])) found[kind] = m[1];
    }
  }
  const roots = ['/usr/lib', '/usr/local/lib', '/opt/janus/lib'];
  for (const root of roots) {
    if (!fs.existsSync(root)) continue;
    const candidates = [path.join(root, 'janus'), ...fs.readdirSync(root).map((d) => path.join(root, d, 'janus'))];
    for (const base of candidates) {
      for (const kind of ['plugins', 'transports', 'events', 'loggers'] as const) {
        const dir = path.join(base, kind);
        if (!found[kind] && fs.existsSync(dir)) found[kind] = dir;
      }
    }
  }
  if (!found.plugins || !found.transports) {
    throw new Error('janus is installed but its plugins/transports folders were not found (looked in /etc/janus/janus.jcfg and /usr/lib/*/janus)');
  }
  return { plugins: found.plugins, transports: found.transports, events: found.events ?? emptyDir, loggers: found.loggers ?? emptyDir };
}

/** The shared objects in a folder other than `keep`: what janus.jcfg's `disable` lists. */
function othersThan(dir: string, keep: string): string {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.so') && f !== keep).join(',');
}


export interface RunningJanus { url: string; proc: ChildProcess; dir: string; log(): string; stop(): Promise<void> }

export async function startJanus(binary: string, tokenSecret: string): Promise<RunningJanus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-janus-'));
  fs.mkdirSync(path.join(dir, 'none'));
  const folders = janusFolders(path.join(dir, 'none'));
  const port = await freePort();
  const rtpBase = 40000 + crypto.randomInt(20000);
  fs.writeFileSync(path.join(dir, 'janus.jcfg'), `general: {
	configs_folder = "${dir}"
	plugins_folder = "${folders.plugins}"
	transports_folder = "${folders.transports}"
	events_folder = "${folders.events}"
	loggers_folder = "${folders.loggers}"
	debug_level = 4
	token_auth = true
	token_auth_secret = "${tokenSecret}"
	session_timeout = 60
	server_name = "LedgerlineTest"
}
media: {
	rtp_port_range = "${rtpBase}-${rtpBase + 99}"
}
nat: {
	ice_enforce_list = "lo"
}
plugins: {
	disable = "${othersThan(folders.plugins, 'libjanus_sip.so')}"
}
transports: {
	disable = "${othersThan(folders.transports, 'libjanus_http.so')}"
}
loggers: {
	disable = "${othersThan(folders.loggers, '')}"
}
events: {
	broadcast = false
}
`);
  fs.writeFileSync(path.join(dir, 'janus.transport.http.jcfg'), `general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = ${port}
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
`);
  fs.writeFileSync(path.join(dir, 'janus.plugin.sip.jcfg'), `general: {
	local_ip = "127.0.0.1"
	keepalive_interval = 120
	behind_nat = false
	register_ttl = 3600
	rtp_port_range = "${rtpBase + 100}-${rtpBase + 199}"
}
`);

  let output = '';
  const proc = spawn(binary, ['-F', dir, '-C', path.join(dir, 'janus.jcfg'), '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (chunk) => { output += String(chunk); });
  proc.stderr!.on('data', (chunk) => { output += String(chunk); });
  let exited: number | string | null = null;
  // Never leave the gateway behind, even if this test process dies early.
  const reap = () => { if (exited === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  const exitPromise = new Promise<void>((resolve) => proc.once('exit', (code, signal) => {
    exited = code ?? signal ?? 'exit';
    process.removeListener('exit', reap);
    resolve();
  }));

  const running: RunningJanus = {
    url: `http://127.0.0.1:${port}/janus`,
    proc,
    dir,
    log: () => output,
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => { if (exited === null) proc.kill('SIGKILL'); }, 5000);
        await exitPromise;
        clearTimeout(killer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) {
      await running.stop();
      throw new Error(`janus exited (${exited}) before serving HTTP:\n${output.slice(-4000)}`);
    }
    type JanusInfo = { janus?: string; auth_token?: boolean; plugins?: Record<string, unknown> };
    let info: JanusInfo | null = null;
    try {
      const res = await fetch(`${running.url}/info`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) info = await res.json() as JanusInfo;
    } catch { /* not up yet */ }
    if (info?.janus === 'server_info') {
      if (info.auth_token !== true || !info.plugins || !('janus.plugin.sip' in info.plugins)) {
        await running.stop();
        throw new Error(`janus must run with token_auth and the SIP plugin: ${JSON.stringify(info)}\n${output.slice(-4000)}`);
      }
      return running;
    }
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`janus did not answer on ${running.url} within 30 s:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
