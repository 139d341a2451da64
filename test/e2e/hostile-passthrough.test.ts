import { once } from 'node:events';
import { createServer as createNetServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A pass-through upstream that answers what no HTTP server should (a tenant may point a Provider
// at any URL): the gateway answers its client with an error and goes on serving everyone else.

let upstream: Server;
let answer: (body: string) => string;
let gateway: TestGateway;

beforeAll(async () => {
  answer = () => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
  upstream = createNetServer((socket) => {
    let seen = '';
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(seen)?.[1] ?? 0);
      if (end !== -1 && seen.length >= end + 4 + length) socket.end(answer(seen.slice(end + 4)));
    });
    socket.on('error', () => undefined);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const { port } = upstream.address() as { port: number };
  gateway = await startTestGateway({
    'providers.yaml': providerManifest('up', 'openai-compatible', `http://127.0.0.1:${port}/v1`, '{ secretRef: { name: k, key: apiKey } }') + secretManifest('k', { apiKey: 'sk-up' }),
    'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: media }
spec:
  model: media
  targets: [{ providerRef: { name: up }, model: m }]
  passThrough: { endpoints: [moderations, images] }
`,
  });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

const post = (path: string, body: unknown): Promise<Response> => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('a hostile pass-through upstream', () => {
  it.each(['099', '000'])('answering status %s gets its client a 502, and the gateway serves on', async (status) => {
    answer = () => `HTTP/1.1 ${status} Odd\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`;
    const res = await post('/v1/moderations', { model: 'media', input: 'x' });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(`status ${Number(status)}, which is not an HTTP status`);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  });

  it('answering an error with 300 KiB of body gets its client the error (its first 16 KiB, scrubbed), not a closed connection', async () => {
    const message = 'x'.repeat(300 * 1024);
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'too_long' } });
    answer = () => `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const res = await post('/v1/moderations', { model: 'media', input: 'x' });
    expect(res.status).toBe(400);
    expect((await res.text()).length).toBeLessThan(20 * 1024);
  });
});

describe('a pass-through upstream reporting usage that cannot be true', () => {
  let priced: TestGateway;

  beforeAll(async () => {
    const { port } = upstream.address() as { port: number };
    priced = await startTestGateway({
      'providers.yaml':
        providerManifest('up', 'openai-compatible', `http://127.0.0.1:${port}/v1`, '{ secretRef: { name: k, key: apiKey } }', '  models: [{ name: m, pricing: { input: 5, output: 40 } }]\n') +
        secretManifest('k', { apiKey: 'sk-up' }),
      'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: media }
spec:
  model: media
  targets: [{ providerRef: { name: up }, model: m }]
  passThrough: { endpoints: [images] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: daily }
spec:
  limit: { amount: 0.05, unit: USD }
  period: Day
  subjects: { routes: [{ name: media }] }
  action: { type: Reject }
`,
    });
  });

  afterAll(async () => {
    await priced?.close();
  });

  const images = (inputTokens: number): Promise<Response> => {
    const body = JSON.stringify({ created: 1, data: [{ b64_json: 'aGk=' }], usage: { input_tokens: inputTokens, output_tokens: 0, total_tokens: 0 } });
    answer = () => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    // A low 1024×1024 image: its hold (480 output tokens at most, $0.0192) fits the 5-cent Budget.
    return fetch(`${priced.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'media', prompt: 'cat', quality: 'low', size: '1024x1024' }) });
  };

  it('negative tokens in an images answer credit no Budget: the record costs nothing, marked invalid, and the Budget still refuses once spent', async () => {
    // Before, -2,000,000 input tokens at $5/M were a -$10 record: the Budget admitted $10 more.
    await (await images(-2_000_000)).text();
    await expect.poll(() => priced.usage.records.length).toBe(1);
    const record = priced.usage.records[0];
    expect(record?.costUsd).toBeGreaterThanOrEqual(0);
    expect(record?.inputTokens).toBeGreaterThanOrEqual(0);
    expect(record?.estimateReason).toBe('invalid');
    // 10,000 input tokens at $5/M: the Budget's 0.05 USD, spent.
    const spending = await images(10_000);
    expect(spending.status).toBe(200);
    await spending.text();
    await expect.poll(() => priced.usage.records.length).toBe(2);
    expect(priced.usage.records[1]?.costUsd).toBe(0.05);
    expect((await images(10)).status).toBe(429);
  });
});
