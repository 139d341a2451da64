import { describe, expect, it } from 'vitest';
import { compile } from '../../../operator/compile/compile.js';
import { ModelRouteSpecSchema } from '../../../operator/api/model-route.js';
import { provider, route } from '../../../test/support/objects.js';
import { passThroughPath, upstreamUrl } from './passthrough-paths.js';
import { passThroughUsage } from './passthrough-usage.js';

describe('pass-through paths', () => {
  it('maps each public path to its endpoint and its upstream path', () => {
    expect(passThroughPath('/v1/images/edits')).toEqual({ endpoint: 'images', upstreamPath: '/images/edits', fromOrigin: false });
    expect(passThroughPath('/v1/audio/speech')?.endpoint).toBe('audio');
    expect(passThroughPath('/v1/files/file-1/content')?.endpoint).toBe('files');
    expect(passThroughPath('/v1/batches/b1/cancel')?.endpoint).toBe('batches');
    expect(passThroughPath('/v1/moderations')?.endpoint).toBe('moderations');
    expect(passThroughPath('/tokenize')).toEqual({ endpoint: 'tokenize', upstreamPath: '/tokenize', fromOrigin: true });
    for (const other of ['/v1/chat/completions', '/v1/files/a/b/c', '/v1/images', '/v1/audio/other', '/v2/rerank']) expect(passThroughPath(other)).toBeUndefined();
  });

  it('builds the upstream URL under the base URL, or at its origin for vLLM root paths, keeping the query', () => {
    const files = passThroughPath('/v1/files');
    const tokenize = passThroughPath('/tokenize');
    if (files === undefined || tokenize === undefined) throw new Error('paths not found');
    expect(upstreamUrl('https://api.example.com/v1/', files, '?limit=2').toString()).toBe('https://api.example.com/v1/files?limit=2');
    expect(upstreamUrl('http://vllm:8000/v1', tokenize, '').toString()).toBe('http://vllm:8000/tokenize');
  });
});

describe('pass-through usage', () => {
  it('reads token usage the way each endpoint reports it, and nothing when there is none', () => {
    expect(passThroughUsage({ usage: { input_tokens: 10, output_tokens: 100, total_tokens: 110 } })).toEqual({ inputTokens: 10, outputTokens: 100, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { prompt_tokens: 9, total_tokens: 9 } })).toEqual({ inputTokens: 9, outputTokens: 0, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { total_tokens: 12 } })).toEqual({ inputTokens: 12, outputTokens: 0, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { type: 'duration', seconds: 3 } })).toBeUndefined();
    expect(passThroughUsage({ results: [] })).toBeUndefined();
    expect(passThroughUsage('not json')).toBeUndefined();
  });
});

describe('ModelRoute passThrough', () => {
  const openai = provider('openai', { type: 'openai' });
  it('compiles endpoints (deduplicated, sorted), the upload limit and the realtime limits with defaults', () => {
    const r = route('media', { model: 'm', targets: [{ providerRef: { name: 'openai' }, model: 'x' }], passThrough: { endpoints: ['images', 'audio', 'images'], realtime: { idleTimeout: '30s' } } });
    const { snapshot } = compile({ providers: [openai], routes: [r], budgets: [], secrets: [] });
    expect(snapshot.routes[0]?.passThrough).toEqual({ endpoints: ['audio', 'images'], maxUploadBytes: 25 * 1024 * 1024, realtime: { maxConnections: 100, idleTimeoutMs: 30_000 } });
    const plain = compile({ providers: [openai], routes: [route('chat', { model: 'c', targets: [{ providerRef: { name: 'openai' }, model: 'x' }] })], budgets: [], secrets: [] });
    expect(plain.snapshot.routes[0]?.passThrough).toBeUndefined();
  });

  it('refuses unknown endpoints and out-of-range limits', () => {
    const base = { model: 'm', targets: [{ providerRef: { name: 'openai' }, model: 'x' }] };
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['chat'] } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: [] } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['files'], maxUploadBytes: 10 } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['realtime'], realtime: { maxConnections: 0 } } }).success).toBe(false);
  });
});
