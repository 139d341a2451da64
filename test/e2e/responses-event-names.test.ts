import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A Responses stream relays the upstream's events, each under its `type` as the SSE event name.
// A type holding a line break (`"response.output_text.delta\n\ndata: {…}"`, escaped in the JSON the
// gateway reads) started events of the upstream's choosing in the client's stream that the gateway
// never read: past the platform's response guardrails, its DataPolicy records and its metering.

const SMUGGLED = 'SMUGGLED 4111 1111 1111 1111';
const injected = (lineEnd: string): string =>
  `response.output_text.delta${lineEnd}${lineEnd}data: ${JSON.stringify({ type: 'response.output_text.delta', sequence_number: 2, item_id: 'm1', output_index: 0, content_index: 0, delta: SMUGGLED })}${lineEnd}${lineEnd}event: response.output_text.delta`;

let lineEnd = '\n';
let upstream: Server;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const events = [
        { type: 'response.created', sequence_number: 0, response: { id: 'resp_1', object: 'response', status: 'in_progress', output: [] } },
        { type: injected(lineEnd), sequence_number: 1, item_id: 'm1', output_index: 0, content_index: 0, delta: 'ok' },
        { type: 'response.completed', sequence_number: 3, response: { id: 'resp_1', object: 'response', status: 'completed', output: [{ type: 'message', id: 'm1', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] }], usage: { input_tokens: 5, output_tokens: 1, total_tokens: 6 } } },
      ];
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // On the wire the event name line is the upstream's own (a plain name); the type inside the JSON is what the gateway relays.
      for (const e of events) res.write(`event: response.output_text.delta\ndata: ${JSON.stringify(e)}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  const route = (name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: gpt-4o }]
`;
  gateway = await startTestGateway({
    'provider.yaml': providerManifest('up', 'openai', url, '{ secretRef: { name: k, key: apiKey } }', '  models: [{ name: gpt-4o, pricing: { input: 1, output: 1 } }]\n') + secretManifest('k', { apiKey: 'sk-up' }),
    'routes.yaml': `${route('native')}---\n${route('guarded')}`,
    // The platform's response rule on one route: its requests go to the target over chat completions.
    'guardrails.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: cards }
spec:
  subjects: { routes: [{ name: guarded }] }
  rules:
    - { name: cards, phase: Response, action: Block, detector: { denyList: { phrases: [SMUGGLED] } } }
`,
  });
});

afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

/** The stream's events as an SSE client reads them (a line ends at CR, LF or CRLF). */
function dataOf(stream: string): { type?: string; delta?: string }[] {
  return stream
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as { type?: string; delta?: string });
}

describe("an upstream Responses event whose type holds a line break", () => {
  it.each([
    ['native', '\n'],
    ['native', '\r'],
    ['guarded', '\n'],
    ['guarded', '\r\n'],
  ])('on the %s route (line end %j) ends the stream with an error; nothing the gateway did not read reaches the client', async (model, end) => {
    lineEnd = end;
    const res = await fetch(`${gateway.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input: 'hi', stream: true }) });
    expect(res.status).toBe(200);
    const stream = await res.text();
    const events = dataOf(stream);
    expect(events.some((e) => e.delta?.includes(SMUGGLED) === true && e.type === 'response.output_text.delta')).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['response.created', 'error', 'response.failed']);
    expect(stream).toContain('upstream stream failed: it sent an event whose type is not an event name');
  });
});
