import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { ScriptedUpstream, writeMany } from '../support/scripted-upstream.js';

const chunk = (content: string): string =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

const route = (name: string, providers: string[], extra = '', limits = '{ maxResponseBytes: 65536, maxStreamEventBytes: 65536 }'): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [${providers.map((p) => `{ providerRef: { name: ${p} }, model: m }`).join(', ')}]
  timeouts: { total: 20s, streamIdle: 300ms }
  limits: ${limits}
${extra}`;

const MB = 1024 * 1024;
let upstream: ScriptedUpstream;
let spare: ScriptedUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = new ScriptedUpstream();
  spare = new ScriptedUpstream();
  await upstream.start();
  await spare.start();
  gateway = await startTestGateway({
    'providers.yaml': `${openAiProvider('up', upstream.url)}---\n${openAiProvider('spare', spare.url)}`,
    'routes.yaml': [
      route('limited', ['up', 'spare']),
      route('cached', ['up'], '  cache: { enabled: true, ttl: 5m }\n'),
      // The default limits (64 MiB, a million elements), failover to a healthy target.
      route('wide', ['up', 'spare'], '', '{}'),
      route('narrow', ['up'], '', '{ maxResponseJsonElements: 1000 }'),
      route('other', ['spare'], '', '{}'),
    ].join('---\n'),
  });
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
  await spare.close();
});

function ask(model: string, stream: boolean, content = 'hi'): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
  });
}

describe('upstream response size limits', () => {
  it('cuts a non-streaming body past limits.maxResponseBytes as it arrives: 502, no retry, no fallback', async () => {
    upstream.served.length = 0;
    spare.served.length = 0;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await writeMany(res, served, 200 * MB, `{"pad":"${'x'.repeat(16 * 1024)}"},`);
      res.end();
    };
    const res = await ask('limited', false);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error).toMatchObject({ code: 'upstream_response_too_large', type: 'server_error' });
    expect(body.error.message).toContain('65536 bytes (limits.maxResponseBytes)');
    await expect.poll(() => upstream.served[0]?.cut).toBe(true);
    // The gateway stopped reading: what the upstream got out is what socket buffers hold, not 200 MB.
    expect(upstream.served[0]?.written).toBeLessThan(50 * MB);
    expect(upstream.served).toHaveLength(1);
    expect(spare.served).toHaveLength(0);
  });

  it('refuses a declared content-length past the limit without reading the body', async () => {
    upstream.served.length = 0;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * MB) });
      await writeMany(res, served, 100 * MB, 'x'.repeat(64 * 1024));
      res.end();
    };
    const res = await ask('limited', false);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_response_too_large');
    await expect.poll(() => upstream.served[0]?.cut).toBe(true);
  });

  it('tells the official SDK not to retry it (each attempt is charged its worst case): one SDK call, one upstream request', async () => {
    // Before, the 502 carried no x-should-retry and the openai SDK sent the request twice more.
    upstream.served.length = 0;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * MB) });
      await writeMany(res, served, 100 * MB, 'x'.repeat(64 * 1024));
      res.end();
    };
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 2 });
    const err = (await client.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_response_too_large');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(upstream.served).toHaveLength(1);
  });

  it('reads only the first KB of an upstream error body', async () => {
    upstream.served.length = 0;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      await writeMany(res, served, 200 * MB, `{"error":{"message":"${'e'.repeat(64 * 1024)}"}}`);
      res.end();
    };
    // One target, so the 500 comes back to the client (after the route's retry).
    const res = await ask('cached', false);
    expect(res.status).toBe(502);
    await res.text();
    await expect.poll(() => upstream.served.length > 0 && upstream.served.every((s) => s.cut)).toBe(true);
    for (const s of upstream.served) expect(s.written).toBeLessThan(50 * MB);
  });

  it('ends a started stream with an error event when one event passes limits.maxStreamEventBytes, and does not cache it', async () => {
    upstream.served.length = 0;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('first'));
      res.write('data: {"pad":"');
      await writeMany(res, served, 200 * MB, 'y'.repeat(16 * 1024));
      res.end('"}\n\ndata: [DONE]\n\n');
    };
    const res = await ask('cached', true, 'big event');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"content":"first"');
    expect(text).toContain('stream event exceeds the route');
    expect(text).not.toContain('[DONE]');
    await expect.poll(() => upstream.served[0]?.cut).toBe(true);
    expect(upstream.served[0]?.written).toBeLessThan(50 * MB);
    // Never cached: the same request goes upstream again.
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${chunk('fine')}data: [DONE]\n\n`);
    };
    const again = await ask('cached', true, 'big event');
    expect(again.headers.get('x-tollgate-cache')).toBe('miss');
    expect(await again.text()).toContain('"content":"fine"');
  });

  it('answers 502 upstream_response_too_large when the first event is already too large, and charges the attempt its worst case', async () => {
    upstream.served.length = 0;
    spare.served.length = 0;
    const before = gateway.usage.records.length;
    upstream.handler = async (_req, res, served) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"pad":"');
      await writeMany(res, served, 200 * MB, 'z'.repeat(16 * 1024));
      res.end('"}\n\n');
    };
    const res = await ask('limited', true);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_response_too_large');
    // The attempt let go of the upstream (it used to keep the connection, suspended, until the upstream quit).
    await expect.poll(() => upstream.served[0]?.cut).toBe(true);
    expect(upstream.served).toHaveLength(1);
    expect(spare.served).toHaveLength(0);
    // The upstream produced (and billed) the event: charged like a whole answer too large to read
    // (prompt estimate + output cap). Before, nothing was charged.
    await expect.poll(() => gateway.usage.records.length).toBe(before + 1);
    const rec = gateway.usage.records[before];
    expect(rec).toMatchObject({ routeId: 'default/limited', estimated: true, estimateReason: 'lost_attempt' });
    expect(rec?.inputTokens).toBeGreaterThan(0);
    expect(rec?.outputTokens).toBeGreaterThan(0);
  });
});

