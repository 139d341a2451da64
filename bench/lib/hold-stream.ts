import { connect, type Socket } from 'node:net';
import { HOLD_MODEL } from './scenarios.js';

/** Opens one streaming chat completion on a raw socket and resolves once its first SSE bytes arrive; the caller holds or destroys it. */
export function holdStream(url: URL, headers: string[]): Promise<Socket> {
  return new Promise((ok, fail) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    const body = JSON.stringify({ model: HOLD_MODEL, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32, stream: true });
    socket.once('error', fail);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      if (text.length < 4096) text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n') && text.includes('data:')) ok(socket);
    });
    socket.write(
      [`POST ${url.pathname} HTTP/1.1`, `host: ${url.host}`, 'content-type: application/json', 'authorization: Bearer sk-bench-not-a-real-key', ...headers, `content-length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'),
    );
  });
}

/** Holds `n` streams, opened 50 at a time. */
export async function holdStreams(url: URL, headers: string[], n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i += 50) sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => holdStream(url, headers)))));
  return sockets;
}
