import { once } from 'node:events';
import { connect } from 'node:net';

/**
 * Sends `head` (a request line and headers, without the blank line) announcing a body far larger than
 * what follows, then 64 KiB of it: the answer's status line, and whether the server closed the
 * connection within `waitMs` rather than read the rest.
 */
export async function announceHugeBody(port: number, head: string, waitMs = 1_000): Promise<{ status: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  const closed = once(socket, 'close').then(() => true);
  socket.write(`${head}\r\nhost: x\r\ncontent-length: 1000000000\r\n\r\n`);
  socket.write('x'.repeat(64 * 1024));
  const result = await Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), waitMs))]);
  socket.destroy();
  return { status: answer.split('\r\n')[0] ?? '', closed: result };
}
