/**
 * A loopback HTTP server in a child process that takes every request and answers 200 with no body:
 * a destination for benches that count only the client's CPU (the child's is not counted).
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';

export async function startHttpSink(): Promise<{ port: number; stop(): void }> {
  const child = fork(new URL(import.meta.url).pathname, ['serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
  return { port, stop: () => child.kill() };
}

if (process.argv[2] === 'serve' && process.send !== undefined) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
}
