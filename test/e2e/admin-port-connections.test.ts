import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// The admin port (console, /debug/route, /metrics, snapshot pushes) closes connections that send no
// request: before, one that sent nothing or part of its first request's headers stayed open for ever.

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({}, { admin: true, headersTimeoutMs: 300 });
});

afterAll(async () => {
  await gateway.close();
});

async function openAdmin(): Promise<Socket> {
  const url = new URL(gateway.adminUrl ?? '');
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  // Flowing: a paused socket may never notice the server's FIN.
  socket.resume();
  return socket;
}

const closedWithin = (socket: Socket, ms: number): Promise<'closed' | 'open'> =>
  Promise.race([once(socket, 'close').then(() => 'closed' as const), new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]);

describe("tollgate dev's admin port", () => {
  it('closes a connection that sends nothing, or part of its first request headers, once the headers timeout passes', async () => {
    const silent = await openAdmin();
    const partial = await openAdmin();
    partial.write('GET /console/ HTTP/1.1\r\nhost: x\r\n');
    const closed = await Promise.all([closedWithin(silent, 3_000), closedWithin(partial, 3_000)]);
    silent.destroy();
    partial.destroy();
    expect(closed).toEqual(['closed', 'closed']);
  });

  it('still answers a client that sends its request', async () => {
    const res = await fetch(`${gateway.adminUrl ?? ''}/console/`);
    expect(res.status).toBe(200);
    await res.text();
  });
});
