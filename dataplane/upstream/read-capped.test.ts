import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { RESERVE_FROM_BYTES, readCapped, readWhole } from './read-capped.js';
import { ByteBudget } from '../core/byte-budget.js';
import type { UpstreamResponse } from './transport.js';

async function* parts(...texts: string[]): AsyncGenerator<Uint8Array> {
  for (const t of texts) yield Buffer.from(t);
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A loopback server answering every request with `chunks` written 5 ms apart (then kept open when `hang`). */
async function serve(chunks: string[], hang = false): Promise<{ url: string; closed: Promise<unknown> }> {
  let resolveClosed: (v: unknown) => void = () => undefined;
  const closed = new Promise((r) => (resolveClosed = r));
  server = createServer(async (_req, res) => {
    res.on('close', () => resolveClosed(undefined));
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (const c of chunks) {
      if (res.destroyed) return;
      res.write(c);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!hang) res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed };
}

describe('readCapped', () => {
  it('reads an iterable whole under the limit, and stops at the limit', async () => {
    const whole = await readCapped(parts('ab', 'cd'), 4);
    expect([whole.complete, whole.text()]).toEqual([true, 'abcd']);
    const cut = await readCapped(parts('ab', 'cd', 'ef'), 3);
    expect([cut.complete, cut.text()]).toEqual([false, 'abc']);
  });

  it('reads a Node stream the same way, multi-byte characters split across chunks included', async () => {
    const euro = Buffer.from('€');
    const whole = await readCapped(Readable.from([euro.subarray(0, 1), euro.subarray(1), Buffer.from('!')]), 10);
    expect([whole.complete, whole.text()]).toEqual([true, '€!']);
    const cut = await readCapped(Readable.from([Buffer.from('abc'), Buffer.from('def')]), 4);
    expect([cut.complete, cut.text()]).toEqual([false, 'abcd']);
    const empty = await readCapped(Readable.from([]), 4);
    expect([empty.complete, empty.text()]).toEqual([true, '']);
  });

  it('rejects with the stream error, and when the stream is destroyed before its end', async () => {
    const failing = new Readable({ read() {} });
    const read = readCapped(failing, 100);
    failing.push('partial');
    failing.destroy(new Error('socket hang up'));
    await expect(read).rejects.toThrow('socket hang up');
    const cut = new Readable({ read() {} });
    const readCut = readCapped(cut, 100);
    cut.push('partial');
    setImmediate(() => cut.destroy());
    await expect(readCut).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('drops an undici response past the limit: the upstream connection closes, no error escapes', async () => {
    const { url, closed } = await serve(['x'.repeat(1000), 'y'.repeat(1000), 'z'.repeat(1000)], true);
    const res = await request(url);
    const read = await readCapped(res.body, 1500);
    expect(read.complete).toBe(false);
    expect(read.text()).toBe('x'.repeat(1000) + 'y'.repeat(500));
    await closed; // the server sees its response closed although it never ended it
  });

  it('reads an undici response whole', async () => {
    const { url } = await serve(['hello ', 'world']);
    const res = await request(url);
    const read = await readCapped(res.body, 1 << 20);
    expect([read.complete, read.text()]).toEqual([true, 'hello world']);
  });
});

describe('readWhole: the process-wide budget for large answers (a transport without sendForWhole)', () => {
  const BIG = RESERVE_FROM_BYTES + 1000;
  const answer = (body: AsyncIterable<Uint8Array>, headers: Record<string, string> = {}, status = 200): UpstreamResponse & { discarded: boolean } => {
    const res = { status, headers, body, discarded: false, discard: () => void (res.discarded = true) };
    return res;
  };
  const opts = (budget: ByteBudget) => ({ limitBytes: 1 << 20, errorLimitBytes: 1024, budget });

  it('a small answer takes nothing; a large one takes its bytes as they arrive, or its declared length unread', async () => {
    const budget = new ByteBudget(BIG + 10);
    const small = await readWhole(answer(parts('{}')), opts(budget));
    expect([small.body.complete, small.body.held, budget.inUse]).toEqual([true, undefined, 0]);
    const big = await readWhole(answer(parts('a'.repeat(RESERVE_FROM_BYTES), 'b'.repeat(1000))), opts(budget));
    expect(big.body.complete).toBe(true);
    expect(budget.inUse).toBe(BIG);
    const declared = answer(parts('c'.repeat(BIG)), { 'content-length': String(BIG) });
    expect((await readWhole(declared, opts(budget))).body).toMatchObject({ complete: false, noRoom: 'busy' });
    expect(declared.discarded).toBe(true);
    // An error answer is read to errorLimitBytes and never counts.
    const failed = await readWhole(answer(parts('{"error":{}}'), {}, 500), opts(budget));
    expect([failed.body.complete, failed.body.held]).toEqual([true, undefined]);
    big.body.held?.();
    expect(budget.inUse).toBe(0);
  });

  it('a read that fails past the threshold gives back what it took', async () => {
    const budget = new ByteBudget(1 << 20);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(RESERVE_FROM_BYTES + 10);
      throw new Error('reset');
    }
    await expect(readWhole(answer(broken()), opts(budget))).rejects.toThrow('reset');
    expect(budget.inUse).toBe(0);
  });
});
