// The idempotency request hash: unchanged for every input it could hash before (stored keys stay
// valid across an upgrade), and safe for input nested deeper than the call stack.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashRequest } from '../../src/idempotency/idempotency.js';

/** The recursive canonical form hashRequest used to build: the reference for ordinary input. */
function recursiveCanonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(recursiveCanonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, recursiveCanonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}
const referenceHash = (body: unknown) =>
  crypto.createHash('sha256').update(JSON.stringify(recursiveCanonical(body ?? {}))).digest('hex');

describe('idempotency request hash', () => {
  it('hashes every JSON body as before, whatever its key order', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '1', '10', '2', '-1', '01', '__proto__', 'constructor', '4294967295', '4294967294'));
    const body = fc.dictionary(key, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });
    fc.assert(fc.property(body, (b) => {
      assert.equal(hashRequest(b), referenceHash(b));
      const shuffled = Object.fromEntries(Object.entries(b).reverse());
      assert.equal(hashRequest(shuffled), hashRequest(b));
    }), { numRuns: 2000, seed: 8 });
  });

  it('hashes what JSON cannot hold as JSON.stringify writes it', () => {
    for (const b of [{ a: undefined, b: [undefined, NaN, Infinity, -0], c: null }, { x: { y: undefined } }, {}]) {
      assert.equal(hashRequest(b), referenceHash(b));
    }
  });

  it('hashes a body nested 200,000 deep without exhausting the stack', () => {
    const deep = JSON.parse('{"a":'.repeat(1000) + '1' + '}'.repeat(1000));
    let value: unknown = 1;
    for (let i = 0; i < 200_000; i++) value = i % 2 ? [value] : { k: value };
    assert.match(hashRequest({ external_id: value }), /^[0-9a-f]{64}$/);
    assert.notEqual(hashRequest({ external_id: value }), hashRequest({ external_id: deep }));
  });
});
