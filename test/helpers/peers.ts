// Outside programs some tests need (Janus now; Kamailio, sipp, Chromium later). On a machine
// without one, `npm test` still passes: the test skips with a visible notice that names the
// program and how to install it. CI installs them and sets LEDGERLINE_REQUIRE_PEERS=1, under
// which a missing program fails the test instead, so CI can never go green by skipping.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';

export const peersRequired = () => process.env.LEDGERLINE_REQUIRE_PEERS === '1';

/** The executable's path on PATH (or a usual install folder), or null. */
export function findExecutable(name: string, extraDirs: string[] = []): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin', ...extraDirs])) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * The path of `program`, or null after skipping the test with a notice (failing it instead
 * under LEDGERLINE_REQUIRE_PEERS=1). `install` says how to get it, e.g. `apt-get install -y janus`.
 */
export function requirePeer(t: TestContext, program: string, install: string, extraDirs: string[] = []): string | null {
  const found = findExecutable(program, extraDirs);
  if (found) return found;
  const reason = `${program} is not installed (${install}; .ci/run installs it)`;
  assert.ok(!peersRequired(), `LEDGERLINE_REQUIRE_PEERS=1 and ${reason}`);
  process.stderr.write(`\nNOTICE: skipping "${t.name}": ${reason}\n`);
  t.skip(reason);
  return null;
}
