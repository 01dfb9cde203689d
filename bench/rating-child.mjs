// Child of bench/rating.ts (run with --expose-gc, so its resident memory is the plan's alone):
// a 1,000,000-prefix RateTable, its resident memory, and longest-prefix lookups/s on one core.
import { RateTable } from '../dist/src/rating/rate-table.js';

const PREFIXES = Number(process.env.BENCH_PREFIXES ?? 1_000_000);
const LOOKUP_SECONDS = Number(process.env.BENCH_LOOKUP_SECONDS ?? 2.5);
const DESTINATIONS = Array.from({ length: 250 }, (_, i) => `Destination ${i} ${i % 2 ? 'Mobile' : 'Fixed'}`);

/** xorshift128: fast, period 2^128 - 1, no floating point. */
function xorshift128(seed) {
  let x = seed >>> 0 || 1, y = 362436069, z = 521288629, w = 88675123;
  return () => {
    const t = x ^ (x << 11);
    x = y; y = z; z = w;
    w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return w;
  };
}
const next = xorshift128(20261127);

function digits(n) {
  let s = String(1 + (next() % 9));
  for (let i = 1; i < n; i++) s += String(next() % 10);
  return s;
}

// The generator's rows, as a loader would hand them over; dropped once the table is built.
let rows = [];
const seen = new Set();
while (seen.size < PREFIXES) {
  const prefix = digits(3 + (next() % 8));
  if (seen.has(prefix)) continue;
  seen.add(prefix);
  const r = next();
  rows.push({
    prefix, destination: DESTINATIONS[r % DESTINATIONS.length], rateMicros: r % 2_000_000, connectChargeMicros: (r >>> 8) % 3 === 0 ? 10_000 : 0,
    initblock: (r >>> 4) % 2 ? 60 : 1, billingblock: (r >>> 5) % 2 ? 6 : 1, minimalTime: 0,
  });
}
seen.clear();
const buildStarted = performance.now();
const table = new RateTable(rows.length);
for (const row of rows) table.set(row);
const buildSeconds = (performance.now() - buildStarted) / 1000;
rows = null;
for (let i = 0; i < 3; i++) globalThis.gc();
const memory = process.memoryUsage();

// Dialled numbers: 11-12 digits, drawn up front so the timed loop only looks up.
const POOL = 1 << 20;
const numbers = new Array(POOL);
for (let i = 0; i < POOL; i++) numbers[i] = digits(11 + (next() & 1));

let lookups = 0;
let matched = 0;
let checksum = 0;
for (let i = 0; i < 200_000; i++) checksum += table.lookup(numbers[i & (POOL - 1)]); // warm-up
const started = performance.now();
const cpuStarted = process.cpuUsage();
let elapsed = 0;
for (;;) {
  for (let i = 0; i < 65_536; i++) {
    const row = table.lookup(numbers[(lookups + i) & (POOL - 1)]);
    if (row !== -1) { matched++; checksum += row; }
  }
  lookups += 65_536;
  elapsed = (performance.now() - started) / 1000;
  if (elapsed >= LOOKUP_SECONDS) break;
}
const cpu = process.cpuUsage(cpuStarted);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// A sample of full matches (prefix, destination, tariff), as the authorize path uses them.
const sample = table.match(numbers[0]);

process.stdout.write(JSON.stringify({
  prefixes: table.size, buildSeconds, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, arrayBuffersBytes: memory.arrayBuffers,
  lookups, seconds: elapsed, cpuSeconds, matched, checksum, sample: sample && sample.prefix,
}) + '\n');
