// Longest-prefix rating against a 1,000,000-prefix plan (CONTRACT §6: >= 1,000,000 lookups/s on
// one core, <= 300 MB resident with the plan loaded). Runs in a child process with --expose-gc,
// so the resident memory is that of the plan, not of this runner.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { figure } from './util.js';

interface ChildResult {
  prefixes: number; buildSeconds: number; rssBytes: number; heapUsedBytes: number; arrayBuffersBytes: number;
  lookups: number; seconds: number; cpuSeconds: number; matched: number;
}

export async function benchRating(root: string): Promise<void> {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(root, 'bench/rating-child.mjs')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
  const perSecond = Math.round(r.lookups / r.seconds);
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  figure('rating: prefixes in plan', r.prefixes.toLocaleString('en-US'), 'prefixes', `built in ${r.buildSeconds.toFixed(2)} s`);
  figure('rating: longest-prefix lookups/s (one core)', perSecond.toLocaleString('en-US'), 'lookups/s',
    `target >= 1,000,000; ${Math.round(r.lookups / r.cpuSeconds).toLocaleString('en-US')} per CPU-second; ${(100 * r.matched / r.lookups).toFixed(1)}% matched`);
  figure('rating: resident memory with plan loaded', mb(r.rssBytes), 'MB',
    `target <= 300 MB; heap ${mb(r.heapUsedBytes)} MB, typed arrays ${mb(r.arrayBuffersBytes)} MB`);
}
