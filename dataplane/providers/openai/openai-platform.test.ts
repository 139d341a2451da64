import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { forOpenAiPlatform } from './openai-platform.js';

const chat = (body: JsonObject): CanonicalRequest => ({ op: 'chat', body, stream: false, clientWantsUsage: false });

describe('forOpenAiPlatform', () => {
  it('leaves a request with nothing to change as it is (no copy on the hot path)', () => {
    const req = chat({ model: 'm', messages: [], max_completion_tokens: 10, temperature: 0 });
    expect(forOpenAiPlatform(req, true, 'm')).toBe(req);
    const completions: CanonicalRequest = { ...req, op: 'completions', body: { model: 'm', prompt: 'x', max_tokens: 5 } };
    expect(forOpenAiPlatform(completions, true, 'm')).toBe(completions);
  });

  it('renames max_tokens in its place among the keys, keeps a client max_completion_tokens, drops top_k, and leaves the client body untouched', () => {
    const body = { model: 'm', max_tokens: 64, messages: [], top_k: 5, temperature: 0.5 };
    const out = forOpenAiPlatform(chat(body), true, 'm').body;
    expect(Object.keys(out)).toEqual(['model', 'messages', 'temperature', 'max_completion_tokens']);
    expect(out.max_completion_tokens).toBe(64);
    expect(body).toEqual({ model: 'm', max_tokens: 64, messages: [], top_k: 5, temperature: 0.5 });
    expect(forOpenAiPlatform(chat({ model: 'm', max_completion_tokens: 8, max_tokens: 64 }), true, 'm').body).toEqual({ model: 'm', max_completion_tokens: 8 });
    expect(Object.keys(forOpenAiPlatform(chat({ model: 'm', max_completion_tokens: null, max_tokens: 64, n: 1 }), true, 'm').body)).toEqual(['model', 'max_completion_tokens', 'n']);
    expect(forOpenAiPlatform(chat({ model: 'm', max_tokens: 64, top_k: 3 }), false, 'm').body).toEqual({ model: 'm', max_tokens: 64 });
  });

  it('drops temperature and top_p of a translated request to a reasoning model; an OpenAI client\'s request, and other models, keep them', () => {
    const body = { model: 'm', messages: [], temperature: 0.2, top_p: 0.9 };
    const translated: CanonicalRequest = { ...chat(body), extended: true };
    for (const model of ['o3', 'o1-mini', 'gpt-5-mini', 'openai/o4-mini', 'gpt-5.1']) expect(forOpenAiPlatform(translated, true, model).body).toEqual({ model: 'm', messages: [] });
    for (const model of ['gpt-4o', 'gpt-5-chat-latest', 'gpt-oss-120b']) expect(forOpenAiPlatform(translated, true, model)).toBe(translated);
    const native = chat(body);
    expect(forOpenAiPlatform(native, true, 'o3')).toBe(native);
  });
});
