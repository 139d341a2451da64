import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Distributor } from './distributor.js';

const logger = pino({ level: 'silent' });
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('Distributor.settled', () => {
  it('is settled while nothing is published (a first snapshot too large), so statuses say why', async () => {
    const address = await listen(createServer((_req, res) => res.end('{}')));
    const distributor = new Distributor({ token: 't', logger, verifyIntervalMs: 0 });
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.setEndpoints([{ address, ready: true }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(distributor.settled()).toBe(true);
  });
});
