import { describe, expect, it } from 'vitest';
import { collected } from '../../test/support/collectable.js';
import type { StreamStep } from '../core/canonical.js';
import type { Transport, UpstreamResponse } from '../upstream/transport.js';
import { streamingAttempt } from '../../test/support/streaming-attempt.js';

// A held stream waits most of its life for the upstream's next bytes, suspended in the attempt's
// step generator: what that generator keeps then, every held stream keeps.

const chunk = (content: string): string => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;

describe('a stream waiting for the upstream', () => {
  it('keeps neither the bytes it last read nor the step it made of them', async () => {
    const refs: WeakRef<object>[] = [];
    const bytes = (text: string): Uint8Array => {
      const b = Buffer.from(text);
      refs.push(new WeakRef(b));
      return b;
    };
    // Reads two chunks, then waits until told to end; keeps nothing it handed out.
    const queue = [bytes(chunk('first')), bytes(chunk('second'))];
    let end: (() => void) | undefined;
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Uint8Array>> => {
          const value = queue.shift();
          if (value !== undefined) return { done: false, value };
          await new Promise<void>((resolve) => {
            end = resolve;
          });
          return { done: false, value: Buffer.from('data: [DONE]\n\n') };
        },
      }),
    };
    const transport: Transport = { send: async (): Promise<UpstreamResponse> => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body, discard: () => undefined }) };
    const result = await streamingAttempt('sk-test', transport);
    if (!result.ok || result.kind !== 'stream') throw new Error(`expected a stream, got ${JSON.stringify(result)}`);
    const rest = result.rest;
    const texts: string[] = [];
    const take = (step: StreamStep): void => {
      texts.push(JSON.stringify(step.chunks));
      refs.push(new WeakRef(step), new WeakRef(step.chunks));
    };
    result.first.splice(0).forEach(take);
    // In a function of its own, so that this test holds no step either.
    const takeNext = async (): Promise<void> => {
      const next = await rest.next();
      if (next.done === true) throw new Error('the stream ended early');
      take(next.value);
    };
    await takeNext();
    const last = rest.next();
    await expect.poll(() => end !== undefined).toBe(true);
    expect(await collected(refs)).toEqual(refs.map(() => true));
    end?.();
    const done = await last;
    expect(done.done === false && done.value.done).toBe(true);
    expect(texts.join()).toMatch(/first.*second/);
  });
});
