import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { forOpenAiPlatform } from './openai-platform.js';

const chat = (body: JsonObject): CanonicalRequest => ({ op: 'chat', body, stream: false, clientWantsUsage: false });

describe('forOpenAiPlatform', () => {
  it('leaves a request with nothing to change as it is (no copy on the hot path)', () => {
    const req = chat({ model: 'm', messages: [], max_completion_tokens: 10, temperature: 0 });
    expect(forOpenAiPlatform(req, true)).toBe(req);
    const completions: CanonicalRequest = { ...req, op: 'completions', body: { model: 'm', prompt: 'x', max_tokens: 5 } };
    expect(forOpenAiPlatform(completions, true)).toBe(completions);
  });

  it('renames max_tokens in its place among the keys, keeps a client max_completion_tokens, drops top_k, and leaves the client body untouched', () => {
    const body = { model: 'm', max_tokens: 64, messages: [], top_k: 5, temperature: 0.5 };
    const out = forOpenAiPlatform(chat(body), true).body;
    expect(Object.keys(out)).toEqual(['model', 'messages', 'temperature', 'max_completion_tokens']);
    expect(out.max_completion_tokens).toBe(64);
    expect(body).toEqual({ model: 'm', max_tokens: 64, messages: [], top_k: 5, temperature: 0.5 });
    expect(forOpenAiPlatform(chat({ model: 'm', max_completion_tokens: 8, max_tokens: 64 }), true).body).toEqual({ model: 'm', max_completion_tokens: 8 });
    expect(Object.keys(forOpenAiPlatform(chat({ model: 'm', max_completion_tokens: null, max_tokens: 64, n: 1 }), true).body)).toEqual(['model', 'max_completion_tokens', 'n']);
    expect(forOpenAiPlatform(chat({ model: 'm', max_tokens: 64, top_k: 3 }), false).body).toEqual({ model: 'm', max_tokens: 64 });
  });
});
