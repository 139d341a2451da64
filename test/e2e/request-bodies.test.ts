import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { ScriptedUpstream } from '../support/scripted-upstream.js';

const KiB = 1024;
const route = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: up }, model: m }]
  access: { anonymous: true }
`;
/** The same, closed to anonymous callers: the gateway then has no route an anonymous caller may use. */
const closedRoute = route.replace('access: { anonymous: true }', 'access: { namespaces: { from: All } }');
const okAnswer = JSON.stringify({
  id: 'x', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

let upstream: ScriptedUpstream;
let gateway: TestGateway;
beforeAll(async () => {
  upstream = new ScriptedUpstream();
  await upstream.start();
  upstream.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(okAnswer);
  gateway = await startTestGateway(
    { 'provider.yaml': openAiProvider('up', upstream.url), 'route.yaml': route },
    { auth: new Authenticator({}), bodyLimits: { maxBodyBytes: 64 * KiB, maxInflightBodyBytes: 128 * KiB, maxJsonElements: 2_000 }, headersTimeoutMs: 1_000 },
  );
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const chat = (extra: Record<string, unknown> = {}, content = 'hi'): string => JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }], ...extra });

function post(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);
}

async function errorOf(res: Response): Promise<{ code: string; type: string; message: string }> {
  return ((await res.json()) as { error: { code: string; type: string; message: string } }).error;
}

/** Nested arrays: `{"model":…,"extra":[[…]]}` is depth + 1 levels deep. */
const nested = (depth: number): string => chat({ extra: JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown });

describe('request bodies', () => {
  it('refuses a body that does not fit the bytes of bodies the process holds (503, retry-after) and gives them back', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    upstream.served.length = 0;
    upstream.handler = async (_req, res) => {
      await gate;
      res.writeHead(200, { 'content-type': 'application/json' }).end(okAnswer);
    };
    const big = chat({}, 'x'.repeat(60 * KiB));
    const held = [post(big), post(big)];
    // Both bodies are read and their requests wait upstream: 120 KiB of the 128 KiB are held.
    await expect.poll(() => upstream.served.length).toBe(2);
    expect(gateway.dataplane.bodyBudget.inUse).toBeGreaterThan(120 * KiB);
    const refused = await post(big);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await errorOf(refused)).toMatchObject({ code: 'request_bodies_over_capacity', type: 'service_unavailable_error' });
    release();
    for (const res of await Promise.all(held)) expect(res.status).toBe(200);
    await expect.poll(() => gateway.dataplane.bodyBudget.inUse).toBe(0);
    upstream.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(okAnswer);
    expect((await post(big)).status).toBe(200);
  });

  it('counts a chunked body as it arrives and refuses it past the limit (413)', async () => {
    const piece = new TextEncoder().encode(' '.repeat(8 * KiB));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 256 * KiB) return controller.close();
        sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error' });
    await expect.poll(() => gateway.dataplane.bodyBudget.inUse).toBe(0);
  });

  it('refuses JSON nested deeper than 64 levels with 400 before parsing it, and accepts 64', async () => {
    expect((await post(nested(63))).status).toBe(200);
    const tooDeep = await post(nested(64));
    expect(tooDeep.status).toBe(400);
    expect(await errorOf(tooDeep)).toMatchObject({ code: 'json_too_deep', type: 'invalid_request_error' });
    const hostile = await post(`{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(30_000)}${']'.repeat(30_000)}}`);
    expect(hostile.status).toBe(400);
    // Brackets inside strings are text, not nesting.
    expect((await post(chat({}, `${'['.repeat(500)} \\" {{{`))).status).toBe(200);
  });

  it('refuses a body with more objects, arrays and members than --max-json-elements with an OpenAI-style 400, and takes long token-id prompts', async () => {
    const wide = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, 0]));
    const refused = await post(chat({ metadata: wide }));
    expect(refused.status).toBe(400);
    expect(await errorOf(refused)).toEqual({
      code: 'json_too_many_elements',
      type: 'invalid_request_error',
      param: null,
      message: 'request body has more than 2000 objects, arrays and object members (the gateway\'s limit)',
    });
    // Numbers in arrays are not counted: 10,000 token ids are 2 elements and a few members.
    const tokens = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', prompt: Array.from({ length: 10_000 }, (_, i) => i % 50_000) }),
    });
    expect(tokens.status).not.toBe(400);
  });

  it('refuses a body declared in a charset other than UTF-8 (415) and accepts UTF-8 with or without a charset', async () => {
    const latin1 = await post(chat(), { 'content-type': 'application/json; charset=latin1' });
    expect(latin1.status).toBe(415);
    expect(await errorOf(latin1)).toMatchObject({ code: 'unsupported_charset', type: 'invalid_request_error' });
    expect((await post(chat(), { 'content-type': 'application/json; charset=UTF-8' })).status).toBe(200);
    expect((await post(chat(), { 'content-type': 'application/json' })).status).toBe(200);
  });

  it('refuses a caller no route could admit before reading the body: 401 while the body is still unsent', async () => {
    gateway.write('route.yaml', closedRoute);
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(60 * KiB), authorization: 'Bearer not-a-key' },
        });
        req.on('response', resolve);
        req.on('error', reject);
        // Only the start of the body: a gateway that reads the body first never answers.
        req.write('{"model":"chat",');
      });
      expect(res.statusCode).toBe(401);
      const body = await new Promise<string>((resolve) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      expect(JSON.parse(body)).toMatchObject({ error: { type: 'authentication_error' } });
      await expect.poll(() => gateway.dataplane.bodyBudget.inUse).toBe(0);
    } finally {
      gateway.write('route.yaml', route);
    }
  }, 10_000);

  describe('slow clients', () => {
    /** A raw connection to the gateway that sends `first`, and when it closes (and what it had received by then). */
    function rawConnection(first: string): { socket: Socket; closed: Promise<string> } {
      const url = new URL(gateway.url);
      const socket = connect(Number(url.port), url.hostname);
      let received = '';
      socket.on('data', (c: Buffer) => (received += c.toString()));
      socket.on('error', () => undefined);
      if (first !== '') socket.write(first);
      return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve(received))) };
    }

    it('closes a connection that sends nothing, or only part of its first request headers, after the headers timeout', async () => {
      const silent = rawConnection('');
      const partial = rawConnection('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: 1\r\n');
      // Closed by the gateway, not by this test: both promises resolve only when the server ends them.
      expect(await silent.closed).toBe('');
      expect(await partial.closed).toBe('');
    }, 10_000);

    it("closes a keep-alive connection whose next request's headers stall, after answering the first", async () => {
      const body = chat();
      const c = rawConnection(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      await expect.poll(() => c.socket.bytesRead > 0).toBe(true);
      c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n');
      const received = await c.closed;
      // The first request answered, the stalled second one refused with node's 408, then closed.
      expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 408']);
    }, 10_000);

    it('answers 408 to a request that declared a body and never sent it, and gives nothing to the body budget', async () => {
      const c = rawConnection('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n');
      const received = await c.closed;
      expect(received).toMatch(/^HTTP\/1\.1 408/);
      expect(received).toContain('request_body_timeout');
      expect(gateway.dataplane.bodyBudget.inUse).toBe(0);
    }, 25_000);
  });

  describe('requests from web pages', () => {
    it('refuses a cross-site page\'s request (403 cross_site_request) before routing it; API clients are served', async () => {
      const before = upstream.served.length;
      // A page's POST that needs no preflight: text/plain, marked by the browser.
      const page = await post(chat(), { 'content-type': 'text/plain', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(page.status).toBe(403);
      expect(await errorOf(page)).toMatchObject({ code: 'cross_site_request', type: 'permission_error' });
      const anthropic = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { origin: 'http://evil.example' }, body: '{}' });
      expect(anthropic.status).toBe(403);
      expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
      expect(upstream.served.length).toBe(before);
      expect((await post(chat())).status).toBe(200);
    });

    it('on loopback, refuses a Host that is not a loopback name (a DNS-rebinding page is same-origin to its browser)', async () => {
      const url = new URL(gateway.url);
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const body = chat();
        const req = httpRequest({ host: url.hostname, port: url.port, path: '/v1/chat/completions', method: 'POST', headers: { host: `evil.example:${url.port}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
        req.on('response', resolve);
        req.on('error', reject);
        req.end(body);
      });
      res.resume();
      expect(res.statusCode).toBe(403);
    });
  });
});
