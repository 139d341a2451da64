import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routeManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { accessLogLine } from '../support/access-log-line.js';

/** primary first, then secondary. */
const FAILOVER: [string, string][] = [['primary', 'upstream-a'], ['secondary', 'upstream-b']];

// What a first-time user hit (issue 15, item 7): headers on refusals, honest access-log lines,
// and error messages written for people.

let primary: OpenAiUpstream;
let secondary: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;
const logLines: Record<string, unknown>[] = [];

// chat-hang: chat with a short attempt timeout, only for the hangs. With 300 ms on chat itself, a
// loaded machine that stalled the in-process emulator's answer turned a 500 or 429 into a timeout.
const ROUTES = `${routeManifest('chat', FAILOVER, '{ attempts: 1 }', '{ total: 5s, streamIdle: 2s }')}${routeManifest('chat-hang', FAILOVER, '{ attempts: 1 }', '{ attempt: 300ms, total: 5s, streamIdle: 2s }')}`;

beforeAll(async () => {
  primary = await startOpenAiUpstream();
  secondary = await startOpenAiUpstream();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  gateway = await startTestGateway(
    { 'providers.yaml': `${openAiProvider('primary', primary.baseUrl)}---\n${openAiProvider('secondary', secondary.baseUrl)}`, 'routes.yaml': ROUTES },
    { logger: pino({ level: 'info' }, sink) },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await primary?.close();
  await secondary?.close();
});

afterEach(() => {
  primary.script();
  secondary.script();
});

const chat = (extra: Record<string, unknown> = {}) => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra });
const failure = async (p: Promise<unknown>) => (await p.catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;

const logLine = (requestId: string): Promise<Record<string, unknown>> => accessLogLine(logLines, requestId);

describe('refusals say which route and provider answered', () => {
  it.each([
    ['502', { kind: 'error', status: 500 } as const, 502, 'chat'],
    ['504', { kind: 'hang' } as const, 504, 'chat-hang'],
    ['429', { kind: 'error', status: 429, headers: { 'retry-after': '2' } } as const, 429, 'chat'],
  ])('%s carries x-tollgate-route, x-tollgate-provider and the attempts', async (_name, behaviour, status, model) => {
    primary.script(behaviour);
    secondary.script(behaviour);
    const err = await failure(chat({ model }));
    expect(err.status).toBe(status);
    expect(err.headers?.get('x-tollgate-route')).toBe(`default/${model}`);
    expect(err.headers?.get('x-tollgate-provider')).toBe('default/secondary');
    expect(err.headers?.get('x-tollgate-attempts')).toBe('2');
  });

});

describe('errors are written for people', () => {
  it('a connection reset names the provider and says what happened, without undici codes', async () => {
    primary.script({ kind: 'reset' });
    secondary.script({ kind: 'reset' });
    const err = await failure(chat());
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/default\/primary \(upstream-a\): the upstream closed the connection before answering/);
    expect(err.message).toMatch(/default\/secondary \(upstream-b\): the upstream closed the connection before answering/);
    expect(err.message).not.toMatch(/UND_ERR|other side closed|ConnectionError/);
  });

  it('a Provider at a link-local (cloud instance-metadata) address is never called, and the error says why', async () => {
    // Whoever may write a Provider could otherwise read the node's cloud credentials through the
    // gateway. fe80::1 without a zone: were the guard gone, connect() would fail locally (EINVAL)
    // and the message differ; no packet leaves either way.
    await gateway.write('metadata.yaml', `${openAiProvider('metadata', '"http://[fe80::1]:9/v1"')}---\n${routeManifest('chat-metadata', [['metadata', 'any']])}`);
    const err = await failure(client.chat.completions.create({ model: 'chat-metadata', messages: [{ role: 'user', content: 'hi' }] }));
    expect(err.status).toBe(502);
    expect(err.message).toContain('default/metadata (any): the upstream was not called: its address is link-local or a cloud instance-metadata service');
  });

  it.each([
    ['{"messages":[{"role":"user","content":"x"}]}', 'model', '`model` is required and must be a string'],
    ['{"model":3,"messages":[{"role":"user","content":"x"}]}', 'model', '`model` must be a string, not a number'],
    ['{"model":"chat","messages":[]}', 'messages', '`messages` must not be empty'],
    ['{"model":"chat","messages":[{"content":"x"}]}', 'messages.0.role', '`messages.0.role` is required and must be a string'],
    ['{"model":"chat","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}', 'max_tokens', '`max_tokens` must be an integer, not a number'],
    ['{"model":"chat","messages":[{"role":"user","content":"x"}],"stream":"yes"}', 'stream', '`stream` must be true or false, not a string'],
    ['{"model":"chat","messages":[{"role":"user","content":"x"}],"max_tokens":1e309}', 'max_tokens', '`max_tokens` must be a number, not a number too large for JSON to hold (it reads as infinite)'],
  ])('%s → %s', async (body, param, message) => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { message: string; param: string | null; type: string } };
    expect(json.error).toEqual({ message, param, type: 'invalid_request_error', code: 'invalid_request' });
  });
});

describe('the access log tells what the client got', () => {
  it('a stream the client aborted is logged completed: false', async () => {
    primary.script({ kind: 'stream', chunks: 1000, intervalMs: 10 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { signal: controller.signal, headers: { 'x-request-id': 'edges-aborted-stream' } },
    );
    let n = 0;
    try {
      for await (const _ of stream) if (++n === 3) controller.abort();
    } catch {
      // the abort surfaces as an error or as the end of the iteration
    }
    const line = await logLine('edges-aborted-stream');
    expect(line).toMatchObject({ status: 200, completed: false, stream: true });
  });

  it('a non-streaming request whose client left before the answer is logged 499, not 200', async () => {
    primary.script({ kind: 'ok', delayMs: 250 });
    const controller = new AbortController();
    const pending = client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal, headers: { 'x-request-id': 'edges-aborted-json' } });
    setTimeout(() => controller.abort(), 50);
    await pending.catch(() => undefined);
    const line = await logLine('edges-aborted-json');
    expect(line).toMatchObject({ status: 499, completed: false });
  });

  it('a served request is logged 200 and completed', async () => {
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'edges-served' } });
    expect(await logLine('edges-served')).toMatchObject({ status: 200, completed: true });
  });
});
