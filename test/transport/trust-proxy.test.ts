// TRUST_PROXY counts the reverse proxies in front: the client address is the X-Forwarded-For
// entry the nearest proxy appended, never one the client wrote itself. The address shows in the
// audit row of a write (and drives the per-address limits).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('TRUST_PROXY', () => {
  const servers: TestServer[] = [];
  after(async () => { for (const t of servers) await t.close(); });

  async function auditedAddress(env: Record<string, string>, forwardedFor?: string): Promise<string> {
    const t = await startTestServer(env);
    servers.push(t);
    const res = await t.call('admin', 'create-plan', {
      body: { name: `TP-${servers.length}` }, headers: forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {},
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const row = await t.server.ctx.db.selectFrom('audit_log').select('ip').where('endpoint', '=', 'create-plan')
      .orderBy('id', 'desc').executeTakeFirstOrThrow();
    return row.ip ?? '';
  }

  it('1 hop: the address the proxy appended, not the one the client sent before it', async () => {
    assert.equal(await auditedAddress({ TRUST_PROXY: '1' }, '6.6.6.6, 203.0.113.9'), '203.0.113.9');
  });

  it('2 hops: the entry two from the right', async () => {
    assert.equal(await auditedAddress({ TRUST_PROXY: '2' }, '6.6.6.6, 203.0.113.9, 198.51.100.7'), '203.0.113.9');
  });

  it('unset: the socket address, whatever the header says', async () => {
    assert.match(await auditedAddress({}, '6.6.6.6'), /^(::ffff:)?127\.0\.0\.1$/);
  });

  it('a value that is not a hop count refuses to start, naming the variable', async () => {
    await assert.rejects(startTestServer({ TRUST_PROXY: 'yes' }), /TRUST_PROXY must be a whole number/);
  });
});
