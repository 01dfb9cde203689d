// docs/architecture.md stays true: its dependency picture is the one scripts/architecture-graph.mjs
// reads from the code today, every folder of src/ is placed in its layout, and the script
// itself reads the import forms the code uses (checked on a small source tree of its own).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const script = path.join(root, 'scripts', 'architecture-graph.mjs');
const docPath = path.join(root, 'docs', 'architecture.md');
const BEGIN = '<!-- architecture-graph:begin';
const END = '<!-- architecture-graph:end -->';

function graphOf(srcDir?: string): string {
  const run = spawnSync(process.execPath, [script, ...(srcDir ? ['--src', srcDir] : [])], { encoding: 'utf8' });
  assert.equal(run.status, 0, `architecture-graph.mjs failed: ${run.stderr}`);
  return run.stdout.trim();
}

function embedded(doc: string): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  assert.ok(begin >= 0 && end > begin, 'docs/architecture.md must hold the generated picture between its markers');
  return doc.slice(doc.indexOf('-->', begin) + 3, end).trim();
}

describe('docs/architecture.md', () => {
  it('embeds the dependency picture of the code as it is', () => {
    assert.equal(embedded(fs.readFileSync(docPath, 'utf8')), graphOf(),
      'the dependency picture in docs/architecture.md is out of date: run `node scripts/architecture-graph.mjs --write` and commit the result');
  });

  it('places every folder of src/ in its layout', () => {
    const doc = fs.readFileSync(docPath, 'utf8');
    const folders = fs.readdirSync(path.join(root, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    assert.ok(folders.length > 5);
    const missing = folders.filter((name) => !doc.includes(`\`${name}/\``));
    assert.deepEqual(missing, [], `docs/architecture.md's layout does not say what lives in: ${missing.join(', ')}`);
  });
});

describe('scripts/architecture-graph.mjs', () => {
  const files: Record<string, string> = {
    // A long import list over several lines, and a comment that only quotes an import.
    'a/one.ts': "import {\n  x,\n  y,\n} from '../b/two.js';\n// later: import('../e/five.js')\n/*\nimport { r } from '../e/five.js';\n*/\nexport const one = x + y;\n",
    'a/types.ts': "import { helper } from '../util/helpers.js';\nimport type { Three } from '../c/three.js';\nimport { type Four } from '../d/four.js';\nexport type Both = Three | Four;\nexport const h = helper;\n",
    // b and a import each other: a folder cycle.
    'b/two.ts': "import { one } from '../a/one.js';\nexport const x = 1;\nexport const y = one;\n",
    'c/three.ts': "export { top } from '../top.js';\nexport type Three = string;\nexport const from = 'x';\n",
    'd/four.ts': "import fs from 'node:fs';\nimport { Kysely } from 'kysely';\nimport { near } from './near.js';\nexport type Four = number;\nexport const used = [fs, Kysely, near];\n",
    'd/near.ts': 'export const near = 1;\n',
    // Everything uses util/: arrows into it are left out, arrows out of it are drawn.
    'util/helpers.ts': "import { top } from '../c/three.js';\nexport const helper = top;\n",
    'top.ts': "export const top = 1;\nexport async function later() { return import('./d/near.js'); }\nexport type Db = import('./c/three.js').Three;\n",
  };

  it('draws one arrow per folder pair, dotted for type-only imports, red on a cycle, none into the shared ground', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'll-graph-'));
    try {
      for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
      const arrows = graphOf(dir).split('\n').filter((l) => /-->|-\.->/.test(l) && !l.includes('linkStyle')).map((l) => l.trim());
      assert.deepEqual(arrows, [
        'a --> b',
        'a -.-> c',
        'a -.-> d',
        'b --> a',
        'c --> top_ts',
        'top_ts -.-> c',
        'top_ts --> d',
        'util --> c',
      ]);
      // Arrows 0 and 3 (a --> b, b --> a) close a cycle; top.ts <-> c does too, but through a type only.
      assert.match(graphOf(dir), /\n {2}linkStyle 0,3 stroke:#d32f2f/);
      assert.match(graphOf(dir), /top_ts\["top.ts"\]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
