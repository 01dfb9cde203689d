// Raw TCP helpers for the transport tests: connect from a chosen loopback address (the whole
// 127.0.0.0/8 is local, so 127.0.0.2 and 127.0.0.3 stand for two different callers), and see
// when, and whether, the server closes a connection.
import http from 'node:http';
import net from 'node:net';

export { freePort } from '../helpers/net.js';

export interface Held {
  socket: net.Socket;
  /** Everything the server sent on this connection. */
  received(): string;
  /** Resolves with the milliseconds from `since` until the server closed it, or null after `timeoutMs`. */
  closedWithin(timeoutMs: number, since?: number): Promise<number | null>;
}

/** Opens a TCP connection from `localAddress` and waits until it is established. */
export async function connectFrom(localAddress: string, port: number, host = '127.0.0.1'): Promise<Held> {
  const socket = net.connect({ port, host, localAddress });
  let text = '';
  let closedAt: number | null = null;
  const closed = new Promise<void>((resolve) => socket.once('close', () => { closedAt = Date.now(); resolve(); }));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => { text += chunk; });
  socket.on('error', () => { /* a reset is one way the server refuses */ });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error(`connection from ${localAddress} to ${host}:${port} failed`)));
  });
  return {
    socket,
    received: () => text,
    async closedWithin(timeoutMs, since = Date.now()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
      const outcome = await Promise.race([closed.then(() => 'closed' as const), timedOut]);
      clearTimeout(timer);
      return outcome === 'closed' && closedAt !== null ? closedAt - since : null;
    },
  };
}

/** Whether a TCP connection to host:port can be opened at all (false on ECONNREFUSED). */
export function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** GET `path` over a fresh connection from `localAddress`; rejects when the server drops it. */
export function getFrom(localAddress: string, url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Holds `count` connections from `localAddress`, each waiting in the middle of its request headers. */
export async function holdConnections(count: number, localAddress: string, port: number, host = '127.0.0.1'): Promise<Held[]> {
  const held: Held[] = [];
  for (let i = 0; i < count; i++) {
    const h = await connectFrom(localAddress, port, host);
    h.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    held.push(h);
  }
  return held;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