const answer = (content: string): string =>
  JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });

describe('upstream JSON shape limits', () => {
  it('refuses 8 MiB of `{},` before parsing it: 502, no retry, no fallback, and another route is served meanwhile', async () => {
    upstream.served.length = 0;
    spare.served.length = 0;
    const hostile = `{"id":"x","object":"chat.completion","choices":[${'{},'.repeat((8 * MB) / 3)}{}]}`;
    upstream.handler = async (_req, res, served) => {
      served.written = hostile.length;
      res.writeHead(200, { 'content-type': 'application/json' }).end(hostile);
    };
    spare.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(answer('from spare'));
    const order: string[] = [];
    const wide = ask('wide', false).then(async (r) => {
      order.push('wide');
      return { status: r.status, body: (await r.json()) as { error: { code: string; message: string } } };
    });
    // Sent once the hostile answer is on its way; answered whether or not the gateway is still busy with it.
    await expect.poll(() => upstream.served[0]?.written ?? 0).toBeGreaterThan(MB);
    const other = ask('other', false).then(async (r) => {
      order.push('other');
      return { status: r.status, content: ((await r.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content };
    });
    const [refused, served] = await Promise.all([wide, other]);
    // Before, the 2.8 million empty objects were parsed (the event loop held for seconds) and relayed as a 200.
    expect(refused.status).toBe(502);
    expect(refused.body.error.code).toBe('upstream_response_too_large');
    expect(refused.body.error.message).toContain('limits.maxResponseJsonElements');
    expect(served).toEqual({ status: 200, content: 'from spare' });
    expect(order.sort()).toEqual(['other', 'wide']);
    // Follows from the request, not the target: the spare target behind `wide` was never tried.
    expect(upstream.served).toHaveLength(1);
    expect(spare.served).toHaveLength(1);
  });

  it('refuses an answer nested deeper than 128 levels', async () => {
    upstream.handler = async (_req, res) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(`{"id":"x","object":"chat.completion","choices":[],"x":${'['.repeat(200)}${']'.repeat(200)}}`);
    const res = await ask('narrow', false, 'deep');
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('deeper than 128 levels');
  });

  it('ends a started stream with an error event when one event holds more elements than the route allows', async () => {
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${chunk('first')}data: {"choices":[${Array(2000).fill('{}').join(',')}]}\n\n${chunk('never')}data: [DONE]\n\n`);
    };
    const res = await ask('narrow', true, 'wide event');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"content":"first"');
    expect(text).toContain('more than 1000 JSON objects, arrays and members');
    expect(text).not.toContain('never');
    expect(text).not.toContain('[DONE]');
  });
});

/**
 * A stream that sends one chunk, then `drip` 100 times 50 ms apart (far longer than the route's
 * 300 ms idle timeout if a drip counted as life), then `tail`. The gateway must give up on it.
 */
async function expectIdleTimeout(start: string, drip: string, tail: string): Promise<void> {
  upstream.served.length = 0;
  upstream.handler = async (_req, res, served) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('first') + start);
    for (let i = 0; i < 100 && !res.destroyed; i++) {
      res.write(drip);
      served.written++;
      await new Promise((r) => setTimeout(r, 50));
    }
    res.end(tail);
  };
  const text = await (await ask('limited', true)).text();
  expect(text).toContain('no chunk for 300 ms');
  await expect.poll(() => upstream.served[0]?.cut).toBe(true);
  expect(upstream.served[0]?.written).toBeLessThan(100);
}

describe('stream idle timeout', () => {
  it('is not kept alive by bytes that never complete an event', async () => {
    await expectIdleTimeout('data: {"slow":"', '.', '"}\n\ndata: [DONE]\n\n');
  });

  it('is not kept alive by events that carry no chunk', async () => {
    await expectIdleTimeout('', 'data: 0\n\n', 'data: [DONE]\n\n');
  });
});

describe('an upstream that answers an error with status 200', () => {
  const errorAnswer = JSON.stringify({ error: { message: 'rate limited, key sk-up was used', type: 'rate_limit_error', code: null } });
  const okAnswer = JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'from spare' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });

  it('is a failure: the next target serves, and with none left the client gets a 502 without the Provider key', async () => {
    upstream.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(errorAnswer);
    spare.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(okAnswer);
    const failedOver = await ask('limited', false);
    expect(failedOver.status).toBe(200);
    expect(((await failedOver.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe('from spare');

    const alone = await ask('cached', false, 'error-200');
    expect(alone.status).toBe(502);
    const text = await alone.text();
    expect(JSON.parse(text)).toMatchObject({ error: { type: 'server_error' } });
    expect(text).not.toContain('sk-up');
  });

  it('is never cached: the next identical request goes upstream again', async () => {
    upstream.served.length = 0;
    upstream.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(errorAnswer);
    const first = await ask('cached', false, 'error-200-cache');
    const second = await ask('cached', false, 'error-200-cache');
    expect([first.status, second.status]).toEqual([502, 502]);
    expect(second.headers.get('x-tollgate-cache')).not.toBe('hit');
    expect(upstream.served.length).toBeGreaterThanOrEqual(2);
  });
});

describe('an upstream error answer compressed against the request', () => {
  it('is decoded for its message (bounded: a bomb is said to be one), never relayed as compressed bytes', async () => {
    const error = JSON.stringify({ error: { message: 'the model is overloaded', type: 'server_error', code: null } });
    upstream.handler = async (_req, res) => void res.writeHead(500, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(error));
    const res = await ask('cached', false, 'gzip-error');
    expect(res.status).toBe(502);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('the model is overloaded');
    expect(message).not.toContain('\u001f');

    const bomb = gzipSync(Buffer.alloc(50 * MB, 'a'));
    upstream.handler = async (_req, res) => void res.writeHead(500, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
    const bombed = await ask('cached', false, 'gzip-bomb');
    expect(bombed.status).toBe(502);
    expect(((await bombed.json()) as { error: { message: string } }).error.message).toContain('gzip-compressed and could not be decoded within');
  });
});

