// A pino logger whose lines a test can read.
import { Writable } from 'node:stream';
import pino from 'pino';

export function capturedLog(level: pino.Level = 'warn') {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}
