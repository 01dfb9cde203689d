// Whether dist/ (what `npm start` runs) was built after every change to its sources. The CLI and
// the tests' server processes run the build when it is, and the TypeScript sources through tsx
// when it is not: a process started from the build needs no TypeScript loader and starts in half
// the time.
import fs from 'node:fs';
import path from 'node:path';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const stampPath = path.join(root, 'dist', '.build-stamp');
/** What a build compiles: src/ and what it imports (the agent portal), and what shapes the output. */
const SOURCE_DIRS = ['src', 'agent-portal'];
const INPUT_FILES = ['tsconfig.json', 'package-lock.json'];

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

/** The newest modification time among the build's inputs, in ms. */
function sourcesMtimeMs() {
  return Math.max(
    ...SOURCE_DIRS.filter((d) => fs.existsSync(path.join(root, d))).map((d) => newestMtimeMs(path.join(root, d))),
    ...INPUT_FILES.map((f) => fs.statSync(path.join(root, f)).mtimeMs),
  );
}

/** True when dist/ holds a build made after the last change to any of its inputs. */
export function buildIsFresh() {
  if (!fs.existsSync(stampPath) || !fs.existsSync(path.join(root, 'dist', 'src', 'main.js'))) return false;
  return fs.statSync(stampPath).mtimeMs >= sourcesMtimeMs();
}
