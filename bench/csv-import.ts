// CSV rate import of 1,000,000 rows into a fresh SQLite database through the CLI, as an
// operator runs it (CONTRACT §6: <= 10 s).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { bootstrapAdmin } from '../src/accounts/provisioning.js';
import { loadConfig } from '../src/config.js';
import { createPlan } from '../src/plans/plans.js';
import { openContext } from '../src/server.js';
import { figure, pgExecute } from './util.js';

const ROWS = Number(process.env.BENCH_CSV_ROWS ?? 1_000_000);
const COUNTRIES = ['Germany', 'France', 'United Kingdom', 'Spain', 'Italy', 'Poland', 'Brazil', 'India', 'Nigeria', 'Indonesia'];
const KINDS = ['Fixed', 'Mobile', 'Mobile - Premium', 'Special Services, Shared Cost'];

/** xorshift32: fast, full period 2^32 - 1. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

/** Writes ROWS rows with distinct 9-digit prefixes in scrambled order (the worst case for the index). */
async function writeCsv(file: string): Promise<number> {
  const next = xorshift(0x9e3779b9);
  const out = fs.createWriteStream(file);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('prefix,destination,rate,connect_charge,initblock,billingblock,minimal_time\n');
  let buffer = '';
  for (let i = 0; i < ROWS; i++) {
    // i -> k is a bijection on [0, 10^8) (the multiplier is prime to 10), so prefixes are distinct.
    const k = (i * 7_654_321 + 12_345) % 100_000_000;
    const prefix = `${1 + (k % 9)}${String(k).padStart(8, '0')}`;
    const r = next();
    const destination = `${COUNTRIES[r % COUNTRIES.length]} ${KINDS[(r >>> 8) % KINDS.length]}`;
    const rate = `0.${String(r % 1_000_000).padStart(6, '0')}`;
    const quoted = destination.includes(',') ? `"${destination}"` : destination;
    buffer += (r & 1) === 0
      ? `${prefix},${quoted},${rate}\n`
      : `${prefix},${quoted},${rate},0.01,${(r >>> 4) % 2 === 0 ? 60 : 30},6,0\n`;
    if (buffer.length > 1 << 16) {
      await write(buffer);
      buffer = '';
    }
  }
  await write(buffer);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return fs.statSync(file).size;
}


export async function benchCsvImport(root: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-bench-csv-'));
  let dropSchema: (() => Promise<void>) | null = null;
  try {
    const csv = path.join(dir, 'rates.csv');
    const bytes = await writeCsv(csv);
    // BENCH_DATABASE_URL=postgres://… measures the PostgreSQL path, in a schema of its own.
    const pgUrl = process.env.BENCH_DATABASE_URL;
    const schema = pgUrl ? `bench_csv_${crypto.randomBytes(4).toString('hex')}` : '';
    if (pgUrl) await pgExecute(pgUrl, `create schema ${schema}`);
    dropSchema = pgUrl ? () => pgExecute(pgUrl, `drop schema ${schema} cascade`) : null;
    const env = {
      DATABASE_URL: pgUrl ?? `sqlite:${path.join(dir, 'bench.db')}`,
      DATABASE_SCHEMA: schema,
      LEDGERLINE_SECRET: 'bench-secret',
      LEDGERLINE_DATA_DIR: dir,
      ADMIN_API_KEY: `bench-admin-${crypto.randomBytes(16).toString('hex')}`,
      LOG_LEVEL: 'warn',
    };
    const { ctx, handle } = await openContext(loadConfig(env), pino({ level: 'warn' }));
    let planId: number;
    try {
      await bootstrapAdmin(ctx, env.ADMIN_API_KEY);
      planId = Number((await createPlan(ctx, { name: 'BENCH-CSV' })).id);
    } finally {
      await handle.close();
    }

    const startedAt = performance.now();
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'import-rates', String(planId), csv], {
        env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const wallSeconds = (performance.now() - startedAt) / 1000;
    if (result.code !== 0) throw new Error(`import-rates exited with ${result.code}:\n${result.stderr}${result.stdout}`);
    const summary = JSON.parse(result.stdout) as { rows_imported: number; seconds: number; seconds_yielded: number; rows_per_second: number };
    if (summary.rows_imported !== ROWS) throw new Error(`imported ${summary.rows_imported} rows, expected ${ROWS}`);

    figure(`csv import rows (${(bytes / 1e6).toFixed(1)} MB file)`, summary.rows_imported.toLocaleString('en-US'), 'rows');
    if (pgUrl) process.stdout.write('(PostgreSQL)\n');
    figure('csv import time (import itself)', summary.seconds.toFixed(2), 's', `${summary.rows_per_second.toLocaleString('en-US')} rows/s; ${summary.seconds_yielded} s left to other writers`);
    figure('csv import time (whole CLI process)', wallSeconds.toFixed(2), 's',
      `target <= 10 s; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  } finally {
    await dropSchema?.();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
