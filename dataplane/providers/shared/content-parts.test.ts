import { describe, expect, it } from 'vitest';
import { toAnthropicRequest } from '../anthropic/anthropic-request.js';
import { usageFromAnthropic } from '../anthropic/anthropic-response.js';
import { toConverseRequest } from '../bedrock/bedrock-request.js';
import { usageFromBedrock } from '../bedrock/bedrock-response.js';
import { toGeminiRequest } from '../gemini/gemini-request.js';
import { RequestTranslationError } from '../types.js';
import { usageWithCacheInPrompt } from './cache-usage.js';
import { contentParts, type PartWriter } from './content-parts.js';

const tagged: PartWriter<string> = { text: (t) => `text:${t}`, image: (url, param) => `image:${url}@${param}` };

function refusal(run: () => unknown): { message: string; param: string | null } {
  try {
    run();
  } catch (err) {
    if (err instanceof RequestTranslationError) return { message: err.message, param: err.param };
    throw err;
  }
  throw new Error('not refused');
}

describe('contentParts', () => {
  it('maps a string, text, refusal and image parts through the writer, none for empty content', () => {
    expect(contentParts(undefined, 'p', tagged)).toEqual([]);
    expect(contentParts('', 'p', tagged)).toEqual([]);
    expect(contentParts('hi', 'p', tagged)).toEqual(['text:hi']);
    const parts = [{ type: 'text', text: 'a' }, { type: 'refusal', refusal: 'no' }, { type: 'image_url', image_url: { url: 'data:x' } }];
    expect(contentParts(parts, 'messages.0.content', tagged)).toEqual(['text:a', 'text:no', 'image:data:x@messages.0.content.2']);
  });

  it('refuses audio unless the provider writes it, and anything else with the part path', () => {
    const audio = [{ type: 'input_audio', input_audio: { data: 'AAAA' } }];
    expect(refusal(() => contentParts(audio, 'messages.1.content', tagged))).toEqual({ message: 'content part type input_audio is not supported by this provider', param: 'messages.1.content.0' });
    expect(contentParts(audio, 'p', { ...tagged, audio: (data, format) => `${format}:${data}` })).toEqual(['wav:AAAA']);
    expect(refusal(() => contentParts(42, 'messages.2.content', tagged))).toEqual({ message: 'content must be a string or an array of parts', param: 'messages.2.content' });
  });

  it('is what the Anthropic, Bedrock and Gemini translations use', () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'input_audio', input_audio: { data: 'AAAA', format: 'mp3' } }] }];
    expect(toGeminiRequest({ messages }).contents).toEqual([{ role: 'user', parts: [{ text: 'hi' }, { inlineData: { mimeType: 'audio/mp3', data: 'AAAA' } }] }]);
    expect(refusal(() => toConverseRequest({ messages })).param).toBe('messages.0.content.1');
    expect(refusal(() => toAnthropicRequest({ messages }, 'm', false, { version: 'v', defaultMaxTokens: 1 })).param).toBe('messages.0.content.1');
  });
});

describe('usageWithCacheInPrompt', () => {
  it('puts cache reads and writes inside the prompt, as Anthropic and Bedrock usage', () => {
    const expected = { inputTokens: 10 + 3 + 2, outputTokens: 5, cachedInputTokens: 3, cacheWriteTokens: 2 };
    expect(usageWithCacheInPrompt({ uncachedInput: 10, output: 5, cacheRead: 3, cacheWrite: 2 })).toEqual(expected);
    expect(usageFromAnthropic({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 })).toEqual(expected);
    expect(usageFromBedrock({ inputTokens: 10, outputTokens: 5, totalTokens: 20, cacheReadInputTokens: 3, cacheWriteInputTokens: 2 })).toEqual(expected);
    expect(usageWithCacheInPrompt({ uncachedInput: 'x', output: undefined, cacheRead: null, cacheWrite: 0 })).toEqual({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 });
  });
});
