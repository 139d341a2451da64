import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Runs a test service as a process: answers each request with `handle` (the body read whole),
 * listens on 127.0.0.1 (PORT, default a free port), prints `listening <url>` once ready, and stops
 * on SIGTERM/SIGINT (`onStop` first, e.g. to drop held connections).
 */
export function serve(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void, onStop: () => void = () => undefined): void {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(parts).toString('utf8')));
  });
  const stop = (): void => {
    onStop();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
}

export function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}
