// Imports point one way: edge -> services -> storage -> support -> core, with no cycle between
// files or folders (.dependency-cruiser.cjs, docs/dependency-rules.md). The rules are run on
// src/ as it is, and on a small tree that breaks each of them, so a rule that stopped matching
// (a renamed folder, a changed pattern) fails here too instead of passing in silence.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const config = path.join(root, '.dependency-cruiser.cjs');
const depcruise = path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CRUISE_TIMEOUT_MS = 60_000;

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: Array<{ name: string }>;
}

/** Runs dependency-cruiser with the project's rules on `cwd`/src; returns what it found. */
function cruise(cwd: string): Violation[] {
  const run = spawnSync(process.execPath, [depcruise, 'src', '--config', config, '--output-type', 'json'], {
    cwd, encoding: 'utf8', timeout: CRUISE_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(run.error, undefined, `dependency-cruiser did not run: ${run.error}`);
  let result: { summary: { violations: Violation[]; totalCruised: number } };
  try {
    result = JSON.parse(run.stdout);
  } catch {
    assert.fail(`dependency-cruiser printed no report (exit ${run.status}):\n${run.stderr}`);
  }
  assert.ok(result.summary.totalCruised > 0, 'dependency-cruiser found no module to check');
  return result.summary.violations;
}

/** One line a reader can act on: the rule and the import (or the whole cycle). */
const describeViolation = (v: Violation) =>
  `${v.rule.name}: ${v.from} -> ${v.cycle ? v.cycle.map((step) => step.name).join(' -> ') : v.to}`;

describe('dependency direction', () => {
  test('src/ has no cycle between files or folders and no import that points up the layers', () => {
    const violations = cruise(root);
    assert.deepEqual(violations.map(describeViolation), [],
      'Move the shared piece down a layer, or pass it in from the caller (docs/dependency-rules.md).');
  });

  describe('the rules catch what they are for', () => {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'll-deps-'));
    after(() => fs.rmSync(tree, { recursive: true, force: true }));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
      fs.writeFileSync(path.join(tree, file), text);
    };
    fs.copyFileSync(path.join(root, 'tsconfig.json'), path.join(tree, 'tsconfig.json'));
    // One breach of each rule; everything else in this tree is allowed.
    write('src/money.ts', "import { post } from './ledger/ledger.js';\nexport const m = post;\n");
    write('src/ledger/ledger.ts', 'export const post = 1;\n');
    write('src/db/tx.ts', "import { post } from '../ledger/ledger.js';\nexport const t = post;\n");
    write('src/accounts/provisioning.ts', "import { plan } from '../plans/plans.js';\nexport const p = plan;\n");
    write('src/accounts/tenancy.ts', 'export const guard = 1;\n');
    write('src/plans/plans.ts', "import { guard } from '../accounts/tenancy.js';\nexport const plan = guard;\n");
    write('src/http/reseller-api.ts', "export const names = async () => (await import('./reseller/portal.js')).portal;\n");
    write('src/http/reseller/portal.ts', "import { names } from '../reseller-api.js';\nexport const portal = names;\n");
    write('src/cli/main.ts', "import { names } from '../http/reseller-api.js';\nexport const c = names;\n");
    write('src/webphone/janus-token.ts', "import type { Server } from '../server.js';\nexport type W = Server;\n");
    write('src/server.ts', 'export type Server = number;\n');
    write('src/agi/scripts.ts', "import { c } from '../cli/main.js';\nimport { u } from '../unplaced/thing.js';\nexport const a = [c, u];\n");
    write('src/workers/expiry.ts', "import type { Server } from '../server.js';\nexport type X = Server;\n");
    write('src/unplaced/thing.ts', "import { m } from '../money.js';\nexport const u = m;\n");
    const found = cruise(tree).map(describeViolation);
    const expect = (line: string) => assert.ok(found.includes(line), `expected "${line}" among:\n${found.join('\n')}`);

    test('an import from a lower layer up to a higher one', () => {
      expect('not-up-to-storage: src/money.ts -> src/ledger/ledger.ts');
      // A type-only import counts, and webphone/ (the renamed portal/) is a service folder.
      expect('not-up-to-edge: src/webphone/janus-token.ts -> src/server.ts');
      expect('ledger-over-db: src/db/tx.ts -> src/ledger/ledger.ts');
    });

    test('a cycle between files, also through a dynamic import()', () => {
      assert.ok(found.some((line) => line.startsWith('no-circular: src/http/reseller') && line.includes('src/http/reseller/portal.ts')),
        `expected the reseller-api <-> reseller/portal cycle among:\n${found.join('\n')}`);
    });

    test('a cycle between folders whose files do not form one', () => {
      assert.ok(found.some((line) => line.startsWith('no-circular-folders: src/accounts') || line.startsWith('no-circular-folders: src/plans')),
        `expected the accounts <-> plans folder cycle among:\n${found.join('\n')}`);
      assert.ok(!found.some((line) => line.startsWith('no-circular: src/accounts')), 'the files alone form no cycle');
    });

    test('one protocol folder importing another, and the composition root imported from below the CLI', () => {
      expect('edge-peers-cli: src/cli/main.ts -> src/http/reseller-api.ts');
      expect('edge-peers-agi: src/agi/scripts.ts -> src/cli/main.ts');
      expect('composition-root-from-entry-only: src/workers/expiry.ts -> src/server.ts');
    });

    test('a file in no layer, and an import of it', () => {
      expect('in-a-layer: src/unplaced/thing.ts -> src/money.ts');
      expect('into-a-layer: src/agi/scripts.ts -> src/unplaced/thing.ts');
    });
  });
});
