// The SQLite database holds SIP digests (`ha1`) and hashed keys: its files are the operator's
// alone, like secret.key. Runs on SQLite files whatever TEST_DATABASE_URL says.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startTestServer } from '../helpers/server.js';

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
const octal = (mode: number) => `0${mode.toString(8)}`;

describe('database file modes', () => {
  it('creates the data directory 0700 and the database, -wal and -shm files 0600', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-modes-'));
    const dir = path.join(root, 'var', 'data');
    const file = path.join(dir, 'ledgerline.db');
    // The usual umask: without explicit modes the files would come out 0644 and 0755.
    const previousUmask = process.umask(0o022);
    try {
      const t = await startTestServer({ DATABASE_URL: `sqlite:${file}`, LEDGERLINE_DATA_DIR: dir, LEDGERLINE_SECRET: '' });
      try {
        await t.admin('create-plan', { name: 'Written' });
        assert.equal(octal(modeOf(dir)), '0700', 'data directory');
        assert.equal(octal(modeOf(path.join(root, 'var'))), '0700', 'directories created on the way');
        assert.equal(octal(modeOf(file)), '0600', 'database file');
        assert.equal(octal(modeOf(`${file}-wal`)), '0600', 'WAL file');
        assert.equal(octal(modeOf(`${file}-shm`)), '0600', 'shared-memory file');
        assert.equal(octal(modeOf(path.join(dir, 'secret.key'))), '0600', 'secret.key');
      } finally {
        await t.close();
      }
    } finally {
      process.umask(previousUmask);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes other users\' access away from an existing database, keeping its group\'s', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-modes-'));
    const file = path.join(dir, 'ledgerline.db');
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o644);
    fs.chmodSync(dir, 0o755);
    try {
      const t = await startTestServer({ DATABASE_URL: `sqlite:${file}` });
      try {
        assert.equal(octal(modeOf(file)), '0640', 'world-readable bits removed, group kept (an Asterisk on this host may read it)');
        assert.equal(octal(modeOf(`${file}-wal`)) , '0640', 'WAL follows the database file');
        assert.equal(octal(modeOf(dir)), '0755', 'an existing directory is the operator\'s to set');
      } finally {
        await t.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
