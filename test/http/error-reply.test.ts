// How the pipeline's error reply reads an error: the mappings no API request reaches on purpose
// (a unique-constraint race, a media type every body is accepted under today) pinned directly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { refusalBody, toAppError } from '../../src/http/pipeline/error-reply.js';

const fastifyError = (statusCode: number, code: string, message = 'fastify said no') => Object.assign(new Error(message), { statusCode, code });
const pick = (err: AppError | null) => err && [err.status, err.code, err.field];

describe('http: error reply', () => {
  it('keeps an AppError as it is', () => {
    const err = new AppError(402, 'INSUFFICIENT_BALANCE', 'Insufficient balance');
    assert.equal(toAppError(err), err);
  });

  it('answers a unique-constraint race of either database 409 CONFLICT', () => {
    for (const code of ['23505', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']) {
      assert.deepEqual(pick(toAppError(Object.assign(new Error('duplicate'), { code }))), [409, 'CONFLICT', undefined]);
    }
  });

  it('maps Fastify\'s own 4xx to stable codes, a too large body before a parse error', () => {
    assert.deepEqual(pick(toAppError(fastifyError(413, 'FST_ERR_CTP_BODY_TOO_LARGE'))), [413, 'BODY_TOO_LARGE', 'body']);
    assert.deepEqual(pick(toAppError(fastifyError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'))), [400, 'UNSUPPORTED_MEDIA_TYPE', undefined]);
    assert.deepEqual(pick(toAppError(fastifyError(400, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH'))), [400, 'INVALID_JSON', 'body']);
    const other = toAppError(fastifyError(400, 'FST_ERR_SOMETHING', 'querystring: too long'));
    assert.deepEqual([other?.status, other?.code, other?.message], [400, 'BAD_REQUEST', 'querystring: too long']);
  });

  it('leaves anything else to the 500 answer', () => {
    assert.equal(toAppError(new Error('boom')), null);
    assert.equal(toAppError(fastifyError(503, 'FST_ERR_X')), null);
    assert.equal(toAppError('a string'), null);
  });

  it('renders the family\'s envelope, naming the field when there is one', () => {
    assert.deepEqual(refusalBody('ok', new AppError(400, 'VALIDATION_ERROR', 'login: is required', 'login')),
      { ok: false, error: 'login: is required', code: 'VALIDATION_ERROR', field: 'login' });
    assert.deepEqual(refusalBody('success', new AppError(401, 'UNAUTHORIZED', 'Unknown API key')),
      { success: false, error: 'Unknown API key', code: 'UNAUTHORIZED' });
  });
});
