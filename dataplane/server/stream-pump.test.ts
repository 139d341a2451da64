import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { collected } from '../../test/support/collectable.js';
import { StreamMeter } from '../metering/stream-meter.js';
import type { StreamStep } from '../core/canonical.js';
import type { StreamOutcome } from '../pipeline/request-context.js';
import { pumpStream } from './stream-pump.js';

const CHUNKS = 60;
const filler = 'x'.repeat(64 * 1024);

async function* steps(chunks: number): AsyncGenerator<StreamStep, void, undefined> {
  for (let i = 0; i < chunks; i++) yield { chunks: [{ choices: [{ index: 0, delta: { content: filler } }] }] };
  yield { chunks: [], done: true };
}

/** Only what pumpStream reads of a routed stream, of `chunks` chunks of 64 KiB. */
function outcome(chunks = CHUNKS): StreamOutcome {
  const partial: Pick<StreamOutcome, 'first' | 'rest' | 'abort' | 'release'> = { first: [], rest: steps(chunks), abort: () => undefined, release: () => undefined };
  return partial as StreamOutcome;
}

const ENCODER = {
  chunk: (c: object) => `data: ${JSON.stringify(c)}\n\n`,
  end: () => 'data: [DONE]\n\n',
  failure: (f: Error) => `data: ${f.message}\n\n`,
  cut: (r: string) => `data: ${r}\n\n`,
};

/** Reads the response a little at a time, so that the pump waits for the socket to drain again and again. */
function readSlowly(res: IncomingMessage): Promise<number> {
  return new Promise((resolve) => {
    let bytes = 0;
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      res.pause();
      setTimeout(() => res.resume(), 1);
    });
    res.on('end', () => resolve(bytes));
  });
}

