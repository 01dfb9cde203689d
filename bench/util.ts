// Shared benchmark plumbing: child servers, autocannon runs, one printed line per figure.
import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';

export function figure(name: string, value: string | number, unit: string, note = ''): void {
  process.stdout.write(`${name.padEnd(44)} ${String(value).padStart(12)} ${unit}${note ? `   ${note}` : ''}\n`);
}

/** Starts a server process and resolves once it prints `ready` (or the given marker) on stdout. */
export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, marker: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} did not start in ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (marker.test(out)) { clearTimeout(timer); resolve({ child, output: () => out }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited with ${code}:\n${out}`)); });
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

export interface LoadResult { requestsPerSecond: number; p99Ms: number; p50Ms: number; errors: number; non2xx: number }

export async function load(url: string, opts: { connections: number; durationSeconds: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const result = await autocannon({
    url, connections: opts.connections, duration: opts.durationSeconds, headers: opts.headers, pipelining: 1,
  });
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
