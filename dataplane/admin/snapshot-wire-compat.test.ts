// The snapshot channel in a rolling upgrade: operators and pods from before the line form
// (snapshot-lines.ts) and from after it, each way, push and pull. A new pod parses a line-form body
// a line at a time in slices (before, one JSON.parse of the whole body held its loop); an old pod
// (JSON only) gets JSON, and an old operator's JSON is read as before.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { Distributor } from '../../operator/distribute/distributor.js';
import { createOperatorApp } from '../../operator/distribute/operator-server.js';
import type { UsageAggregator } from '../../operator/budgets/usage-aggregator.js';
import { bigInput } from '../../test/support/snapshot-scale.js';
import { SNAPSHOT_BODY_LIMIT } from '../config/channel-answers.js';
import { wireJson } from '../config/secret-value.js';
import { SnapshotEnvelopeSchema, type SnapshotEnvelope } from '../config/snapshot-envelope.js';
import { SNAPSHOT_FORMATS_HEADER, SNAPSHOT_LINES_TYPE } from '../config/snapshot-lines.js';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createAdminApp } from './admin-app.js';
import { pullSnapshot } from './snapshot-puller.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'secret';
const servers: Server[] = [];
const distributors: Distributor[] = [];
afterEach(() => {
  for (const d of distributors.splice(0)) d.stop();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const { snapshot } = compile(bigInput(200, 20));
const items = Object.values(snapshot).reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 0), 0);
const NOW = Date.now();

/** A store whose slices pause after every step, counted. */
function countingStore(): { store: SnapshotStore; pauses: () => number } {
  let pauses = 0;
  const store = new SnapshotStore(new HttpTransport(), () => NOW, { sliceMs: 0, pause: async () => void pauses++ });
  return { store, pauses: () => pauses };
}

/** A new pod (this admin app), recording the content-type of each push. */
async function newPod(): Promise<{ address: string; store: SnapshotStore; pauses: () => number; types: string[] }> {
  const { store, pauses } = countingStore();
  const app = createAdminApp({ store, token: TOKEN, logger, isDraining: () => false });
  const types: string[] = [];
  const address = await listen(
    createServer((req, res) => {
      if (req.method === 'PUT') types.push(req.headers['content-type'] ?? '');
      app(req, res);
    }),
  );
  return { address, store, pauses, types };
}

/** A pod from before the line form: JSON only (express.json skips any other type: no envelope, 400), no formats header. */
async function oldPod(): Promise<{ address: string; store: SnapshotStore; types: string[] }> {
  const store = new SnapshotStore(new HttpTransport(), () => NOW);
  const app = express();
  const types: string[] = [];
  app.put('/v1/snapshot', express.json({ limit: SNAPSHOT_BODY_LIMIT }), async (req, res) => {
    types.push(req.headers['content-type'] ?? '');
    const envelope = SnapshotEnvelopeSchema.safeParse(req.body);
    if (!envelope.success) {
      res.status(400).json({ accepted: false, generation: store.generation, version: null, error: 'bad envelope' });
      return;
    }
    const result = await store.applyGenerationSliced(envelope.data.generation, envelope.data.snapshot, envelope.data.term);
    res.status(result.ok ? 200 : 400).json({ accepted: result.ok, generation: store.generation, term: store.term, version: store.current?.snapshot.version ?? null });
  });
  return { address: await listen(createServer(app)), store, types };
}

function distributor(): Distributor {
  const d = new Distributor({ token: TOKEN, logger, verifyIntervalMs: 0 });
  distributors.push(d);
  d.setEnabled(true);
  return d;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

const envelope = (generation: number): SnapshotEnvelope => ({ generation, term: 1, snapshot });

describe('snapshot push across versions', () => {
  it('new operator → new pod: pushes the line form, which the pod parses a line per slice', async () => {
    const pod = await newPod();
    const d = distributor();
    d.setEndpoints([{ address: pod.address, ready: true }]);
    d.publish(envelope(NOW - 10));
    await until(() => pod.store.generation === NOW - 10);
    expect(pod.types).toEqual([SNAPSHOT_LINES_TYPE]);
    expect(pod.store.current?.snapshot.version).toBe(snapshot.version);
    // The same snapshot as JSON (an old operator) for the apply's own slices; the line form adds one per item.
    const before = pod.pauses();
    const json = await fetch(`http://${pod.address}/v1/snapshot`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: wireJson(envelope(NOW - 9)) });
    expect(json.status).toBe(200);
    const applyOnly = pod.pauses() - before;
    const mid = pod.pauses();
    d.publish(envelope(NOW - 8));
    await until(() => pod.store.generation === NOW - 8);
    expect(pod.pauses() - mid).toBeGreaterThanOrEqual(applyOnly + items);
  });

  it('old operator → new pod: a JSON push is read as before, and the answer names the line form', async () => {
    const pod = await newPod();
    const res = await fetch(`http://${pod.address}/v1/snapshot`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: wireJson(envelope(NOW - 5)) });
    expect(res.status).toBe(200);
    expect(res.headers.get(SNAPSHOT_FORMATS_HEADER)).toBe(SNAPSHOT_LINES_TYPE);
    expect(pod.store.current?.snapshot.version).toBe(snapshot.version);
    // A line-form body that is not one is refused as a bad envelope, the header still on the answer.
    const bad = await fetch(`http://${pod.address}/v1/snapshot`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': SNAPSHOT_LINES_TYPE }, body: '{"generation":1}' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get(SNAPSHOT_FORMATS_HEADER)).toBe(SNAPSHOT_LINES_TYPE);
    expect(await bad.json()).toMatchObject({ accepted: false, error: 'bad envelope: line 1: not an envelope with a snapshot object' });
  });

  it('new operator → old pod: after one answer without the formats header it pushes JSON, at once and from then on', async () => {
    const pod = await oldPod();
    const refused: string[] = [];
    const d = new Distributor({ token: TOKEN, logger, verifyIntervalMs: 0, onRefused: (r) => refused.push(r) });
    distributors.push(d);
    d.setEnabled(true);
    d.setEndpoints([{ address: pod.address, ready: true }]);
    d.publish(envelope(NOW - 10));
    await until(() => pod.store.generation === NOW - 10);
    expect(pod.types).toEqual([SNAPSHOT_LINES_TYPE, 'application/json']);
    expect(refused).toEqual([]);
    d.publish(envelope(NOW - 9));
    await until(() => pod.store.generation === NOW - 9);
    expect(pod.types).toEqual([SNAPSHOT_LINES_TYPE, 'application/json', 'application/json']);
    expect(pod.store.current?.snapshot.version).toBe(snapshot.version);
  });
});

