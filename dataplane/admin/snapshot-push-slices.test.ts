// A snapshot push is validated, built and hashed in slices that give the event loop back: the
// requests of the other ports on the loop are answered meanwhile. Before, the whole apply ran in one
// piece (about half a second for 5,000 routes, bench/snapshot-push-stall.ts). The pause between
// slices is a hook here, so that the test holds a push mid-validation deterministically.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { bigInput } from '../../test/support/snapshot-scale.js';
import { mockRouteSnapshot } from '../../test/support/mock-route-snapshot.js';
import { canonicalJson, contentHash, expectedVersion } from '../config/content-hash.js';
import { SecretValue, wireJson } from '../config/secret-value.js';
import { SnapshotSchema } from '../config/snapshot.js';
import { droppedField, droppedFieldSteps } from '../config/unknown-fields.js';
import { runToEnd } from '../config/sliced.js';
import { buildRuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createHash } from 'node:crypto';
import { createAdminApp } from './admin-app.js';

const NOW = 1_700_000_000_000;
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A pause hook that holds the first pause until released. */
function heldPause(): { pause: () => Promise<void>; paused: Promise<void>; release: () => void; count: () => number } {
  let calls = 0;
  let onPaused!: () => void;
  let onRelease!: () => void;
  const paused = new Promise<void>((r) => (onPaused = r));
  const released = new Promise<void>((r) => (onRelease = r));
  return {
    pause: async () => {
      calls++;
      if (calls === 1) {
        onPaused();
        await released;
      }
    },
    paused,
    release: () => onRelease(),
    count: () => calls,
  };
}

async function setUp(hold: ReturnType<typeof heldPause>) {
  const store = new SnapshotStore(new HttpTransport(), () => NOW, { sliceMs: 0, pause: hold.pause });
  const admin = await listen(createServer(createAdminApp({ store, token: 'secret', logger: pino({ level: 'silent' }), isDraining: () => false })));
  // The public port's stand-in: answers from the snapshot being served, on the same event loop.
  const pub = await listen(createServer((_req, res) => res.end(JSON.stringify(store.current?.models.map((m) => m.id) ?? null))));
  const push = async (generation: number, model: string) => {
    const res = await fetch(`${admin}/v1/snapshot`, { method: 'PUT', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: JSON.stringify({ generation, term: 1, snapshot: mockRouteSnapshot(model) }) });
    return { status: res.status, body: (await res.json()) as { accepted: boolean; generation: number; error?: string } };
  };
  return { store, admin, pub, push };
}

describe('snapshot push in slices', () => {
  it('answers the public port and the probes while a push is being validated, serving the previous snapshot until the swap', async () => {
    const hold = heldPause();
    const { store, admin, pub, push } = await setUp(hold);
    // The first snapshot is applied directly, without the push path's slices.
    expect(store.applyGeneration(NOW - 10, mockRouteSnapshot('old'), 1).ok).toBe(true);

    const pushed = push(NOW, 'new');
    const finishedFirst = pushed.then(() => 'push answered without giving the loop back' as const);
    // Before, the push ran in one piece: it answered before any pause.
    expect(await Promise.race([hold.paused.then(() => 'paused' as const), finishedFirst])).toBe('paused');

    // Mid-validation: the other ports answer, from the snapshot still served.
    expect(await (await fetch(pub)).json()).toEqual(['old']);
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { generation: number }).generation).toBe(NOW - 10);

    hold.release();
    expect(await pushed).toMatchObject({ status: 200, body: { accepted: true, generation: NOW } });
    expect(await (await fetch(pub)).json()).toEqual(['new']);
    expect(hold.count()).toBeGreaterThan(1);
  });

  it('refuses a push whose generation another push overtook while it was being validated (ordering checked again at the swap)', async () => {
    const hold = heldPause();
    const { store, pub, push } = await setUp(hold);
    const slow = push(NOW, 'slow');
    await hold.paused;
    // A newer generation applied meanwhile (the pull path or another push).
    expect(store.applyGeneration(NOW + 1, mockRouteSnapshot('newer'), 1).ok).toBe(true);
    hold.release();
    const answer = await slow;
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/generation 1700000000000 is older than the served generation 1700000000001/);
    expect(await (await fetch(pub)).json()).toEqual(['newer']);
  });
});

describe('the sliced validation, build and hash give what the whole ones gave', () => {
  const snapshot = JSON.parse(wireJson(compile(bigInput(60, 40)).snapshot)) as Record<string, unknown>;
  const transport = new HttpTransport();

  it('parses to what SnapshotSchema parses to', () => {
    const built = buildRuntimeSnapshot(snapshot, transport);
    expect(built.ok).toBe(true);
    if (built.ok) expect(built.runtime.snapshot).toEqual(SnapshotSchema.parse(snapshot));
  });

  it('reports the issue SnapshotSchema reports first, also when a later array item is invalid too', () => {
    const routes = snapshot.routes as Record<string, unknown>[];
    const cases: Record<string, unknown>[] = [
      { ...snapshot, routes: routes.map((r, i) => (i === 7 ? { ...r, model: 5 } : r)) },
      { ...snapshot, namespaces: 'x', routes: routes.map((r, i) => (i === 7 ? { ...r, model: 5 } : r)) },
      { ...snapshot, providers: [{ id: 1 }], routes: routes.map((r, i) => (i === 7 ? { ...r, model: 5 } : r)) },
      { ...snapshot, schemaVersion: 99 },
      { ...snapshot, routes: 'nope' },
    ];
    for (const input of cases) {
      const whole = SnapshotSchema.safeParse(input);
      expect(whole.success).toBe(false);
      const issue = whole.error?.issues[0];
      expect(buildRuntimeSnapshot(input, transport)).toEqual({ ok: false, error: `invalid snapshot at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'unknown'}` });
    }
  });

  it('finds the same unknown field first', () => {
    const parsed = SnapshotSchema.parse(snapshot);
    const routes = snapshot.routes as Record<string, unknown>[];
    const withUnknown = { ...snapshot, zzz: 1, routes: routes.map((r, i) => (i === 3 ? { ...r, future: true } : r)) };
    expect(runToEnd(droppedFieldSteps(withUnknown, { ...parsed, zzz: undefined }))).toBe(droppedField(withUnknown, { ...parsed, zzz: undefined }));
    expect(runToEnd(droppedFieldSteps(withUnknown, parsed))).toBe('routes.3.future');
    expect(droppedField(withUnknown, parsed)).toBe('routes.3.future');
  });

  it('hashes the bytes canonicalJson writes', () => {
    const whole = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
    const odd = { b: [1, undefined, { z: 1, a: new SecretValue('s') }], a: new SecretValue('k'), c: undefined, d: { y: [2], x: null }, e: [] };
    for (const value of [snapshot, SnapshotSchema.parse(snapshot), odd, [1, 2], 'text', 3, null]) expect(contentHash(value)).toBe(whole(value));
    expect(expectedVersion(snapshot)).toBe(snapshot.version);
  });
});
