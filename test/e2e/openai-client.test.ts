import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routeManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

/** primary first, then secondary. */
const FAILOVER: [string, string][] = [['primary', 'upstream-a'], ['secondary', 'upstream-b']];

let primary: OpenAiUpstream;
let secondary: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

function routes(extra = ''): string {
  // chat-hang: chat with a short attempt timeout, only for the hangs. With 500 ms on chat itself, a
  // loaded machine that stalled the in-process emulator's answer sent the request on to the secondary.
  return `${routeManifest('chat', FAILOVER, '{ attempts: 1 }', '{ total: 10s, streamIdle: 2s }')}${routeManifest('chat-hang', FAILOVER, '{ attempts: 1 }', '{ attempt: 500ms, total: 10s, streamIdle: 2s }')}apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: split }
spec:
  model: split
  strategy: weighted
  targets:
    - { providerRef: { name: primary }, model: upstream-a, weight: 75 }
    - { providerRef: { name: secondary }, model: upstream-b, weight: 25 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: retrying }
spec:
  model: retrying
  targets: [{ providerRef: { name: primary }, model: upstream-a }]
  retry: { attempts: 3, backoff: { initial: 10ms, max: 20ms } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: broken }
spec:
  model: broken
  targets: [{ providerRef: { name: nowhere }, model: x }]
${extra}`;
}

