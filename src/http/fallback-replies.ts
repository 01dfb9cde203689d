// Answers for requests no API route handled: an unknown path or method under an API's path, or a
// body refused before any route ran. They come in the envelope of the API family the path names
// (CONTRACT §2), so a client of one family never has to parse another's errors.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import { refusalBody, toAppError } from './pipeline/error-reply.js';
import type { ApiDefinition } from './endpoint.js';

export function registerFallbackReplies(app: FastifyInstance, apis: ApiDefinition[]): void {
  const familyOf = (url: string) =>
    apis.find((a) => url === a.basePath || url.startsWith(`${a.basePath}/`) || url.startsWith(`${a.basePath}?`));
  // A family not served by this server (the SMS and eSIM APIs today) still answers in its
  // documented envelope: `success`, like every family but the Reseller API's `ok`.
  const flagOf = (url: string) => {
    const api = familyOf(url);
    if (api) return api.flag;
    const family = /^\/([a-z]+)-api(?:[/?]|$)/.exec(url)?.[1];
    return family === undefined || family === 'reseller' ? 'ok' : 'success';
  };
  const refusal = (url: string, err: AppError) => refusalBody(flagOf(url), err);
  app.setNotFoundHandler((req, reply) => {
    const api = familyOf(req.url);
    const message = api ? `Not found; call ${api.basePath}/index.php?endpoint=NAME with GET or POST` : 'Not found';
    return reply.code(404).send(refusal(req.url, new AppError(404, 'NOT_FOUND', message)));
  });
  app.setErrorHandler((err, req, reply) => {
    let appErr = toAppError(err);
    if (!appErr) {
      req.log.error({ err, url: req.url }, 'request failed');
      appErr = new AppError(500, 'INTERNAL_ERROR', 'Internal error; the request was not applied');
    }
    return reply.code(appErr.status).send(refusal(req.url, appErr));
  });
}
