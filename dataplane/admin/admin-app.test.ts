import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { provider, route } from '../../test/support/objects.js';
import { SnapshotStore } from '../config/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createAdminApp } from './admin-app.js';

const snapshot = (model: string) =>
  compile({
    providers: [provider('mock', { type: 'mock' })],
    routes: [route('r', { model, targets: [{ providerRef: { name: 'mock' }, model: 'm' }] })],
    budgets: [],
    secrets: [],
  }).snapshot;

let server: Server;
let base: string;
const store = new SnapshotStore(new HttpTransport());

beforeAll(async () => {
  server = createAdminApp({ store, token: 'secret', logger: pino({ level: 'silent' }), isDraining: () => false }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

const push = (body: unknown, token = 'secret') =>
  fetch(`${base}/v1/snapshot`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('admin API', () => {
  it('is not ready before the first snapshot', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('refuses pushes without the right token', async () => {
    expect((await push({ generation: 1, snapshot: snapshot('a') }, 'wrong')).status).toBe(401);
    expect((await fetch(`${base}/v1/snapshot/status`)).status).toBe(401);
  });

  it('applies a newer generation, refuses an older one, and keeps the last good on an invalid one', async () => {
    const first = await push({ generation: 10, snapshot: snapshot('a') });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ accepted: true, generation: 10, version: snapshot('a').version });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const stale = await push({ generation: 9, snapshot: snapshot('b') });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ accepted: false, generation: 10 });
    expect(store.current?.snapshot.version).toBe(snapshot('a').version);

    const invalid = await push({ generation: 11, snapshot: { ...snapshot('c'), routes: 'nope' } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/invalid snapshot at routes/);
    expect(store.generation).toBe(10);
    expect(store.current?.snapshot.version).toBe(snapshot('a').version);

    expect((await push({ generation: 12, snapshot: snapshot('d') })).status).toBe(200);
    expect(store.current?.models.map((m) => m.id)).toEqual(['d']);
  });
});
