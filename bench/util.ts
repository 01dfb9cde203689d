// Shared benchmark plumbing: child servers, autocannon runs, one printed line per figure.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

/** One autocannon run in a fresh process, so the load generator's own state never carries over. */
export async function load(url: string, opts: { connections: number; durationSeconds: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const bin = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));
  const args = [bin, '--json', '-c', String(opts.connections), '-d', String(opts.durationSeconds), '-p', '1'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const result = JSON.parse(out);
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
