// Snapshot pushes are ordered by (leader term, generation): a deposed leader cannot replace what its
// successor published, and a generation far ahead of the clock cannot wedge the channel.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockRouteSnapshot } from '../../test/support/mock-route-snapshot.js';
import { MAX_GENERATION_AHEAD_MS } from '../config/snapshot-envelope.js';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createAdminApp } from './admin-app.js';

const snapshot = mockRouteSnapshot;

const NOW = 1_700_000_000_000;
let server: Server;
let base: string;
const store = new SnapshotStore(new HttpTransport(), () => NOW);

beforeAll(async () => {
  server = createAdminApp({ store, token: 'secret', logger: pino({ level: 'silent' }), isDraining: () => false }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

const push = async (body: unknown): Promise<{ status: number; body: { accepted: boolean; generation: number; term?: number; error?: string } }> => {
  const res = await fetch(`${base}/v1/snapshot`, { method: 'PUT', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { accepted: boolean; generation: number; term?: number; error?: string } };
};
const served = (): string[] | undefined => store.current?.models.map((m) => m.id);

describe('snapshot pushes ordered by leader term, then generation', () => {
  it('takes a higher term whatever its generation and refuses a lower term whatever its generation', async () => {
    expect((await push({ generation: NOW, term: 1, snapshot: snapshot('old-leader') })).status).toBe(200);
    // The new leader's clock is behind the old one's: its generation is lower, its term higher.
    const takeover = await push({ generation: NOW - 5_000, term: 2, snapshot: snapshot('new-leader') });
    expect(takeover.status).toBe(200);
    expect(takeover.body).toMatchObject({ accepted: true, generation: NOW - 5_000, term: 2 });
    expect(served()).toEqual(['new-leader']);

    // The deposed leader, still believing it leads, publishes above: refused as stale.
    const deposed = await push({ generation: NOW + 60_000, term: 1, snapshot: snapshot('old-leader-2') });
    expect(deposed.status).toBe(409);
    expect(deposed.body).toMatchObject({ accepted: false, generation: NOW - 5_000, term: 2 });
    expect(deposed.body.error).toMatch(/term 1 is older than the served term 2/);
    expect(served()).toEqual(['new-leader']);

    const status = await fetch(`${base}/v1/snapshot/status`, { headers: { authorization: 'Bearer secret' } });
    expect(await status.json()).toMatchObject({ generation: NOW - 5_000, term: 2 });
  });

  it('refuses a push without a term once a term is served, as invalid (400) so that an operator from before terms does not publish above in a loop', async () => {
    const legacy = await push({ generation: NOW + 120_000, snapshot: snapshot('legacy') });
    expect(legacy.status).toBe(400);
    expect(served()).toEqual(['new-leader']);
  });

  it('keeps generation order within a term', async () => {
    expect((await push({ generation: NOW - 6_000, term: 2, snapshot: snapshot('older') })).status).toBe(409);
    expect((await push({ generation: NOW - 4_000, term: 2, snapshot: snapshot('newer') })).status).toBe(200);
    expect(served()).toEqual(['newer']);
  });

  it('refuses a generation more than 24 h ahead of its clock (400), whatever the term, and keeps serving', async () => {
    for (const generation of [NOW + MAX_GENERATION_AHEAD_MS + 1, Number.MAX_SAFE_INTEGER]) {
      const far = await push({ generation, term: 3, snapshot: snapshot('stray') });
      expect(far.status).toBe(400);
      expect(far.body.error).toMatch(/24 h ahead/);
    }
    expect(served()).toEqual(['newer']);
    expect(store.generation).toBe(NOW - 4_000);
    // A day ahead exactly is still a generation (clock skew between the operator and the pod).
    expect((await push({ generation: NOW + MAX_GENERATION_AHEAD_MS, term: 3, snapshot: snapshot('skewed') })).status).toBe(200);
  });
});
