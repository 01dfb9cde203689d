// The README's examples run: a `DEMO=1` server is started the way the README says (the real
// entry point, src/main.ts), the shell assignments it prints are taken as a user would paste
// them, and every curl line of the README's ```sh blocks is run in order against it (host and
// port substituted), each of which must answer success. A README line that names a login, plan
// or key the demo does not seed fails here.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isPostgres, testDatabaseUrl } from '../helpers/server.js';
import { serverArgs } from '../helpers/child-server.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

interface Curl { line: number; source: string; method: string; headers: Record<string, string>; body?: string; url: string }

/** Shell words of one command: '…' literal, "…" and bare words with $VAR expanded. */
function shellWords(command: string, vars: Record<string, string>, line: number): string[] {
  const words: string[] = [];
  let i = 0;
  const expand = (text: string) => text.replace(/\$([A-Z_][A-Z0-9_]*)|\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, a, b) => {
    const name = a ?? b;
    assert.ok(name in vars, `README line ${line}: $${name} is not one of the demo's assignments (${Object.keys(vars).join(', ')})`);
    return vars[name];
  });
  while (i < command.length) {
    while (i < command.length && /\s/.test(command[i])) i++;
    if (i >= command.length) break;
    let word = '';
    while (i < command.length && !/\s/.test(command[i])) {
      const c = command[i];
      if (c === '\'') {
        const end = command.indexOf('\'', i + 1);
        word += command.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        const end = command.indexOf('"', i + 1);
        word += expand(command.slice(i + 1, end));
        i = end + 1;
      } else {
        let end = i;
        while (end < command.length && !/[\s'"]/.test(command[end])) end++;
        word += expand(command.slice(i, end));
        i = end;
      }
    }
    words.push(word);
  }
  return words;
}

/** Every curl command of the README's sh blocks, continuation lines joined. */
function readmeCurls(vars: Record<string, string>, baseUrl: string): Curl[] {
  const lines = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const curls: Curl[] = [];
  let inSh = false;
  for (let n = 0; n < lines.length; n++) {
    if (/^```/.test(lines[n])) { inSh = !inSh && /^```(sh|bash)\s*$/.test(lines[n]); continue; }
    if (!inSh || !/^curl\s/.test(lines[n])) continue;
    const start = n;
    let source = lines[n];
    while (source.endsWith('\\')) source = `${source.slice(0, -1)} ${lines[++n]}`;
    const words = shellWords(source, vars, start + 1);
    const curl: Curl = { line: start + 1, source, method: 'GET', headers: {}, url: '' };
    for (let w = 1; w < words.length; w++) {
      const word = words[w];
      if (word === '-X') curl.method = words[++w];
      else if (word === '-H') {
        const [name, ...value] = words[++w].split(':');
        curl.headers[name.trim()] = value.join(':').trim();
      } else if (word === '-d' || word === '--data') {
        curl.body = words[++w];
        if (curl.method === 'GET') curl.method = 'POST';
      } else if (/^https?:\/\//.test(word)) curl.url = word.replace('http://127.0.0.1:8080', baseUrl);
      else assert.match(word, /^-[sS]+$/, `README line ${start + 1}: curl option ${word} is not understood by this test`);
    }
    assert.ok(curl.url, `README line ${start + 1}: no URL`);
    curls.push(curl);
  }
  return curls;
}

describe('README examples against a DEMO=1 server', () => {
  let child: ChildProcess;
  let dir: string;
  let dropSchema: (() => Promise<void>) | null = null;
  let output = '';
  let baseUrl = '';
  const adminKey = `readme-admin-${crypto.randomBytes(12).toString('hex')}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-readme-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env, PORT: '0', HOST: '127.0.0.1', DEMO: '1', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'info', AGI_PORT: '0',
      LEDGERLINE_DATA_DIR: dir, JANUS_URL: 'wss://janus.example.com/janus', JANUS_TOKEN_SECRET: crypto.randomBytes(16).toString('hex'),
      DATABASE_URL: `sqlite:${path.join(dir, 'ledgerline.db')}`,
    };
    if (isPostgres()) {
      const schema = `readme_${crypto.randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: testDatabaseUrl() });
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      env.DATABASE_URL = testDatabaseUrl();
      env.DATABASE_SCHEMA = schema;
      dropSchema = async () => {
        const c = new pg.Client({ connectionString: testDatabaseUrl() });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      };
    }
    child = spawn(process.execPath, serverArgs(), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (chunk) => { output += chunk; });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo server did not start:\n${output}`)), 60_000);
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        const listening = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"Ledgerline listening"/.exec(output);
        if (listening) { baseUrl = listening[1]; clearTimeout(timer); resolve(); }
      });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the demo server exited (${code}):\n${output}`)); });
    });
  });

  after(async () => {
    child?.removeAllListeners('exit');
    child?.kill('SIGTERM');
    await new Promise((resolve) => (child?.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    await dropSchema?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints shell assignments for every key the README uses, and every curl line of the README answers success', { timeout: 120_000 }, async () => {
    const vars: Record<string, string> = {};
    for (const m of output.matchAll(/^([A-Z_]+)=(\S+)/gm)) vars[m[1]] = m[2];
    if (vars.RESELLER_KEY === '$R') vars.RESELLER_KEY = vars.R;
    for (const name of ['KEY', 'R', 'SW']) assert.match(vars[name] ?? '', /^ll_/, `the demo prints ${name}=…\n${output}`);
    // The admin key was the operator's own (ADMIN_API_KEY), so the demo cannot print it.
    assert.equal(vars.ADMIN, '...');
    vars.ADMIN = adminKey;

    const curls = readmeCurls(vars, baseUrl);
    assert.ok(curls.length >= 10, `found only ${curls.length} curl lines in the README`);
    for (const c of curls) {
      const res = await fetch(c.url, { method: c.method, headers: c.headers, body: c.body });
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(text); } catch { /* reported below */ }
      assert.equal(res.status, 200, `README line ${c.line}: ${c.source}\n→ ${res.status} ${text}`);
      assert.ok(body.success === true || body.ok === true, `README line ${c.line}: ${c.source}\n→ ${text}`);
    }
  });
});
