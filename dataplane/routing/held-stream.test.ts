import { describe, expect, it } from 'vitest';
import { collected } from '../../test/support/collectable.js';
import type { CanonicalRequest, StreamStep } from '../core/canonical.js';
import { secret } from '../config/secret-value.js';
import { type ProviderConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION, type TargetConfig } from '../config/snapshot.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_STREAM_EVENT_BYTES } from '../config/route-limits.js';
import { testRoute } from '../governance/rate-limit/test-support.js';
import { buildRuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { Transport, UpstreamResponse } from '../upstream/transport.js';
import { runAttempt } from './attempt.js';
import { ClientLink } from './client-link.js';

// A held stream waits most of its life for the upstream's next bytes, suspended in the attempt's
// step generator: what that generator keeps then, every held stream keeps.

const provider: ProviderConfig = { id: 'team-a/openai', type: 'openai-compatible', endpoints: ['http://127.0.0.1:9/v1'], headers: {}, connectTimeoutMs: 1_000, apiKey: secret('sk-test') };
const target: TargetConfig = { providerId: provider.id, model: 'gpt', priority: 0, weight: 1, pricing: { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 } };
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
    const snapshot: Snapshot = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, version: 'v', providers: [provider], routes: [testRoute([], { targets: [target] })], apiKeys: [], budgets: [], namespaces: {} };
    const built = buildRuntimeSnapshot(snapshot, transport);
    if (!built.ok) throw new Error(built.error);
    const runtime = built.runtime.providers.get(provider.id);
    if (runtime === undefined) throw new Error('no provider');
    const req: CanonicalRequest = { op: 'chat', body: { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }, stream: true, clientWantsUsage: false };
    const limits = { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, maxStreamEventBytes: DEFAULT_MAX_STREAM_EVENT_BYTES };
    const result = await runAttempt(req, target, runtime, 'http://127.0.0.1:9/v1', new AbortController().signal, new ClientLink(), limits);
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
