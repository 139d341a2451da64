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

const answer = (generation: number) => JSON.stringify({ accepted: true, generation, term: 0, version: 'v' });
const envelope = (generation: number) => ({ generation, term: 0, snapshot: { version: `v${generation}` } }) as unknown as Parameters<Distributor['publish']>[0];

describe('Distributor with pods that never answer', () => {
  /** A pod that accepts connections and never answers (its node is lost); counts the pushes it is sent. */
  async function stuckPod(): Promise<{ address: string; connections: () => number }> {
    let connections = 0;
    const server = createServer(() => undefined);
    server.on('connection', () => void connections++);
    return { address: await listen(server), connections: () => connections };
  }

  it.each([
    { ready: false, first: 300 },
    // Still ready (the node's loss not noticed yet): tried first until they have failed once.
    { ready: true, first: 1_000 },
  ])('pushes to healthy pods at once while pods that never answer (ready: $ready) back off, across publishes', async ({ ready, first }) => {
    const stuck = await Promise.all(Array.from({ length: 20 }, () => stuckPod()));
    const acked: number[] = [];
    const healthy = await listen(
      createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const generation = (JSON.parse(body) as { generation: number }).generation;
          acked.push(generation);
          res.setHeader('content-type', 'application/json');
          res.end(answer(generation));
        });
      }),
    );
    const distributor = new Distributor({ token: 't', logger, verifyIntervalMs: 0, pushTimeoutMs: 500 });
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.publish(envelope(1));
    // The lost node's pods are listed first; the healthy pod last.
    distributor.setEndpoints([...stuck.map((p) => ({ address: p.address, ready })), { address: healthy, ready: true }]);
    const ackedWithin = async (generation: number, ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (!acked.includes(generation) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return acked.includes(generation);
    };
    expect(await ackedWithin(1, first)).toBe(true);
    // Statuses wait for the ready pods only: unready ones that never answer do not hold them back.
    if (!ready) expect(distributor.settled()).toBe(true);
    // Every stuck pod has been tried (and timed out) once: 4 at a time, 0.5 s each.
    await new Promise((r) => setTimeout(r, 2_800));
    const tried = stuck.reduce((n, p) => n + p.connections(), 0);
    expect(tried).toBeGreaterThanOrEqual(20);
    distributor.publish(envelope(2));
    expect(await ackedWithin(2, 300)).toBe(true);
    // Their backoff stands: not all pushed to at once again; at most the quarter of the slots they may hold.
    expect(stuck.reduce((n, p) => n + p.connections(), 0)).toBeLessThanOrEqual(tried + 4);
  }, 10_000);
});

describe('Distributor pushes that get no usable answer', () => {
  it('says why for each pod (before, only successes and 409/400 refusals were counted: a one-sided token rotation was a log line)', async () => {
    const status = (code: number) => listen(createServer((_req, res) => res.writeHead(code).end('{}')));
    const unauthorized = await status(401);
    const unavailable = await status(503);
    const garbled = await status(200);
    const stuck = await listen(createServer(() => undefined));
    // A port nothing listens on: a server bound and closed again.
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedAddress = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const failed = new Map<string, number>();
    const distributor = new Distributor({
      token: 't',
      logger,
      verifyIntervalMs: 0,
      pushTimeoutMs: 300,
      onFailed: (reason) => failed.set(reason, (failed.get(reason) ?? 0) + 1),
    });
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.publish(envelope(1));
    distributor.setEndpoints([unauthorized, unavailable, garbled, stuck, closedAddress].map((address) => ({ address, ready: true })));
    const reasons = ['unauthorized', 'server_error', 'bad_answer', 'timeout', 'unreachable'];
    const end = Date.now() + 5_000;
    while (reasons.some((r) => !failed.has(r)) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect([...failed.keys()].sort()).toEqual([...reasons].sort());
  }, 10_000);
});
