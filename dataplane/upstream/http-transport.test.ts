import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttemptSignal } from './attempt-signal.js';
import { HttpTransport, MAX_AGENTS } from './http-transport.js';
import { RESERVE_FROM_BYTES } from './read-capped.js';
import { ByteBudget } from '../core/byte-budget.js';

/** A loopback upstream answering with `answer`; notes the connection each request came on. */
async function upstream(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((req, res) => {
    sockets.push(req.socket);
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`, sockets };
}

const text = (part: Uint8Array | undefined): string => Buffer.from(part ?? new Uint8Array()).toString('utf8');

describe('HttpTransport: an answer read as it arrives', () => {
  let server: Server | undefined;
  const transport = new HttpTransport();
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await transport.close();
  });
  const send = (url: string) => transport.send({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, { signal: new AttemptSignal(), connectTimeoutMs: 5_000 });

  it('hands over each chunk as it arrives, in order, then the end; a slow reader gets every byte (the upstream paused and resumed)', async () => {
    const piece = 'x'.repeat(16 * 1024);
    let next: (() => void) | undefined;
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('first');
      next = () => {
        // 1 MiB more than the reader takes at once: the answer queues past its high-water mark.
        for (let i = 0; i < 64; i++) res.write(piece);
        res.end('last');
      };
    });
    server = up.server;
    const res = await send(up.url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const reader = res.body[Symbol.asyncIterator]();
    expect(text((await reader.next()).value)).toBe('first');
    next?.();
    let rest = '';
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const r = await reader.next();
      if (r.done === true) break;
      rest += text(r.value);
    }
    expect(rest).toBe(`${piece.repeat(64)}last`);
  });

  it('a reader that leaves before the end drops the connection; after discard() it is kept for the next request', async () => {
    const closed: boolean[] = [];
    const answers: ServerResponse[] = [];
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.on('close', () => closed.push(res.writableFinished));
      // The rest follows once the reader has decided (never, for the one that leaves).
      answers.push(res);
    });
    server = up.server;

    const left = await send(up.url);
    const leftReader = left.body[Symbol.asyncIterator]();
    await leftReader.next();
    await leftReader.return?.();
    await vi.waitFor(() => expect(closed).toEqual([false]), { timeout: 10_000 });

    const kept = await send(up.url);
    const keptReader = kept.body[Symbol.asyncIterator]();
    await keptReader.next();
    kept.discard();
    await keptReader.return?.();
    answers[1]?.end('data: [DONE]\n\n');
    await vi.waitFor(() => expect(closed).toEqual([false, true]), { timeout: 10_000 });
    // The next request goes on the connection the discarded answer kept.
    const after = await send(up.url);
    answers[2]?.end();
    for await (const part of after.body) expect(part.byteLength).toBeGreaterThan(0);
    expect(up.sockets[0]?.destroyed).toBe(true);
    expect(up.sockets[2]).toBe(up.sockets[1]);
    expect(up.sockets[1]?.destroyed).toBe(false);
  });

  it('an upstream that breaks off mid-stream fails the next read', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n', () => setImmediate(() => res.socket?.destroy()));
    });
    server = up.server;
    const res = await send(up.url);
    const reader = res.body[Symbol.asyncIterator]();
    expect(text((await reader.next()).value)).toBe('data: 1\n\n');
    await expect(reader.next()).rejects.toThrow();
  });

  it('stops with the signal, with its reason, once the answer has started', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    });
    server = up.server;
    const signal = new AttemptSignal();
    const res = await transport.send({ url: up.url, method: 'POST', headers: {}, body: '{}' }, { signal, connectTimeoutMs: 5_000 });
    const reader = res.body[Symbol.asyncIterator]();
    await reader.next();
    const reason = new Error('stream idle');
    const pending = reader.next();
    signal.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('stops a request in flight, before any answer, with the reason it was given', async () => {
    server = createServer(() => undefined); // never answers
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const signal = new AttemptSignal();
    const reason = new Error('attempt timed out');
    const sent = transport.send({ url: `http://127.0.0.1:${port}/`, method: 'POST', headers: {}, body: '{}' }, { signal, connectTimeoutMs: 5_000 });
    setImmediate(() => signal.abort(reason));
    await expect(sent).rejects.toBe(reason);
  });
});

