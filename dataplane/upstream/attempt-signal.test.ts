import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AttemptSignal, asAbortSignal } from './attempt-signal.js';
import { HttpTransport } from './http-transport.js';

describe('AttemptSignal', () => {
  let server: Server | undefined;
  const transport = new HttpTransport();
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await transport.close();
  });

  it('stops an undici request in flight with the reason it was given', async () => {
    server = createServer(() => undefined); // never answers
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server?.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const signal = new AttemptSignal();
    const reason = new Error('attempt timed out');
    const sent = transport.send({ url: `http://127.0.0.1:${port}/`, method: 'POST', headers: {}, body: '{}' }, { signal, connectTimeoutMs: 5_000 });
    setImmediate(() => signal.abort(reason));
    await expect(sent).rejects.toBe(reason);
  });

  it('keeps the first reason, and an AbortSignal made from it follows it', () => {
    const signal = new AttemptSignal();
    const follower = asAbortSignal(signal);
    const first = new Error('first');
    signal.abort(first);
    signal.abort(new Error('second'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(first);
    expect(follower.aborted).toBe(true);
    expect(follower.reason).toBe(first);
    expect(asAbortSignal(signal).reason).toBe(first);
  });
});
