// PostgreSQL connections of the main pool (src/db/connect.ts): a query's protocol messages go
// to the socket in one write (corked until the end of the tick), and the hot path's queries
// (preparedQuery) are named statements, planned once per connection. Both reach into node-pg:
// this fails if an upgrade changes what they rely on.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';
import { preparedQuery } from '../../src/db/prepared.js';
import { isPostgres, startTestServer, type TestServer } from '../helpers/server.js';

const accountLogin = preparedQuery<{ id: number }>()((db, p) => db.selectFrom('accounts').select('login').where('id', '=', p.id));

describe('PostgreSQL main pool: coalesced writes, named statements', { skip: !isPostgres() && 'TEST_DATABASE_URL is not PostgreSQL' }, () => {
  let t: TestServer;
  let handle: DbHandle;
  before(async () => {
    t = await startTestServer();
    handle = openDatabase(t.databaseUrl, t.schema, { poolSize: 1 });
    await sql`select 1`.execute(handle.db); // the connection and its start-up exchange
  });
  after(async () => {
    await handle?.close();
    await t?.close();
  });

  it('writes each query in one corked burst and names the prepared ones', async () => {
    const port = Number(new URL(t.databaseUrl).port || 5432);
    const corkedAtWrite: number[] = [];
    const write = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
      if (this.remotePort === port) corkedAtWrite.push(this.writableCorked);
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    let rows: Array<{ login: string }>;
    try {
      rows = await accountLogin(handle.db, { id: 1 });
      await accountLogin(handle.db, { id: 1 });
      await sql`select ${2} as two`.execute(handle.db);
    } finally {
      net.Socket.prototype.write = write;
    }
    assert.equal(rows.length, 1, 'the admin account reads back');
    // Parse, Bind, Describe, Execute and Sync at least, every one into a corked socket.
    assert.ok(corkedAtWrite.length >= 5, `${corkedAtWrite.length} writes`);
    assert.deepEqual(corkedAtWrite.filter((n) => n === 0), [], 'a message written to an uncorked socket');
    const named = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(handle.db);
    const ours = named.rows.filter((r) => r.name.startsWith('ll_'));
    assert.equal(ours.length, 1, JSON.stringify(named.rows));
    assert.match(ours[0].statement, /from "accounts"/);
  });
});