describe('HttpTransport: one agent per connect timeout', () => {
  it('keeps at most MAX_AGENTS, the most recently used; a request in flight on a closed one still gets its answer', async () => {
    let release: (() => void) | undefined;
    const up = await upstream((req, res) => {
      const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (req.url?.endsWith('?slow') === true) release = answer;
      else answer();
    });
    const transport = new HttpTransport();
    const whole = (url: string, connectTimeoutMs: number) =>
      transport.sendForWhole({ url, method: 'POST', headers: {}, body: '{}' }, { signal: new AttemptSignal(), connectTimeoutMs, limitBytes: 1024, errorLimitBytes: 1024 });
    try {
      // A Provider's connect timeout is any duration a tenant writes: each value used to keep an Agent for good.
      const slow = whole(`${up.url}?slow`, 1000);
      await vi.waitFor(() => expect(release).toBeDefined());
      for (let ms = 1001; ms < 1001 + MAX_AGENTS + 8; ms++) expect((await whole(up.url, ms)).status).toBe(200);
      expect(transport.agentTimeouts).toHaveLength(MAX_AGENTS);
      expect(transport.agentTimeouts).not.toContain(1000);
      release?.();
      expect((await slow).status).toBe(200);
      // Used again, an evicted timeout gets a new agent, the most recent.
      expect((await whole(up.url, 1001)).status).toBe(200);
      expect(transport.agentTimeouts.at(-1)).toBe(1001);
      expect(transport.agentTimeouts).toHaveLength(MAX_AGENTS);
    } finally {
      await transport.close();
      up.server.closeAllConnections();
      await new Promise((resolve) => up.server.close(resolve));
    }
  });
});

describe('HttpTransport: the process-wide budget for large answers read whole', () => {
  let server: Server | undefined;
  const transport = new HttpTransport();
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await transport.close();
  });
  const whole = (url: string, budget: ByteBudget) =>
    transport.sendForWhole({ url, method: 'POST', headers: {}, body: '{}' }, { signal: new AttemptSignal(), connectTimeoutMs: 5_000, limitBytes: 8 << 20, errorLimitBytes: 1024, budget });
  const BIG = RESERVE_FROM_BYTES + 100_000;

  it('an answer below RESERVE_FROM_BYTES takes nothing and holds nothing (the ordinary request pays nothing)', async () => {
    const budget = new ByteBudget(1 << 20);
    const up = await upstream((_req, res) => void res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)));
    server = up.server;
    const res = await whole(up.url, budget);
    expect(res.body.complete).toBe(true);
    expect(res.body.held).toBeUndefined();
    expect(Object.keys(res.body).sort()).toEqual(['complete', 'text']);
    expect(budget.inUse).toBe(0);
  });

  it('takes a large declared length before reading, refuses one with no room unread (busy), gives back once released', async () => {
    const budget = new ByteBudget(BIG + 50_000);
    const up = await upstream((_req, res) => void res.writeHead(200, { 'content-length': String(BIG) }).end('x'.repeat(BIG)));
    server = up.server;
    const first = await whole(up.url, budget);
    expect(first.body.complete).toBe(true);
    expect(first.body.text()).toHaveLength(BIG);
    expect(budget.inUse).toBe(BIG);
    // Before, nothing bounded how many of these the process read at once (three 60 MiB answers: 1 GiB).
    const second = await whole(up.url, budget);
    expect(second.body).toMatchObject({ complete: false, noRoom: 'busy' });
    expect(second.body.held).toBeUndefined();
    expect(budget.inUse).toBe(BIG);
    first.body.held?.();
    first.body.held?.();
    expect(budget.inUse).toBe(0);
    const third = await whole(up.url, budget);
    expect(third.body.complete).toBe(true);
    third.body.held?.();
    expect(budget.inUse).toBe(0);
  });

  it('takes a chunked answer once it grows past RESERVE_FROM_BYTES; one larger than the whole budget never fits; a broken read gives back what it took', async () => {
    const budget = new ByteBudget(BIG + 50_000);
    let answer = (res: ServerResponse): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('y'.repeat(BIG));
    };
    const up = await upstream((_req, res) => answer(res));
    server = up.server;
    const chunked = await whole(up.url, budget);
    expect(chunked.body.complete).toBe(true);
    expect(budget.inUse).toBe(BIG);
    chunked.body.held?.();
    expect(budget.inUse).toBe(0);
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('y'.repeat(BIG + 100_000));
    };
    expect((await whole(up.url, budget)).body).toMatchObject({ complete: false, noRoom: 'never' });
    expect(budget.inUse).toBe(0);
    // Cut off by the upstream past the threshold: the read fails, and nothing stays taken.
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('z'.repeat(RESERVE_FROM_BYTES + 4000), () => setTimeout(() => res.socket?.destroy(), 20));
    };
    await expect(whole(up.url, budget)).rejects.toThrow();
    expect(budget.inUse).toBe(0);
  });
});
