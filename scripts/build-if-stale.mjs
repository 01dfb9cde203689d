// `npm start` runs this first (`npm run build` with --force): compile only when a source is newer than the last build, so a
// restart with nothing changed starts in about a second instead of running a full `tsc`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const inputs = ['tsconfig.json', 'package-lock.json'];

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

const sourcesMs = Math.max(newestMtimeMs(path.join(root, 'src')), ...inputs.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
const builtMs = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
const force = process.argv.includes('--force');
if (!force && builtMs >= sourcesMs && fs.existsSync(path.join(root, 'dist', 'src', 'main.js'))) process.exit(0);

process.stdout.write(force ? 'Compiling Ledgerline…\n' : 'Compiling Ledgerline (sources changed since the last build)…\n');
const started = Date.now();
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  process.stderr.write('The build failed: fix the type errors above, then run npm start again.\n');
  process.exit(tsc.status ?? 1);
}
fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
process.stdout.write(`Compiled in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
