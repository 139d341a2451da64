import { once } from 'node:events';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StreamMeter } from '../metering/stream-meter.js';
import type { StreamStep } from '../core/canonical.js';
import type { StreamOutcome } from '../pipeline/request-context.js';
import { pumpStream } from './stream-pump.js';

const CHUNKS = 60;
const filler = 'x'.repeat(64 * 1024);

async function* steps(): AsyncGenerator<StreamStep, void, undefined> {
  for (let i = 0; i < CHUNKS; i++) yield { chunks: [{ choices: [{ index: 0, delta: { content: filler } }] }] };
  yield { chunks: [], done: true };
}

/** Only what pumpStream reads of a routed stream. */
function outcome(): StreamOutcome {
  const partial: Pick<StreamOutcome, 'first' | 'rest' | 'abort' | 'release'> = { first: [], rest: steps(), abort: () => undefined, release: () => undefined };
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

describe('pumpStream first bytes', () => {
  it('sends the headers together with the first chunk, in one socket write (not a header-only packet first)', async () => {
    // Each call of a socket's _write/_writev is one write to the connection (one packet on loopback).
    const writes: string[] = [];
    const server = createServer((_req, res) => {
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
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<IncomingMessage>((resolve) => get({ host: '127.0.0.1', port, path: '/' }, resolve));
      let body = '';
      for await (const c of res) body += String(c);
      expect(body).toContain('first-token');
      expect(writes[0]).toMatch(/^HTTP\/1\.1 200/);
      expect(writes[0]).toContain('first-token');
    } finally {
      server.close();
    }
  });
});
