import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { forOpenAiPlatform } from './openai-platform.js';
import { toCanonicalRequest as fromMessages } from '../../inbound/anthropic/messages-request.js';
import { toCanonicalRequest as fromResponses } from '../../inbound/responses/responses-request.js';

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
    const translated: CanonicalRequest = { ...chat(body), extended: true, translatedFrom: 'messages' };
    for (const model of ['o3', 'o1-mini', 'gpt-5-mini', 'openai/o4-mini', 'gpt-5.1']) expect(forOpenAiPlatform(translated, true, model).body).toEqual({ model: 'm', messages: [] });
    for (const model of ['gpt-4o', 'gpt-5-chat-latest', 'gpt-oss-120b']) expect(forOpenAiPlatform(translated, true, model)).toBe(translated);
    const native = chat(body);
    expect(forOpenAiPlatform(native, true, 'o3')).toBe(native);
  });

  it('keeps temperature and top_p of an extended body from an OpenAI API (Responses with images in a tool result): only /v1/messages requests are translated for this', () => {
    // Before, the drop keyed on `extended`, which a Responses request with tool-result images sets.
    const fromResponsesApi = fromResponses(
      {
        model: 'o3',
        temperature: 0.2,
        top_p: 0.9,
        input: [
          { type: 'function_call', call_id: 'c1', name: 'look', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_image', image_url: 'https://example.test/a.png' }] },
        ],
      },
      1,
    ).canonical;
    expect(fromResponsesApi.extended).toBe(true);
    expect(fromResponsesApi.translatedFrom).toBeUndefined();
    expect(forOpenAiPlatform(fromResponsesApi, true, 'o3').body).toMatchObject({ temperature: 0.2, top_p: 0.9 });

    const fromMessagesApi = fromMessages({ model: 'o3', max_tokens: 100, temperature: 0.2, top_p: 0.9, messages: [{ role: 'user', content: 'Hi' }] }, 1);
    expect(fromMessagesApi.translatedFrom).toBe('messages');
    const sent = forOpenAiPlatform(fromMessagesApi, true, 'o3').body;
    expect(sent).not.toHaveProperty('temperature');
    expect(sent).not.toHaveProperty('top_p');
    expect(sent).toMatchObject({ max_completion_tokens: 100 });
  });
});
