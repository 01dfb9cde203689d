#!/usr/bin/env node
// Runs the CLI from the build in dist/ when it is newer than every source (`npm start` makes
// it), otherwise from the TypeScript sources through tsx, so `npx ledgerline` works in a checkout
// without a build. The build starts in half the time: no TypeScript loader. `portal` always runs
// from the sources: its templates and browser files sit beside them, not in dist/.
import { buildIsFresh } from '../scripts/build-freshness.mjs';

if (process.argv[2] !== 'portal' && buildIsFresh()) {
  await import('../dist/src/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