/** A server whose one handler is `handle`, and one GET to it whose response `use` reads. */
async function withServer(handle: (res: ServerResponse) => void, use: (res: IncomingMessage) => Promise<void>): Promise<void> {
  const server = createServer((_req, res) => handle(res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    await use(await new Promise<IncomingMessage>((resolve) => get({ host: '127.0.0.1', port, path: '/' }, resolve)));
  } finally {
    server.close();
  }
}

describe('pumpStream backpressure', () => {
  it('leaves no close/error/drain listeners behind after many waits on a slow reader', async () => {
    let waits = 0;
    let listeners: Record<string, number> = {};
    let before: Record<string, number> = {};
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const server = createServer((_req, res) => {
      const write = res.write.bind(res) as (chunk: string) => boolean;
      res.write = ((chunk: string) => {
        const ok = write(chunk);
        if (!ok) waits++;
        return ok;
      }) as typeof res.write;
      before = { close: res.listenerCount('close'), error: res.listenerCount('error'), drain: res.listenerCount('drain') };
      const pumped = pumpStream(res as Parameters<typeof pumpStream>[0], outcome(), {}, 60_000, new StreamMeter(1), ENCODER);
      void pumped.then(() => {
        listeners = { close: res.listenerCount('close'), error: res.listenerCount('error'), drain: res.listenerCount('drain') };
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<IncomingMessage>((resolve) => get({ host: '127.0.0.1', port, path: '/' }, resolve));
      const bytes = await readSlowly(res);
      expect(bytes).toBeGreaterThan(CHUNKS * filler.length);
      expect(waits).toBeGreaterThan(20);
      expect(listeners).toEqual(before);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      server.close();
    }
  });
});

describe('pumpStream and a client that stops reading', () => {
  it('cuts the client after the idle timeout without a drain, so the stream ends and is metered', async () => {
    let pumped: Promise<void> | undefined;
    let response: ServerResponse | undefined;
    const meter = new StreamMeter(1);
    const server = createServer((_req, res) => {
      response = res;
      // 128 MiB: more than loopback's socket buffers ever take (they grow to several MiB), so the
      // stream can only end by being cut. 60 chunks (3.75 MiB) sometimes fit whole, and it ended normally.
      pumped = pumpStream(res as Parameters<typeof pumpStream>[0], outcome(2048), {}, 300, meter, ENCODER);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<IncomingMessage>((resolve) => get({ host: '127.0.0.1', port, path: '/' }, resolve));
      // Reads nothing: the socket's buffers fill, and the pump waits for a drain that never comes.
      res.pause();
      const ended = await Promise.race([pumped?.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))]);
      expect(ended).toBe('ended');
      expect(response?.destroyed).toBe(true);
      expect(meter.truncated).toBe(true);
      res.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('pumpStream and reasoning the client does not see', () => {
  it('meters it as output, and it keeps the stream from counting as silent', async () => {
    const meter = new StreamMeter(1);
    async function* reasoning(): AsyncGenerator<StreamStep, void, undefined> {
      // Each step comes after more than half the idle timeout: only reasoning in between. Wide
      // margins (1.1 s of 2 s): a 120 ms timer of 200 ms fired past the idle timeout on a loaded machine.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1_100));
        yield { chunks: [], hiddenOutputBytes: 4_000 };
      }
      yield { chunks: [{ choices: [{ index: 0, delta: { content: 'done' } }] }], failure: { kind: 'ServerError', status: 200, message: 'cut' } };
    }
    const aborted: Error[] = [];
    const partial: Pick<StreamOutcome, 'first' | 'rest' | 'abort' | 'release'> = { first: [], rest: reasoning(), abort: (reason) => void aborted.push(reason), release: () => undefined };
    let pumped: Promise<void> | undefined;
    await withServer(
      (res) => void (pumped = pumpStream(res as Parameters<typeof pumpStream>[0], partial as StreamOutcome, {}, 2_000, meter, ENCODER)),
      async (res) => {
        let body = '';
        for await (const c of res) body += String(c);
        expect(body).toContain('done');
      },
    );
    await pumped;
    expect(aborted).toEqual([]);
    expect(meter.result().usage.outputTokens).toBe(3_001);
  });
});

describe('pumpStream first bytes', () => {
  it('sends the headers together with the first chunk, in one socket write (not a header-only packet first)', async () => {
    // Each call of a socket's _write/_writev is one write to the connection (one packet on loopback).
    const writes: string[] = [];
    await withServer(
      (res) => {
        const socket = res.socket as Socket;
        const write = socket._write.bind(socket);
        const writev = socket._writev?.bind(socket);
        socket._write = (chunk: unknown, encoding, callback) => {
          writes.push(String(chunk));
          write(chunk, encoding, callback);
        };
        socket._writev = (chunks, callback) => {
          writes.push(chunks.map((c) => String(c.chunk)).join(''));
          writev?.(chunks, callback);
        };
        const first: StreamStep[] = [{ chunks: [{ choices: [{ index: 0, delta: { content: 'first-token' } }] }] }];
        async function* rest(): AsyncGenerator<StreamStep, void, undefined> {
          yield { chunks: [], done: true };
        }
        const partial: Pick<StreamOutcome, 'first' | 'rest' | 'abort' | 'release'> = { first, rest: rest(), abort: () => undefined, release: () => undefined };
        void pumpStream(res as Parameters<typeof pumpStream>[0], partial as StreamOutcome, {}, 60_000, new StreamMeter(1), ENCODER);
      },
      async (res) => {
        let body = '';
        for await (const c of res) body += String(c);
        expect(body).toContain('first-token');
        expect(writes[0]).toMatch(/^HTTP\/1\.1 200/);
        expect(writes[0]).toContain('first-token');
      },
    );
  });
});

describe('pumpStream while it waits for the next step', () => {
  it('keeps neither the first step nor the last one written (a held stream would keep them until it ends)', async () => {
    const refs: WeakRef<object>[] = [];
    const step = (content: string): StreamStep => {
      const s: StreamStep = { chunks: [{ choices: [{ index: 0, delta: { content } }] }], raw: [`{"content":"${content}"}`] };
      refs.push(new WeakRef(s), new WeakRef(s.chunks));
      return s;
    };
    // Hands out one step, then waits until told to end; keeps nothing it handed out.
    const queue: StreamStep[] = [step('second')];
    let end: (() => void) | undefined;
    const rest = {
      next: async (): Promise<IteratorResult<StreamStep, void>> => {
        const value = queue.shift();
        if (value !== undefined) return { done: false, value };
        await new Promise<void>((resolve) => {
          end = resolve;
        });
        return { done: false, value: { chunks: [], done: true } };
      },
      return: async (): Promise<IteratorResult<StreamStep, void>> => ({ done: true, value: undefined }),
    };
    await withServer(
      (res) => {
        const partial = { first: [step('first')], rest, abort: () => undefined, release: () => undefined };
        void pumpStream(res as Parameters<typeof pumpStream>[0], partial as unknown as StreamOutcome, {}, 60_000, new StreamMeter(1), ENCODER);
      },
      async (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        await expect.poll(() => body.includes('second') && end !== undefined).toBe(true);
        expect(await collected(refs)).toEqual(refs.map(() => true));
        end?.();
        await once(res, 'end');
        expect(body).toContain('[DONE]');
      },
    );
  });
});
