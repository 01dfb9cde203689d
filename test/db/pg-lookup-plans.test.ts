// The two lookups every switch request makes on PostgreSQL, the API key (accounts/actor.ts) and
// the caller (calls/caller.ts), each coalesced per turn of the event loop into one statement.
// PostgreSQL plans a named statement a few times, then keeps a generic plan, one that knows
// nothing of the list it is given, or plans afresh on every run when the generic one looks
// dearer. Both ways went wrong: the caller's kept plan read every SIP account and every account
// and hashed them on each lookup (a cost that grows with the tables), and the key's statement
// was planned anew on every request, which cost more than running it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { actorByApiKey } from '../../src/accounts/actor.js';
import { findCaller } from '../../src/calls/caller.js';
import type { Ctx } from '../../src/context.js';
import { openDatabase, type DbHandle } from '../../src/db/connect.js';
import { createClient, createPlan, isPostgres, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe('PostgreSQL lookups of the switch path keep index plans', { skip: !isPostgres() && 'TEST_DATABASE_URL is not PostgreSQL' }, () => {
  let t: TestServer;
  let handle: DbHandle;
  let clients: TestClient[];
  before(async () => {
    t = await startTestServer();
    const plan = await createPlan(t);
    clients = [];
    for (let i = 0; i < 3; i++) clients.push(await createClient(t, plan.id));
    // One connection: the statements it prepared are the ones pg_prepared_statements shows.
    handle = openDatabase(t.databaseUrl, t.schema, { poolSize: 1 });
  });
  after(async () => {
    await handle?.close();
    await t?.close();
  });

  /** The named statement on the pool's connection whose text matches. */
  async function statement(pattern: RegExp): Promise<{ name: string; generic_plans: number; custom_plans: number }> {
    const { rows } = await sql<{ name: string; statement: string; generic_plans: string; custom_plans: string }>`select name, statement,
      generic_plans, custom_plans from pg_prepared_statements`.execute(handle.db);
    const found = rows.filter((r) => pattern.test(r.statement));
    assert.equal(found.length, 1, `one statement matching ${pattern}: ${JSON.stringify(rows.map((r) => r.statement))}`);
    return { name: found[0].name, generic_plans: Number(found[0].generic_plans), custom_plans: Number(found[0].custom_plans) };
  }

  /** The plan PostgreSQL keeps for the statement, whatever the list. */
  async function genericPlan(name: string, list: string[]): Promise<string> {
    await sql`set plan_cache_mode = force_generic_plan`.execute(handle.db);
    try {
      // EXPLAIN takes no bound parameters: the list goes in as a literal.
      const literal = `array[${list.map((s) => `'${s.replaceAll("'", "''")}'`).join(', ')}]::text[]`;
      const { rows } = await sql<{ 'QUERY PLAN': string }>`explain execute ${sql.raw(name)}(${sql.raw(literal)})`.execute(handle.db);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    } finally {
      await sql`reset plan_cache_mode`.execute(handle.db);
    }
  }

  it('looks the callers of one turn up by index, one probe per SIP login', async () => {
    const ctx = { db: handle.db } as Ctx;
    const names = clients.map((c) => c.sip.name as string);
    const found = await Promise.all(names.map((sip_login) => findCaller(ctx, { sip_login })));
    assert.deepEqual(found.map((c) => c?.sipLogin), names);
    assert.deepEqual(found.map((c) => c?.accountLogin), clients.map((c) => c.login));
    const { name } = await statement(/(?=[\s\S]*unnest)(?=[\s\S]*"sip_accounts")/);
    const plan = await genericPlan(name, names);
    assert.match(plan, /Index Scan using \S+ on sip_accounts/, plan);
    assert.doesNotMatch(plan, /Seq Scan on (sip_accounts|accounts)\b/, plan);
  });

  it('runs the API key lookup on its kept plan, and the lookup of several keys by index', async () => {
    // One key per turn, as a switch sends every call with its one key.
    for (let i = 0; i < 12; i++) {
      const actor = await actorByApiKey(handle.db, clients[0].key);
      assert.equal(actor?.login, clients[0].login);
    }
    const { rows } = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`select statement, generic_plans,
      custom_plans from pg_prepared_statements where statement like '%"api_keys"%'`.execute(handle.db);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.ok(Number(rows[0].generic_plans) > 0, `planned on every run: ${JSON.stringify(rows[0])}`);
    // Several keys in one turn: one statement for all of them.
    const actors = await Promise.all(clients.map((c) => actorByApiKey(handle.db, c.key)));
    assert.deepEqual(actors.map((a) => a?.login), clients.map((c) => c.login));
    const several = await statement(/(?=[\s\S]*unnest)(?=[\s\S]*"api_keys")/);
    const plan = await genericPlan(several.name, ['a', 'b']);
    assert.match(plan, /Index Scan using \S+ on api_keys/, plan);
    assert.doesNotMatch(plan, /Seq Scan on (api_keys|accounts)\b/, plan);
  });
});
