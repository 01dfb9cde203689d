// `npm test`: the whole suite on SQLite, then again on PostgreSQL when DATABASE_URL names one.
// Prints one closing line `tests: N passed, N failed` over all passes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);
const files = only.length > 0
  ? only
  : fs.readdirSync(path.join(root, 'test'), { recursive: true })
    .map(String).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', f));

const passes = [{ name: 'sqlite', url: 'sqlite:' }];
const databaseUrl = process.env.DATABASE_URL ?? '';
if (/^postgres(ql)?:\/\//.test(databaseUrl)) passes.push({ name: 'postgres', url: databaseUrl });

let passed = 0;
let failed = 0;
let skipped = 0;
const skipNotices = [];
let exitCode = 0;
for (const pass of passes) {
  process.stdout.write(`\n=== test pass: ${pass.name} (${files.length} files) ===\n`);
  const tap = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'll-tap-')), 'report.tap');
  const result = spawnSync(process.execPath, [
    '--import', 'tsx', '--test', '--test-concurrency=2',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files,
  ], { cwd: root, stdio: 'inherit', env: { ...process.env, TEST_DATABASE_URL: pass.url } });
  const report = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  const count = (label) => Number((new RegExp(`^# ${label} (\\d+)$`, 'm').exec(report) ?? [])[1] ?? 0);
  passed += count('pass');
  failed += count('fail');
  skipped += count('skipped');
  // `ok 3 - name # SKIP reason`: say which tests did not run, and why, where nobody can miss it.
  for (const m of report.matchAll(/^\s*ok \d+ - (.*?) # SKIP ?(.*)$/gm)) skipNotices.push(`[${pass.name}] ${m[1]}: ${m[2] || 'skipped'}`);
  if (result.status !== 0) exitCode = result.status ?? 1;
}
if (skipNotices.length > 0) {
  process.stdout.write(`\nSkipped (where an outside program is missing, LEDGERLINE_REQUIRE_PEERS=1 turns the skip into a failure):\n`);
  for (const notice of skipNotices) process.stdout.write(`  - ${notice}\n`);
}
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
if (passed === 0) exitCode = exitCode || 1;
process.exit(exitCode);
