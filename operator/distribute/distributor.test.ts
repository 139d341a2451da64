import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../tls/certificates.js';
import { Distributor } from './distributor.js';

const logger = pino({ level: 'silent' });
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function listen(server: Server | HttpsServer): Promise<string> {
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
  /**
   * Pods that accept pushes and never answer them (their node is lost), as one group. A push they
   * hold ends only when the test says so (`fail`: its connection is cut, as a push timeout ends it):
   * the order of events is then the test's, not the clock's. With a real timeout of 0.5 s this test
   * measured windows of 300 ms to 1 s, and failed whenever a loaded machine stalled for that long.
   */
  async function stuckPods(n: number): Promise<{ addresses: string[]; requests: () => number; failedPods: () => number; held: () => number; fail: () => number }> {
    // The pushes held, by pod: those whose connection is still open.
    const held = new Map<IncomingMessage, number>();
    const failed = new Set<number>();
    let requests = 0;
    const addresses = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        listen(
          createServer((req) => {
            requests++;
            held.set(req, i);
            req.socket.once('close', () => held.delete(req));
          }),
        ),
      ),
    );
    return {
      addresses,
      requests: () => requests,
      /** Pods whose push has been failed at least once. */
      failedPods: () => failed.size,
      held: () => held.size,
      /** Ends every push held now without an answer; how many. */
      fail: () => {
        const now = [...held];
        held.clear();
        for (const [req, pod] of now) {
          failed.add(pod);
          req.socket.destroy();
        }
        return now.length;
      },
    };
  }

  /** Waits (by polling, with no deadline of its own: the test's timeout bounds it) until `cond` holds. */
  async function until(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  }

  it.each([
    // Unready pods never heard from hold at most a quarter of the slots: the healthy pod has one at once.
    { ready: false, failedBeforeAck: 0 },
    // Still ready (the node's loss not noticed yet): tried first, filling every slot, until they have
    // failed once; then the healthy pod is pushed to, before any of them fails a second time.
    { ready: true, failedBeforeAck: 16 },
  ])('pushes to healthy pods at once while pods that never answer (ready: $ready) back off, across publishes', async ({ ready, failedBeforeAck }) => {
    const stuck = await stuckPods(20);
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
    // No push or connection times out by the clock here: the stuck pods' pushes end when the test fails them.
    const distributor = new Distributor({ token: 't', logger, verifyIntervalMs: 0, pushTimeoutMs: 60_000, connectTimeoutMs: 60_000, concurrency: 16 });
    // Acknowledged as the distributor sees it (the pod's answer read), not as the pod sent it.
    const ackedBy = (generation: number): boolean => distributor.progress(generation).acked > 0;
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.publish(envelope(1));
    // The lost node's pods are listed first; the healthy pod last.
    distributor.setEndpoints([...stuck.addresses.map((address) => ({ address, ready })), { address: healthy, ready: true }]);

    let failed = 0;
    if (ready) {
      // Every slot is taken by a stuck pod, and the healthy one waits for a slot.
      await until(() => stuck.held() === 16);
      expect(acked).toEqual([]);
      failed += stuck.fail();
    }
    await until(() => ackedBy(1));
    // Pushed while the stuck pods still held their pushes: none (unready), or only the first wave (ready), had ended.
    expect(failed).toBe(failedBeforeAck);
    // And the unready stuck pods only ever held their quarter of the slots.
    expect(stuck.held()).toBeLessThanOrEqual(ready ? 16 : 4);
    // Statuses wait for the ready pods only: unready ones that never answer do not hold them back.
    if (!ready) expect(distributor.settled()).toBe(true);

    // Every stuck pod is tried, and fails, once.
    while (stuck.failedPods() < 20) {
      await until(() => stuck.held() > 0);
      stuck.fail();
    }
    const tried = stuck.requests();
    expect(tried).toBeGreaterThanOrEqual(20);

    // Nothing held fails from here: a healthy pod that had to wait for a slot would never be pushed to.
    distributor.publish(envelope(2));
    await until(() => ackedBy(2));
    // Their backoff stands: not all pushed to at once again; at most the quarter of the slots they may hold.
    expect(stuck.requests()).toBeLessThanOrEqual(tried + 4);
    expect(stuck.held()).toBeLessThanOrEqual(4);
  }, 20_000);
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

describe('Distributor reading a pod\'s answer', () => {
  // A push or status answer is a few hundred bytes; a pod that answered megabytes held them in the
  // operator's memory (and its log) for every push: now more than 64 KiB is not read.
  it('takes an answer larger than 64 KiB as no answer (bad_answer), without reading it all', async () => {
    let sent = 0;
    const huge = listen(
      createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"accepted":true,"generation":1,"term":0,"version":"v1","error":"');
        const chunk = 'x'.repeat(64 * 1024);
        const more = (): void => {
          while (sent < 8 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end('"}');
        };
        more();
      }),
    );
    const address = await huge;
    const failed: string[] = [];
    let acked = 0;
    const distributor = new Distributor({ token: 't', logger, verifyIntervalMs: 0, pushTimeoutMs: 5_000, onFailed: (reason) => failed.push(reason), onPushed: () => acked++ });
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.publish(envelope(1));
    distributor.setEndpoints([{ address, ready: true }]);
    await expect.poll(() => failed.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(failed[0]).toBe('bad_answer');
    expect(acked).toBe(0);
    expect(sent).toBeLessThan(8 * 1024 * 1024);
  }, 10_000);
});

describe('Distributor over TLS', () => {
  // --dataplane-ca (cert-manager's ca.crt) is read again every minute; the pods' certificates,
  // re-issued from a rotated CA, were refused until the operator restarted.
  it('verifies the pods against a CA given after start (trustCa) from the next connection on', async () => {
    const [ca1, ca2] = [createCa('dist-ca-1', 30), createCa('dist-ca-2', 30)];
    const name = 'tollgate-dataplane.ns.svc';
    const pod = createHttpsServer(issueCertificate(ca2, name, [name], 10), (_req, res) => res.writeHead(200).end('{}'));
    const address = await listen(pod);
    const failed: string[] = [];
    const distributor = new Distributor({ token: 't', logger, verifyIntervalMs: 0, pushTimeoutMs: 2_000, tls: { ca: ca1.cert, serverName: name }, onFailed: (reason) => failed.push(reason) });
    cleanup.push(() => distributor.stop());
    distributor.setEnabled(true);
    distributor.setEndpoints([{ address, ready: true }]);
    distributor.publish(envelope(1));
    await expect.poll(() => failed.length, { timeout: 5_000 }).toBeGreaterThan(0);
    expect(failed).not.toContain('bad_answer');
    distributor.trustCa(`${ca2.cert}${ca1.cert}`);
    distributor.publish(envelope(2));
    // Through TLS: the fake pod's answer is not a push result.
    await expect.poll(() => failed, { timeout: 5_000 }).toContain('bad_answer');
  }, 15_000);
});
