// `npm run bench`: every benchmark, one printed line per figure.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { benchCsvImport } from './csv-import.js';
import { benchMe } from './http-me.js';
import { benchLists } from './lists.js';
import { benchPlanLoads } from './plan-loads.js';
import { benchRating } from './rating.js';
import { benchResellers } from './resellers.js';
import { benchSms } from './sms.js';
import { benchSwitchPath } from './switch-path.js';
import { benchSwitchReaders } from './switch-readers.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv[2];

process.stdout.write('building dist/ ...\n');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });

const benches: Record<string, () => Promise<void>> = {
  me: () => benchMe(root),
  rating: () => benchRating(root),
  csv: () => benchCsvImport(root),
  switch: () => benchSwitchPath(root),
  resellers: () => benchResellers(root),
  readers: () => benchSwitchReaders(root),
  plans: () => benchPlanLoads(root),
  lists: () => benchLists(root),
  sms: () => benchSms(root),
};
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  process.stdout.write(`\n# ${name}\n`);
  await run();
}
