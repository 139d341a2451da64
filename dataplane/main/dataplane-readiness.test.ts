import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectedVersion } from '../config/content-hash.js';
import { type Snapshot, SNAPSHOT_SCHEMA_VERSION } from '../config/snapshot.js';
import { testBudget } from '../governance/budget/test-support.js';
import { AWAITING_USAGE_ANSWER, Dataplane } from './dataplane.js';

// A new pod under Budgets is ready only once the operator answered a usage report: before, it
// knows none of the persisted spend and would refuse budgeted requests (503 budget_unavailable),
// so the Service should send it nothing yet.

function snapshot(budgets: Snapshot['budgets']): Record<string, unknown> {
  const content = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, providers: [], routes: [], apiKeys: [], budgets, namespaces: {} };
  return { ...content, version: expectedVersion(content) };
}

describe('data-plane readiness and the first usage answer', () => {
  let operator: Server;
  let answering = false;
  let dp: Dataplane;

  beforeAll(async () => {
    // The operator: no snapshot to pull (the test applies them), usage answered only once allowed.
    operator = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url !== '/v1/usage' || !answering) {
          res.writeHead(503).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ackedThrough: 0, replicas: 1, budgets: {} }));
      });
    });
    operator.listen(0, '127.0.0.1');
    await once(operator, 'listening');
    const { port } = operator.address() as AddressInfo;
    dp = new Dataplane({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), operatorUrl: `http://127.0.0.1:${port}`, admin: { host: '127.0.0.1', port: 0, token: 't'.repeat(32) } });
    await dp.start();
  });

  afterAll(async () => {
    answering = true;
    await dp?.shutdown();
    operator?.close();
  });

  const readyz = async (): Promise<{ status: number; body: { ready: boolean; reason?: string } }> => {
    const res = await fetch(`http://127.0.0.1:${dp.adminAddress?.port ?? 0}/readyz`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; reason?: string } };
  };

  it('is ready without Budgets; with one, waits for the operator to answer a usage report', async () => {
    expect(dp.store.applyGeneration(1, snapshot([]))).toMatchObject({ ok: true });
    expect((await readyz()).status).toBe(200);
    expect(dp.store.applyGeneration(2, snapshot([testBudget()]))).toMatchObject({ ok: true });
    expect(await readyz()).toEqual({ status: 503, body: expect.objectContaining({ ready: false, reason: AWAITING_USAGE_ANSWER }) });
    answering = true;
    await vi.waitFor(async () => expect((await readyz()).status).toBe(200), { timeout: 5_000, interval: 50 });
  });
});
