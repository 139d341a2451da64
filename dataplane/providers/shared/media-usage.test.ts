import { describe, expect, it } from 'vitest';
import { usageFromOpenAi } from '../openai/openai-usage.js';
import { usageFromGemini } from '../gemini/gemini-response.js';
import { realtimeUsage } from '../../server/realtime/realtime-usage.js';
import { passThroughUsage } from '../../server/passthrough/passthrough-usage.js';
import { toOpenAiUsage } from './openai-usage.js';

// Audio and image tokens, as each API reports them, become canonical usage that metering prices apart.
describe('audio and image tokens in usage', () => {
  it('chat completions (gpt-audio): prompt and completion audio tokens', () => {
    const usage = usageFromOpenAi({
      prompt_tokens: 1200,
      completion_tokens: 400,
      prompt_tokens_details: { cached_tokens: 100, audio_tokens: 1000 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 350 },
    });
    expect(usage).toEqual({ inputTokens: 1200, outputTokens: 400, cachedInputTokens: 100, audioInputTokens: 1000, audioOutputTokens: 350 });
    // Text-only usage keeps its shape.
    expect(usageFromOpenAi({ prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 } })).toEqual({ inputTokens: 5, outputTokens: 2, cachedInputTokens: 0 });
  });

  it('Realtime response.done: cached audio and images taken out of the uncached ones, output audio', () => {
    const event = {
      type: 'response.done',
      response: {
        usage: {
          input_tokens: 2000,
          output_tokens: 600,
          input_token_details: { cached_tokens: 1500, text_tokens: 300, audio_tokens: 1600, image_tokens: 100, cached_tokens_details: { text_tokens: 200, audio_tokens: 1250, image_tokens: 50 } },
          output_token_details: { text_tokens: 100, audio_tokens: 500 },
        },
      },
    };
    expect(realtimeUsage(JSON.stringify(event))).toEqual({ inputTokens: 2000, outputTokens: 600, cachedInputTokens: 1500, audioInputTokens: 350, imageInputTokens: 50, audioOutputTokens: 500 });
  });

  it('pass-through answers: gpt-image input and output images, gpt-4o-transcribe audio', () => {
    const image = { data: [{ b64_json: 'x' }], usage: { input_tokens: 60, input_tokens_details: { text_tokens: 20, image_tokens: 40 }, output_tokens: 1056, output_tokens_details: { text_tokens: 0, image_tokens: 1056 }, total_tokens: 1116 } };
    expect(passThroughUsage(image)).toEqual({ inputTokens: 60, outputTokens: 1056, cachedInputTokens: 0, imageInputTokens: 40, imageOutputTokens: 1056 });
    const transcript = { text: 'hi', usage: { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 0, audio_tokens: 14 }, output_tokens: 45, total_tokens: 59 } };
    expect(passThroughUsage(transcript)).toEqual({ inputTokens: 14, outputTokens: 45, cachedInputTokens: 0, audioInputTokens: 14 });
  });

  it('Gemini: per-modality prompt, cache and candidate counts', () => {
    const usage = usageFromGemini({
      promptTokenCount: 1000,
      candidatesTokenCount: 1300,
      cachedContentTokenCount: 200,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: 100 },
        { modality: 'AUDIO', tokenCount: 800 },
        { modality: 'IMAGE', tokenCount: 100 },
      ],
      cacheTokensDetails: [{ modality: 'AUDIO', tokenCount: 200 }],
      candidatesTokensDetails: [
        { modality: 'TEXT', tokenCount: 10 },
        { modality: 'IMAGE', tokenCount: 1290 },
      ],
    });
    expect(usage).toEqual({ inputTokens: 1000, outputTokens: 1300, cachedInputTokens: 200, audioInputTokens: 600, imageInputTokens: 100, imageOutputTokens: 1290 });
    // Malformed lists count nothing.
    expect(usageFromGemini({ promptTokenCount: 3, promptTokensDetails: 'AUDIO' as unknown as [] })).toEqual({ inputTokens: 3, outputTokens: 0, cachedInputTokens: 0 });
  });

  it('the OpenAI usage a client sees carries the audio counts', () => {
    expect(toOpenAiUsage({ inputTokens: 10, outputTokens: 4, cachedInputTokens: 0, audioInputTokens: 8, audioOutputTokens: 3 })).toEqual({
      prompt_tokens: 10,
      completion_tokens: 4,
      total_tokens: 14,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 8 },
      completion_tokens_details: { audio_tokens: 3 },
    });
  });
});
