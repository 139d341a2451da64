import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A fresh connection has until the headers timeout (15 s by default) to send its first request;
// an upgrade is not a request, so the timer stayed armed and cut every Realtime session opened on
// a fresh connection (the official client's way) 15 s in, active or not (1006). Here the timeout
// is 300 ms and the session must outlive it.

const HEADERS_TIMEOUT_MS = 300;

let upstream: RealtimeEmulator;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startRealtimeEmulator('sk-upstream');
  gateway = await startTestGateway(
    {
      'all.yaml':
        providerManifest('up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }') +
        secretManifest('up-key', { apiKey: 'sk-upstream' }) +
        `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: voice }
spec:
  model: voice
  access: { anonymous: true }
  targets: [{ providerRef: { name: up }, model: gpt-realtime }]
  passThrough: { endpoints: [realtime] }
`,
    },
    { headersTimeoutMs: HEADERS_TIMEOUT_MS },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('a Realtime session on a fresh connection', () => {
  it('outlives the first-request timer of its connection', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=voice`);
    const closed: number[] = [];
    ws.on('close', (code) => closed.push(code));
    await once(ws, 'open');
    // Past the connection's first-request deadline, several times over.
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS * 3));
    expect(closed).toEqual([]);
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer) => {
        if ((JSON.parse(data.toString()) as { type: string }).type === 'response.done') resolve();
      });
    });
    ws.send(JSON.stringify({ type: 'response.create' }));
    await done;
    ws.close(1000);
    await once(ws, 'close');
    expect(closed).toEqual([1000]);
  });
});
