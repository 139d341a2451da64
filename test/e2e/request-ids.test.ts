import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { accessLogLine } from '../support/access-log-line.js';

// OpenAI and Anthropic name the request on every answer, errors included, and their SDKs show it
// as err.requestID: the id a user quotes to find the access-log line of a failure.

let upstream: OpenAiUpstream;
let gateway: TestGateway;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  gateway = await startTestGateway({ 'providers.yaml': openAiProvider('up', upstream.baseUrl), 'routes.yaml': routeManifest('chat', [['up', 'm']]) }, { logger: pino({ level: 'info' }, sink) });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const logLine = (requestId: string): Promise<Record<string, unknown>> => accessLogLine(logLines, requestId);

describe('error answers carry the request id', () => {
  it('a 502 on /v1/chat/completions: x-request-id, the SDK requestID, the access log', async () => {
    upstream.script({ kind: 'error', status: 500 });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const err = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(502);
    expect(err.requestID).toMatch(/^[0-9a-f-]{36}$/);
    expect((await logLine(err.requestID!)).status).toBe(502);
    upstream.script();
  });

  it('a 404 on /v1/messages (no such model): x-request-id and request-id, the SDK requestID, the access log', async () => {
    const client = new Anthropic({ apiKey: 'k', baseURL: gateway.url, maxRetries: 0 });
    const err = (await client.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err.status).toBe(404);
    expect(err.requestID).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.headers?.get('x-request-id')).toBe(err.requestID);
    expect((await logLine(err.requestID!)).status).toBe(404);
  });

  it('a 404 for an unknown path, and a client-chosen id is the one answered', async () => {
    const res = await fetch(`${gateway.url}/v1/nothing-here`, { method: 'POST', headers: { 'x-request-id': 'client-chosen-1' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('client-chosen-1');
    expect((await logLine('client-chosen-1')).status).toBe(404);
  });

  it('a served answer keeps its one id', async () => {
    upstream.script({ kind: 'ok', content: 'hi' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await logLine(id!)).status).toBe(200);
  });

  // The pipeline's answers name the request in their own headers, the rest get them from the
  // public server: each must carry it exactly once (fetch joins a repeated header with ", ").
  it('every kind of served answer names the request once: streams, /v1/messages, model lists, count_tokens', async () => {
    const uuid = /^[0-9a-f-]{36}$/;
    upstream.script({ kind: 'auto', chunks: 2 });
    const stream = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    await stream.text();
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-request-id')).toMatch(uuid);
    expect((await logLine(stream.headers.get('x-request-id')!)).status).toBe(200);
    const messages = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }) });
    await messages.text();
    expect(messages.status).toBe(200);
    expect(messages.headers.get('x-request-id')).toMatch(uuid);
    expect(messages.headers.get('request-id')).toBe(messages.headers.get('x-request-id'));

    const models = await fetch(`${gateway.url}/v1/models`);
    await models.text();
    expect(models.status).toBe(200);
    expect(models.headers.get('x-request-id')).toMatch(uuid);

    const counted = await fetch(`${gateway.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'client-chosen-2' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    await counted.text();
    expect(counted.status).toBe(200);
    expect(counted.headers.get('x-request-id')).toBe('client-chosen-2');
    expect(counted.headers.get('request-id')).toBe('client-chosen-2');
    upstream.script();
  });

  it("a served answer, whole or streamed, relays the upstream's own request id as x-upstream-request-id and logs it", async () => {
    // Before, the upstream's id was dropped: nothing tied a gateway request to the provider's.
    upstream.script({ kind: 'ok', content: 'hi' });
    const whole = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    await whole.text();
    expect(whole.headers.get('x-upstream-request-id')).toBe('req_upstream');
    expect(await logLine(whole.headers.get('x-request-id')!)).toMatchObject({ status: 200, upstreamRequestId: 'req_upstream' });
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0 });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    for await (const _ of stream);
    expect(response.headers.get('x-upstream-request-id')).toBe('req_upstream_stream');
    expect(await logLine(response.headers.get('x-request-id')!)).toMatchObject({ status: 200, upstreamRequestId: 'req_upstream_stream' });
    upstream.script();
  });

  it('a refusal of a cross-site request names the request', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, body: '{}' });
    await res.text();
    expect(res.status).toBe(403);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await logLine(id!)).status).toBe(403);
  });
});
