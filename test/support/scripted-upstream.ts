import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the upstream did with one request: bytes it managed to write, and whether the gateway hung up first. */
export interface Served {
  written: number;
  cut: boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, served: Served) => Promise<void>;

/** A loopback upstream whose answer each test scripts; it records how far each answer got. */
export class ScriptedUpstream {
  handler: Handler = async (_req, res) => void res.end('{}');
  readonly served: Served[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const served: Served = { written: 0, cut: false };
      this.served.push(served);
      res.on('close', () => {
        if (!res.writableFinished) served.cut = true;
      });
      req.resume();
      req.on('end', () => void this.handler(req, res, served).catch(() => undefined));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

/** Writes `total` bytes of `fill` in pieces, waiting for the socket to drain; stops when the gateway hangs up. */
export async function writeMany(res: ServerResponse, served: Served, total: number, piece: string): Promise<void> {
  while (served.written < total && !res.destroyed) {
    served.written += piece.length;
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
}

