// `npm test`: the whole suite on SQLite, then again on PostgreSQL when DATABASE_URL names one.
// Prints one closing line `tests: N passed, N failed` over all passes.
import { spawn } from 'node:child_process';
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
/**
 * Files that mostly wait on the clock (a real SIP call talks 90 s): run beside the rest, in a
 * process of their own, instead of holding one of the two test slots while idle. Their report
 * is printed after the others'.
 */
const WAITING_FILES = new Set(['test/switch/kamailio-sip.test.ts']);

/**
 * Test files run at once: one per core and one more, since a file spends part of its time
 * waiting on sockets, timers and the processes it starts. LEDGERLINE_TEST_CONCURRENCY overrides.
 */
const concurrency = Number(process.env.LEDGERLINE_TEST_CONCURRENCY) || os.availableParallelism() + 1;

/** `node --test` on `list`; resolves with its exit status and its TAP report. */
function runNodeTest(list, env, output) {
  const tap = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'll-tap-')), 'report.tap');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
      '--test-reporter=spec', `--test-reporter-destination=${output ?? 'stdout'}`,
      '--test-reporter=tap', `--test-reporter-destination=${tap}`,
      ...list,
    ], { cwd: root, stdio: output ? ['ignore', 'ignore', 'inherit'] : 'inherit', env });
    child.on('exit', (code) => resolve({ status: code ?? 1, report: fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '' }));
  });
}

for (const pass of passes) {
  process.stdout.write(`\n=== test pass: ${pass.name} (${files.length} files) ===\n`);
  const env = { ...process.env, TEST_DATABASE_URL: pass.url };
  const waiting = files.filter((f) => WAITING_FILES.has(f.replaceAll(path.sep, '/')));
  const rest = files.filter((f) => !waiting.includes(f));
  const waitingOutput = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'll-spec-')), 'spec.txt');
  const runs = await Promise.all([
    rest.length > 0 ? runNodeTest(rest, env) : null,
    waiting.length > 0 ? runNodeTest(waiting, env, waitingOutput) : null,
  ]);
  if (waiting.length > 0) {
    process.stdout.write(`\n--- ${waiting.join(', ')} (run beside the others) ---\n`);
    process.stdout.write(fs.existsSync(waitingOutput) ? fs.readFileSync(waitingOutput, 'utf8') : '');
  }
  for (const result of runs) {
    if (!result) continue;
    const count = (label) => Number((new RegExp(`^# ${label} (\\d+)$`, 'm').exec(result.report) ?? [])[1] ?? 0);
    passed += count('pass');
    failed += count('fail');
    skipped += count('skipped');
    // `ok 3 - name # SKIP reason`: say which tests did not run, and why, where nobody can miss it.
    for (const m of result.report.matchAll(/^\s*ok \d+ - (.*?) # SKIP ?(.*)$/gm)) skipNotices.push(`[${pass.name}] ${m[1]}: ${m[2] || 'skipped'}`);
    if (result.status !== 0) exitCode = result.status;
  }
}
if (skipNotices.length > 0) {
  process.stdout.write(`\nSkipped (where an outside program is missing, LEDGERLINE_REQUIRE_PEERS=1 turns the skip into a failure):\n`);
  for (const notice of skipNotices) process.stdout.write(`  - ${notice}\n`);
}
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
if (passed === 0) exitCode = exitCode || 1;
process.exit(exitCode);
