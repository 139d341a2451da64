import { once } from 'node:events';
import { createServer } from 'node:net';

/** A loopback port nothing listens on (bound, then closed): a destination that refuses connections. */
export async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
