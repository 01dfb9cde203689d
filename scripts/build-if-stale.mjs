// `npm start` runs this first (`npm run build` with --force): compile only when a source is newer than the last build, so a
// restart with nothing changed starts in about a second instead of running a full `tsc`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildIsFresh, root, stampPath as stamp } from './build-freshness.mjs';

const force = process.argv.includes('--force');
if (!force && buildIsFresh()) process.exit(0);

process.stdout.write(force ? 'Compiling Ledgerline…\n' : 'Compiling Ledgerline (sources changed since the last build)…\n');
const started = Date.now();
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  process.stderr.write('The build failed: fix the type errors above, then run npm start again.\n');
  process.exit(tsc.status ?? 1);
}
// Stamped with the time the compile began: a source saved while it ran is newer than the stamp.
fs.writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
fs.utimesSync(stamp, new Date(started), new Date(started));
process.stdout.write(`Compiled in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
