import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A tenant's own upstream (its Provider's url) answering with errors nested thousands of levels
// deep. JSON.parse takes any depth; the credential scrub walked the parsed error without a bound and
// ran out of stack: a Realtime `error` event of 6 KB crashed the data plane every tenant shares,
// and a chat 4xx became a 500. Now the scrub stops at a fixed depth.

const DEPTH = 5_000;
const nested = (depth: number): string => `${'['.repeat(depth)}"sk-upstream-secret"${']'.repeat(depth)}`;

let http: Server;
let ws: WebSocketServer;
let gateway: TestGateway;

beforeAll(async () => {
  http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(`{"error":{"message":"bad request","type":"invalid_request_error","detail":${nested(DEPTH)}}}`);
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  ws = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(ws, 'listening');
  ws.on('connection', (socket) => socket.send(`{"type":"error","event_id":"e1","error":${nested(DEPTH)}}`));
  const httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1`;
  const wsUrl = `http://127.0.0.1:${(ws.address() as AddressInfo).port}/v1`;
  const route = (name: string, provider: string, passThrough = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  access: { anonymous: true }
  targets: [{ providerRef: { name: ${provider} }, model: m }]
${passThrough}---
`;
  gateway = await startTestGateway({
    'all.yaml':
      providerManifest('deep-http', 'openai-compatible', httpUrl, '{ secretRef: { name: key, key: k } }') +
      providerManifest('deep-ws', 'openai-compatible', wsUrl, '{ secretRef: { name: key, key: k } }') +
      secretManifest('key', { k: 'sk-upstream-secret' }) +
      route('chat', 'deep-http') +
      route('voice', 'deep-ws', '  passThrough: { endpoints: [realtime] }\n'),
  });
});

afterAll(async () => {
  await gateway?.close();
  http?.close();
  ws?.close();
});

describe('an upstream error nested thousands of levels deep', () => {
  it('on chat: the 400 is relayed, scrubbed, not a 500', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).toContain('bad request');
    expect(text).not.toContain('sk-upstream-secret');
  });

  it('on Realtime: the client gets the event (cut to a bounded depth) and the data plane keeps serving', async () => {
    const client = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=voice`);
    const [data] = (await once(client, 'message')) as [Buffer];
    const event = JSON.parse(data.toString()) as { type: string };
    expect(event.type).toBe('error');
    expect(data.toString()).not.toContain('sk-upstream-secret');
    expect(data.toString()).toContain('[nested too deeply]');
    client.close();
    // Still alive: another request is answered.
    const res = await fetch(`${gateway.url}/v1/models`);
    expect(res.status).toBe(200);
  });
});