describe('a line form over the pods\' body limit', () => {
  it('is neither pushed nor answered to a pull: JSON is, which the snapshot budget keeps under the limit', async () => {
    const pod = await newPod();
    const json = wireJson(envelope(NOW - 10));
    // The line form is a few bytes an item longer than the JSON form the budget sizes.
    const d = new Distributor({ token: TOKEN, logger, verifyIntervalMs: 0, bodyLimitBytes: Buffer.byteLength(json) + 10 });
    distributors.push(d);
    d.setEnabled(true);
    d.setEndpoints([{ address: pod.address, ready: true }]);
    d.publish(envelope(NOW - 10));
    await until(() => pod.store.generation === NOW - 10);
    expect(pod.types).toEqual(['application/json']);
    expect(d.wireLines).toBeUndefined();
    const usage = { handle: () => Promise.resolve({ ackedThrough: 0, budgets: [], replicas: 1 }) } as unknown as UsageAggregator;
    const app = createOperatorApp({ token: TOKEN, usage, distributor: d, registry: new Registry(), isReady: () => true, isLeader: () => true, logger });
    const address = await listen(createServer(app));
    const res = await fetch(`http://${address}/v1/snapshot`, { headers: { authorization: `Bearer ${TOKEN}`, accept: SNAPSHOT_LINES_TYPE } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(json);
  });
});

describe('snapshot pull across versions', () => {
  async function newOperator(): Promise<{ url: string; d: Distributor; accepts: (string | undefined)[] }> {
    const d = new Distributor({ token: TOKEN, logger, verifyIntervalMs: 0 });
    distributors.push(d);
    d.publish(envelope(NOW - 3));
    const usage = { handle: () => Promise.resolve({ ackedThrough: 0, budgets: [], replicas: 1 }) } as unknown as UsageAggregator;
    const app = createOperatorApp({ token: TOKEN, usage, distributor: d, registry: new Registry(), isReady: () => true, isLeader: () => true, logger });
    const accepts: (string | undefined)[] = [];
    const address = await listen(
      createServer((req: IncomingMessage, res) => {
        accepts.push(req.headers.accept);
        app(req, res);
      }),
    );
    return { url: `http://${address}`, d, accepts };
  }

  it('new pod ← new operator: asks for and gets the line form, parsed a line per slice', async () => {
    const op = await newOperator();
    const { store, pauses } = countingStore();
    await pullSnapshot(store, op.url, TOKEN, logger, AbortSignal.timeout(10_000));
    expect(store.generation).toBe(NOW - 3);
    expect(store.current?.snapshot.version).toBe(snapshot.version);
    expect(op.accepts[0]).toContain(SNAPSHOT_LINES_TYPE);
    const res = await fetch(`${op.url}/v1/snapshot`, { headers: { authorization: `Bearer ${TOKEN}`, accept: SNAPSHOT_LINES_TYPE } });
    expect(res.headers.get('content-type')).toContain(SNAPSHOT_LINES_TYPE);
    expect(await res.text()).toBe(op.d.wireLines);
    // Parse (a step per item) and apply: at least a pause per item more than the apply alone takes.
    const { store: jsonStore, pauses: applyOnly } = countingStore();
    await jsonStore.applyGenerationSliced(NOW - 3, JSON.parse(wireJson(snapshot)), 1);
    expect(pauses()).toBeGreaterThanOrEqual(applyOnly() + items);
  });

  it('old pod ← new operator: a pull without the line form in accept gets the JSON form, as before', async () => {
    const op = await newOperator();
    const res = await fetch(`${op.url}/v1/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(wireJson(envelope(NOW - 3)));
  });

  it('new pod ← old operator: a JSON answer (accept ignored) is read as before', async () => {
    const address = await listen(createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(wireJson(envelope(NOW - 2)))));
    const { store } = countingStore();
    await pullSnapshot(store, `http://${address}`, TOKEN, logger, AbortSignal.timeout(10_000));
    expect(store.generation).toBe(NOW - 2);
    expect(store.current?.snapshot.version).toBe(snapshot.version);
  });
});
