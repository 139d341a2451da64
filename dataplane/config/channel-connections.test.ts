import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa } from '../../operator/tls/certificates.js';
import { createChannelServer } from './channel-connections.js';

const TIMEOUT_MS = 300;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** Resolves with how long the socket stayed open, or 'open' if it still is after `waitMs`. */
function closedWithin(socket: Socket, waitMs: number): Promise<number | 'open'> {
  const start = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), waitMs);
    socket.on('error', () => undefined);
    // Flowing: a paused socket may never notice the server's FIN.
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

async function listen(tls: boolean, handlerDelayMs = 0): Promise<number> {
  const s = createChannelServer((_req, res) => setTimeout(() => res.end('ok'), handlerDelayMs), { ...(tls ? { tls: createCa('channel-test', 1) } : {}), headersTimeoutMs: TIMEOUT_MS });
  server = s;
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as AddressInfo).port;
}

/** A connection on which HTTP can be written: TCP, or TLS once its handshake is done. */
async function open(tls: boolean, port: number): Promise<Socket> {
  if (!tls) {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  }
  const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  return socket;
}

describe.each([{ tls: false }, { tls: true }])('a channel server (TLS: $tls)', ({ tls }) => {
  it('closes a connection that sends nothing, or part of its first request headers, in time', async () => {
    const port = await listen(tls);
    const silent = await open(tls, port);
    const partial = await open(tls, port);
    partial.write('GET /v1/snapshot/status HTTP/1.1\r\nhost: x\r\n');
    // Without the bound node kept both open for ever (checked for 100 s with its defaults).
    const [a, b] = await Promise.all([closedWithin(silent, 3_000), closedWithin(partial, 3_000)]);
    expect(a).not.toBe('open');
    expect(b).not.toBe('open');
  });

  it('answers a request that takes longer than the headers timeout, and keeps the connection for the next', async () => {
    const port = await listen(tls, TIMEOUT_MS * 2);
    const socket = await open(tls, port);
    let answers = '';
    socket.on('data', (d: Buffer) => (answers += d.toString()));
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
    expect(answers.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    socket.destroy();
  });
});

it('closes a TCP connection to a TLS channel server that never starts its handshake', async () => {
  const port = await listen(true);
  const raw = connect(port, '127.0.0.1');
  await once(raw, 'connect');
  expect(await closedWithin(raw, 3_000)).not.toBe('open');
});
