import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { ScriptedUpstream } from '../support/scripted-upstream.js';
import { routeManifest } from '../providers/provider-manifests.js';

const route = routeManifest('chat', [['up', 'm']]);

/** Chunks as an upstream may format them: spaces, escapes and number forms JSON.stringify would rewrite. */
const CHUNK_1 = '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "caf\\u00e9 1.0e0"}, "finish_reason": null}]}';
const CHUNK_2 = '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}';
const USAGE = '{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}';
/** Real OpenAI, asked for usage (the gateway always asks), puts `"usage":null` on every chunk before the usage chunk. */
const NULL_1 = '{"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"caf\\u00e9"},"finish_reason":null}],"usage":null}';
const NULL_2 = '{"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}';
const NULL_USAGE = '{"id":"c2","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';

let upstream: ScriptedUpstream;
let gateway: TestGateway;
/** What the upstream answers (each test may change it). */
let script = '';
let contentType = 'text/event-stream';
beforeAll(async () => {
  upstream = new ScriptedUpstream();
  await upstream.start();
  upstream.handler = async (_req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    res.end(script);
  };
  gateway = await startTestGateway({ 'provider.yaml': openAiProvider('up', upstream.url), 'route.yaml': route });
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

async function streamText(includeUsage: boolean): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }], ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }),
  });
  expect(res.status).toBe(200);
  return res.text();
}

describe('streaming pass-through', () => {
  beforeEach(() => {
    contentType = 'text/event-stream';
    script = `data: ${CHUNK_1}\n\ndata: ${CHUNK_2}\n\ndata: ${USAGE}\n\ndata: [DONE]\n\n`;
  });

  it('forwards unchanged chunks as the upstream wrote them, byte for byte', async () => {
    expect(await streamText(true)).toBe(`data: ${CHUNK_1}\n\ndata: ${CHUNK_2}\n\ndata: ${USAGE}\n\ndata: [DONE]\n\n`);
  });

  it('still rebuilds what it must change: the usage chunk the client did not ask for is hidden', async () => {
    expect(await streamText(false)).toBe(`data: ${CHUNK_1}\n\ndata: ${CHUNK_2}\n\ndata: [DONE]\n\n`);
  });

  it('forwards chunks that carry "usage":null byte for byte when the client did not ask for usage; only the usage chunk is hidden', async () => {
    script = `data: ${NULL_1}\n\ndata: ${NULL_2}\n\ndata: ${NULL_USAGE}\n\ndata: [DONE]\n\n`;
    expect(await streamText(false)).toBe(`data: ${NULL_1}\n\ndata: ${NULL_2}\n\ndata: [DONE]\n\n`);
    expect(await streamText(true)).toBe(script);
  });

  it('passes a complete (non-streaming) answer back as the upstream wrote it', async () => {
    contentType = 'application/json';
    script = '{"id": "r1", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "caf\\u00e9 1.0e0"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}';
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tollgate-cost-usd')).not.toBeNull();
    expect(await res.text()).toBe(script);
  });
});