beforeAll(async () => {
  primary = await startOpenAiUpstream();
  secondary = await startOpenAiUpstream();
  gateway = await startTestGateway({
    'providers.yaml': `${openAiProvider('primary', primary.baseUrl, '  models: [{ name: upstream-a, pricing: { input: 1, output: 2 } }]\n')}---\n${openAiProvider('secondary', secondary.baseUrl)}`,
    'routes.yaml': routes(),
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await gateway.close();
  await primary.close();
  await secondary.close();
});

afterEach(() => {
  primary.script();
  secondary.script();
  primary.requests.length = 0;
  secondary.requests.length = 0;
});

describe('OpenAI API through the gateway (official openai client)', () => {
  it('serves a chat completion and says who served it', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('hello from upstream');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/primary');
    expect(response.headers.get('x-tollgate-model')).toBe('upstream-a');
    expect(response.headers.get('x-tollgate-attempts')).toBe('1');
    // 10 input × $1/M + 5 output × $2/M
    expect(response.headers.get('x-tollgate-cost-usd')).toBe('0.00002000');
    expect(primary.requests[0]?.body.model).toBe('upstream-a');
    expect(primary.requests[0]?.headers.authorization).toBe('Bearer sk-primary');
  });

  it('streams chat chunks, and hides the usage chunk the client did not ask for', async () => {
    primary.script({ kind: 'stream', chunks: 5, intervalMs: 5 });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('tok tok tok tok tok');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    // The gateway asked upstream for usage so that it can meter the stream.
    expect(primary.requests[0]?.body.stream_options).toEqual({ include_usage: true });
  });

  it('passes the usage chunk through when the client asks for it', async () => {
    primary.script({ kind: 'stream', chunks: 3, intervalMs: 0 });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
  });

  it('meters streams from upstream usage, or estimates when the upstream sends none', async () => {
    const usage = gateway.usage;
    primary.script({ kind: 'stream', chunks: 4, intervalMs: 0 });
    for await (const _ of await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] })) {
      // drain
    }
    expect(usage.records.at(-1)).toMatchObject({ outputTokens: 4, estimated: false });
    primary.script({ kind: 'stream', chunks: 4, intervalMs: 0, omitUsage: true, content: 'abcdefg' });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const _ of stream) {
      // drain
    }
    expect(usage.records.at(-1)).toMatchObject({ estimated: true, estimateReason: 'missing', outputTokens: 8 });
    expect(usage.records.at(-1)?.inputTokens).toBeGreaterThan(0);
  });

  it('serves legacy completions, embeddings and the model list', async () => {
    const completion = await client.completions.create({ model: 'chat', prompt: 'say hi' });
    expect(completion.choices[0]?.text).toBe('hi');
    // The SDK asks for base64 and decodes it: the vectors it returns are the upstream's floats.
    const embedding = await client.embeddings.create({ model: 'chat', input: ['a', 'b'] });
    expect(embedding.data).toHaveLength(2);
    expect(primary.requests.at(-1)?.body.encoding_format).toBe('base64');
    for (const d of embedding.data) expect(d.embedding.map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.1, 0.2, 0.3]);
    expect(primary.requests.map((r) => r.path)).toEqual(['/v1/completions', '/v1/embeddings']);
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models.sort()).toEqual(['broken', 'chat', 'chat-hang', 'retrying', 'split']);
    expect((await client.models.retrieve('chat')).id).toBe('chat');
  });

  it('streams legacy completions as text_completion chunks and meters them, from usage or by estimate', async () => {
    const usage = gateway.usage;
    primary.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'abcd' });
    const texts: string[] = [];
    const stream = await client.completions.create({ model: 'chat', prompt: 'say hi', stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    for (const c of chunks) texts.push(...c.choices.map((choice) => choice.text));
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(texts.join('')).toBe('abcd abcd abcd');
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
    expect(usage.records.at(-1)).toMatchObject({ outputTokens: 3, estimated: false });
    primary.script({ kind: 'stream', chunks: 4, intervalMs: 0, omitUsage: true, content: 'abcdefg' });
    for await (const _ of await client.completions.create({ model: 'chat', prompt: 'say hi', stream: true })) {
      // drain
    }
    expect(usage.records.at(-1)).toMatchObject({ estimated: true, outputTokens: 8 });
  });

  it('streams n choices side by side and meters the tokens of all of them', async () => {
    const usage = gateway.usage;
    primary.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'w' });
    const texts = ['', ''];
    const stream = await client.chat.completions.create({ model: 'chat', n: 2, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    const finishes: (string | null)[] = [];
    for await (const c of stream) {
      for (const choice of c.choices) {
        texts[choice.index] += choice.delta.content ?? '';
        if (choice.finish_reason !== null) finishes[choice.index] = choice.finish_reason;
      }
    }
    expect(texts).toEqual(['w w w', 'w w w']);
    expect(finishes).toEqual(['stop', 'stop']);
    expect(usage.records.at(-1)).toMatchObject({ outputTokens: 6, estimated: false });
  });

  it('fails over when the first target returns 500', async () => {
    primary.script({ kind: 'error', status: 500 });
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.model).toBe('upstream-b');
    expect(response.headers.get('x-tollgate-attempts')).toBe('2');
    expect(response.headers.get('x-tollgate-provider')).toBe('default/secondary');
  });

  it('fails over on 429 and on a hang past the attempt timeout', async () => {
    primary.script({ kind: 'error', status: 429, headers: { 'retry-after': '30' } });
    expect((await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).model).toBe('upstream-b');
    primary.script({ kind: 'hang' });
    const started = Date.now();
    expect((await client.chat.completions.create({ model: 'chat-hang', messages: [{ role: 'user', content: 'hi' }] })).model).toBe('upstream-b');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    await primary.requests[1]?.aborted; // the hung attempt was cancelled upstream
    expect(primary.requests[1]?.abortedNow()).toBe(true);
  });

  it('fails over when the upstream resets the connection, also before the first stream chunk', async () => {
    primary.script({ kind: 'reset' });
    expect((await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).model).toBe('upstream-b');
    primary.script({ kind: 'stream', chunks: 3, intervalMs: 0, failAfter: 0 });
    secondary.script({ kind: 'stream', chunks: 2, intervalMs: 0, content: 'b' });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const text = [];
    for await (const c of stream) text.push(c.choices[0]?.delta.content ?? '');
    expect(text.join('')).toBe('b b');
  });

  it('never retries once a stream has started: a mid-stream failure ends it with an error event', async () => {
    primary.script({ kind: 'stream', chunks: 5, intervalMs: 20, failAfter: 2 });
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toThrow(/upstream stream failed/);
    expect(seen.join('')).toBe('tok tok');
    expect(secondary.requests).toHaveLength(0);
  });

  it('retries the same target with backoff, honouring retry-after', async () => {
    primary.script({ kind: 'error', status: 503, headers: { 'retry-after-ms': '50' } }, { kind: 'error', status: 500 }, { kind: 'ok' });
    const { response } = await client.chat.completions.create({ model: 'retrying', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-tollgate-attempts')).toBe('3');
    expect(primary.requests).toHaveLength(3);
  });

  it('returns a clear error naming every attempt when nothing is left', async () => {
    primary.script({ kind: 'error', status: 500 });
    secondary.script({ kind: 'error', status: 502 });
    const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(502);
    expect(apiError.message).toMatch(/default\/primary \(upstream-a\): HTTP 500 ServerError/);
    expect(apiError.message).toMatch(/default\/secondary \(upstream-b\): HTTP 502 ServerError/);

    primary.script({ kind: 'hang' });
    secondary.script({ kind: 'hang' });
    const timeout = (await client.chat.completions.create({ model: 'chat-hang', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(timeout.status).toBe(504);

    primary.script({ kind: 'error', status: 429, headers: { 'retry-after': '7' } });
    secondary.script({ kind: 'error', status: 429, headers: { 'retry-after': '3' } });
    const limited = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(limited.status).toBe(429);
    expect(limited.headers?.get('retry-after')).toBe('3');
  });

  it("passes on the upstreams' soonest retry-after of a 503 or 429, at most an hour", async () => {
    primary.script({ kind: 'error', status: 503, headers: { 'retry-after': '4' } });
    secondary.script({ kind: 'error', status: 503, headers: { 'retry-after': '2' } });
    const down = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(down.status).toBe(502);
    expect(down.headers?.get('retry-after')).toBe('2');

    primary.script({ kind: 'error', status: 503, headers: { 'retry-after': '3600' } });
    secondary.script({ kind: 'error', status: 429, headers: { 'retry-after': '600' } });
    const later = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(later.status).toBe(429);
    expect(later.headers?.get('retry-after')).toBe('600');

    primary.script({ kind: 'error', status: 503, headers: { 'retry-after': '99999999' } });
    secondary.script({ kind: 'error', status: 503, headers: { 'retry-after': '86400' } });
    const far = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(far.headers?.get('retry-after')).toBe('3600');
  });

  it('relays an upstream client error (400) without failing over', async () => {
    primary.script({ kind: 'error', status: 400, body: { error: { message: 'temperature too high', type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } } });
    const err = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/temperature too high/);
    expect(err.param).toBe('temperature');
    expect(secondary.requests).toHaveLength(0);
  });

  // 400 requests took 27 s of the default 30 s on a loaded machine: 8 at a time, and a timeout of its own.
  it('splits weighted traffic within tolerance', async () => {
    const n = 400;
    let a = 0;
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < n) {
        sent++;
        const { response } = await client.chat.completions.create({ model: 'split', messages: [{ role: 'user', content: 'x' }] }).withResponse();
        if (response.headers.get('x-tollgate-provider') === 'default/primary') a++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // 75% expected; ±10 points is > 4 standard deviations at n = 400.
    expect(a / n).toBeGreaterThan(0.65);
    expect(a / n).toBeLessThan(0.85);
  }, 120_000);

  it('answers unknown models with 404 and unresolved routes with 503 naming the problem', async () => {
    const missing = (await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('model_not_found');
    const broken = (await client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(broken.status).toBe(503);
    expect(broken.message).toMatch(/has no usable target: ProviderNotFound \(default\/nowhere\)/);
  });

  it('cancels the upstream request when the client disconnects', async () => {
    primary.script({ kind: 'stream', chunks: 1000, intervalMs: 10 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal });
    let n = 0;
    try {
      for await (const _ of stream) if (++n === 3) controller.abort();
    } catch {
      // an abort may surface as an error or as the end of the iteration
    }
    expect(n).toBeLessThan(10);
    await primary.requests[0]?.aborted;
    expect(primary.requests[0]?.abortedNow()).toBe(true);
  });
});

describe('malformed requests get OpenAI-style errors', () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers, body });

  it.each([
    ['malformed JSON', '{"model": ', 400, 'invalid_json'],
    ['missing model', '{"messages":[{"role":"user","content":"x"}]}', 400, 'invalid_request'],
    ['no messages', '{"model":"chat","messages":[]}', 400, 'invalid_request'],
    ['not an object', '[1,2]', 400, 'invalid_request'],
  ])('%s → %d', async (_name, body, status, code) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(json.error).toMatchObject({ code, type: 'invalid_request_error' });
    expect(json.error.message.length).toBeGreaterThan(10);
  });

  it('refuses a body over the limit with 413', async () => {
    const res = await post(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(11 * 1024 * 1024) }] }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
  });

  it('answers unknown paths with an OpenAI-style 404', async () => {
    const res = await fetch(`${gateway.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });
});
