import { describe, expect, it } from 'vitest';
import { costUsd, unitCostUsd } from './cost.js';
import { usageRecord } from './usage-record.js';
import { responseUsage } from './settled-usage.js';
import { StreamMeter } from './stream-meter.js';
import { estimateTokens, promptText } from './token-estimate.js';

describe('no cost is ever negative', () => {
  const pricing = { inputPerMTok: 5, outputPerMTok: 40, cachedInputPerMTok: 0.5 };

  it('costUsd and unitCostUsd of impossible counts are 0, not a credit', () => {
    expect(costUsd({ inputTokens: -2_000_000, cachedInputTokens: 0, outputTokens: 0 }, pricing)).toBe(0);
    expect(unitCostUsd({ requests: 1, images: 0, audioSeconds: -1000, characters: 0 }, { ...pricing, perAudioSecondUsd: 0.01 })).toBe(0);
  });

  it('a record made of negative counts or cost is clamped to 0 and marked invalid (counted by tollgate_usage_estimated_total)', () => {
    const rec = usageRecord('r', 'passthrough', { id: 'default/r', model: 'r' }, { providerId: 'p', model: 'm' }, false, { inputTokens: -5, outputTokens: 3, cachedInputTokens: -5 }, -10, undefined);
    expect(rec).toMatchObject({ inputTokens: 0, outputTokens: 3, cachedInputTokens: 0, costUsd: 0, estimated: true, estimateReason: 'invalid' });
    const sound = usageRecord('r', 'chat', { id: 'default/r', model: 'r' }, { providerId: 'p', model: 'm' }, false, { inputTokens: 5, outputTokens: 3, cachedInputTokens: 0 }, 0.1, undefined);
    expect(sound).toMatchObject({ costUsd: 0.1, estimated: false });
  });
});

describe('costUsd', () => {
  it('prices uncached input, cached input and output separately', () => {
    const pricing = { inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 1.25 };
    // 1000 input of which 400 cached, 500 output: 600*2.5 + 400*1.25 + 500*10 = 7000 micro-USD
    expect(costUsd({ inputTokens: 1000, cachedInputTokens: 400, outputTokens: 500 }, pricing)).toBe(0.007);
    expect(costUsd({ inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, pricing)).toBe(0);
  });

  it('rounds up to a millionth of a cent, never down: no request that cost something is charged nothing', () => {
    // One token at $0.004 per million: 4e-9 USD. Before, rounded to the nearest 1e-8, it was charged $0.
    expect(costUsd({ inputTokens: 1, cachedInputTokens: 0, outputTokens: 0 }, { inputPerMTok: 0.004, outputPerMTok: 0.004, cachedInputPerMTok: 0 })).toBe(1e-8);
    // 2 tokens at $0.012 per million: 2.4e-8, charged 3e-8 (before: 2e-8).
    expect(costUsd({ inputTokens: 2, cachedInputTokens: 0, outputTokens: 0 }, { inputPerMTok: 0.012, outputPerMTok: 0, cachedInputPerMTok: 0 })).toBe(3e-8);
    // A whole number of units computed a hair above it in binary floating point is not rounded up.
    expect(costUsd({ inputTokens: 1, cachedInputTokens: 0, outputTokens: 2 }, { inputPerMTok: 0.1, outputPerMTok: 0.1, cachedInputPerMTok: 0 })).toBe(3e-7);
    expect(unitCostUsd({ requests: 0, images: 0, audioSeconds: 0, characters: 1 }, { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perMCharactersUsd: 0.004 })).toBe(1e-8);
  });

  it('prices prompt-cache writes at their own price when the Provider sets one', () => {
    const pricing = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWriteInputPerMTok: 3.75 };
    // 1000 input = 200 cache reads + 300 cache writes + 500 uncached; 100 output.
    const usage = { inputTokens: 1000, cachedInputTokens: 200, cacheWriteTokens: 300, outputTokens: 100 };
    expect(costUsd(usage, pricing)).toBe((500 * 3 + 200 * 0.3 + 300 * 3.75 + 100 * 15) / 1e6);
    const { cacheWriteInputPerMTok: _ignored, ...withoutWritePrice } = pricing;
    expect(costUsd(usage, withoutWritePrice)).toBe((800 * 3 + 200 * 0.3 + 100 * 15) / 1e6);
  });

  it('prices hour-long cache writes at their own price, the cache-write price where none is set', () => {
    const pricing = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWriteInputPerMTok: 3.75, cacheWrite1hInputPerMTok: 6 };
    // 1000 input = 100 cache reads + 300 cache writes (120 for an hour) + 600 uncached; 10 output.
    const usage = { inputTokens: 1000, cachedInputTokens: 100, cacheWriteTokens: 300, cacheWrite1hTokens: 120, outputTokens: 10 };
    expect(costUsd(usage, pricing)).toBe((600 * 3 + 100 * 0.3 + 180 * 3.75 + 120 * 6 + 10 * 15) / 1e6);
    const { cacheWrite1hInputPerMTok: _ignored, ...withoutHourPrice } = pricing;
    expect(costUsd(usage, withoutHourPrice)).toBe((600 * 3 + 100 * 0.3 + 300 * 3.75 + 10 * 15) / 1e6);
  });

  it('prices a request whose prompt is past the long-context threshold at the long-context prices, all of it', () => {
    // Gemini 2.5 Pro: 1.25 / 10 / 0.125 up to 200k prompt tokens, 2.5 / 15 / 0.25 above.
    const pricing = { inputPerMTok: 1.25, outputPerMTok: 10, cachedInputPerMTok: 0.125, longContext: { aboveInputTokens: 200_000, inputPerMTok: 2.5, outputPerMTok: 15, cachedInputPerMTok: 0.25 } };
    expect(costUsd({ inputTokens: 200_000, cachedInputTokens: 0, outputTokens: 1000 }, pricing)).toBe((200_000 * 1.25 + 1000 * 10) / 1e6);
    // Cached tokens count towards the threshold, and are priced at the long-context cached price.
    expect(costUsd({ inputTokens: 200_001, cachedInputTokens: 100_000, outputTokens: 1000 }, pricing)).toBe(Math.round(((100_001 * 2.5 + 100_000 * 0.25 + 1000 * 15) / 1e6) * 1e8) / 1e8);
    // Audio keeps its own price past the threshold.
    expect(costUsd({ inputTokens: 300_000, cachedInputTokens: 0, audioInputTokens: 100_000, outputTokens: 0 }, { ...pricing, audioInputPerMTok: 7 })).toBe((200_000 * 2.5 + 100_000 * 7) / 1e6);
  });

  it('adds built-in tool calls at their per-call prices, outside the service-tier multiple of the token prices', () => {
    const pricing = { inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 0.5, perWebSearchUsd: 0.01, perFileSearchUsd: 0.0025 };
    const usage = { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 100, webSearchCalls: 3, fileSearchCalls: 2 };
    expect(costUsd(usage, pricing)).toBe(Math.round(((1000 * 2 + 100 * 8) / 1e6 + 0.03 + 0.005) * 1e8) / 1e8);
    expect(costUsd({ ...usage, priceMultiplier: 2 }, pricing)).toBe(Math.round(((1000 * 2 + 100 * 8) * 2 / 1e6 + 0.03 + 0.005) * 1e8) / 1e8);
    expect(costUsd(usage, { inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 0.5 })).toBe((1000 * 2 + 100 * 8) / 1e6);
  });

  it('prices audio and image tokens at their own prices, and at the text ones where the Provider sets none', () => {
    // gpt-realtime's published prices: text 4/16, audio 32/64, images 5, cached 0.4.
    const pricing = { inputPerMTok: 4, outputPerMTok: 16, cachedInputPerMTok: 0.4, audioInputPerMTok: 32, audioOutputPerMTok: 64, imageInputPerMTok: 5 };
    // 1000 input = 100 cached + 600 uncached audio + 50 uncached image + 250 uncached text; 300 output of which 200 audio.
    const usage = { inputTokens: 1000, cachedInputTokens: 100, audioInputTokens: 600, imageInputTokens: 50, outputTokens: 300, audioOutputTokens: 200 };
    expect(costUsd(usage, pricing)).toBe((250 * 4 + 600 * 32 + 50 * 5 + 100 * 0.4 + 100 * 16 + 200 * 64) / 1e6);
    expect(costUsd(usage, { inputPerMTok: 4, outputPerMTok: 16, cachedInputPerMTok: 0.4 })).toBe((900 * 4 + 100 * 0.4 + 300 * 16) / 1e6);
    // gpt-image: image output tokens at their price.
    expect(costUsd({ inputTokens: 10, cachedInputTokens: 0, outputTokens: 1056, imageOutputTokens: 1056 }, { inputPerMTok: 5, outputPerMTok: 10, cachedInputPerMTok: 0, imageOutputPerMTok: 40 })).toBe(
      (10 * 5 + 1056 * 40) / 1e6,
    );
  });

  it('prices media counts past their share as the dearer kind, never below what the upstream billed', () => {
    const pricing = { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 0.1, audioInputPerMTok: 10, audioOutputPerMTok: 20 };
    // An upstream that counts cached audio among its audio tokens (chat completions says no more):
    // the 400 cached are priced as cached, the other 600 as audio although 700 audio were reported.
    expect(costUsd({ inputTokens: 1000, cachedInputTokens: 400, audioInputTokens: 700, outputTokens: 10, audioOutputTokens: 50 }, pricing)).toBe((600 * 10 + 400 * 0.1 + 10 * 20) / 1e6);
  });

  it('never counts more cached than total input', () => {
    const pricing = { inputPerMTok: 1, outputPerMTok: 0, cachedInputPerMTok: 0 };
    expect(costUsd({ inputTokens: 10, cachedInputTokens: 50, outputTokens: 0 }, pricing)).toBe(0);
  });
});

describe('StreamMeter', () => {
  it('prefers upstream usage and estimates from the chunks when there is none', () => {
    const m = new StreamMeter(12);
    m.observe({ choices: [{ delta: { content: 'abcdefgh' } }] });
    m.observe({ choices: [{ delta: { content: 'ij' } }] });
    expect(m.result()).toEqual({ usage: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0 }, estimated: 'missing' });
    m.report({ inputTokens: 7, outputTokens: 2, cachedInputTokens: 1 });
    expect(m.result()).toEqual({ usage: { inputTokens: 7, outputTokens: 2, cachedInputTokens: 1 } });
  });

  it('charges a stream cut short at least what the upstream reported before its end, count by count', () => {
    const m = new StreamMeter(12);
    m.reportPartial({ inputTokens: 30, outputTokens: 8000, cachedInputTokens: 10 });
    m.observe({ choices: [{ delta: { content: 'x'.repeat(40) } }] });
    m.truncated = true;
    expect(m.result()).toEqual({ usage: { inputTokens: 30, outputTokens: 8000, cachedInputTokens: 10 }, estimated: 'truncated' });
    const seenMore = new StreamMeter(50);
    seenMore.reportPartial({ inputTokens: 30, outputTokens: 1, cachedInputTokens: 0 });
    seenMore.observe({ choices: [{ delta: { content: 'x'.repeat(400) } }] });
    expect(seenMore.result().usage).toEqual({ inputTokens: 50, outputTokens: 100, cachedInputTokens: 0 });
    // The final report wins whatever came before it.
    seenMore.report({ inputTokens: 31, outputTokens: 90, cachedInputTokens: 0 });
    expect(seenMore.result()).toEqual({ usage: { inputTokens: 31, outputTokens: 90, cachedInputTokens: 0 } });
  });

  it("charges a cut stream's estimated audio prompt as audio", () => {
    const m = new StreamMeter(1100, 0, 1000);
    m.observe({ choices: [{ delta: { content: 'x'.repeat(40) } }] });
    m.truncated = true;
    expect(m.result()).toEqual({ usage: { inputTokens: 1100, outputTokens: 10, cachedInputTokens: 0, audioInputTokens: 1000 }, estimated: 'truncated' });
    expect(responseUsage(undefined, { choices: [] }, 1100, 1000)).toEqual({ usage: { inputTokens: 1100, outputTokens: 0, cachedInputTokens: 0, audioInputTokens: 1000 }, estimated: 'missing' });
  });

  it("keeps a cut stream's reported audio and image counts, so they are priced as such", () => {
    const m = new StreamMeter(12);
    m.reportPartial({ inputTokens: 900, outputTokens: 500, cachedInputTokens: 0, audioInputTokens: 800, audioOutputTokens: 400 });
    m.truncated = true;
    expect(m.result()).toEqual({ usage: { inputTokens: 900, outputTokens: 500, cachedInputTokens: 0, audioInputTokens: 800, audioOutputTokens: 400 }, estimated: 'truncated' });
  });

  it("estimates a cut stream's output with the reasoning it produced, not only the text it showed", () => {
    const m = new StreamMeter(10);
    m.observeHidden(28_800);
    m.observe({ choices: [{ delta: { content: 'abcd' } }] });
    m.truncated = true;
    expect(m.result()).toEqual({ usage: { inputTokens: 10, outputTokens: 7_201, cachedInputTokens: 0 }, estimated: 'truncated' });
  });

  it('keeps chunks for the cache only up to its byte bound: a longer stream is dropped and never stored', () => {
    const chunk = { choices: [{ delta: { content: 'x'.repeat(1000) } }] };
    const small = new StreamMeter(1, 64 * 1024);
    let stored = 0;
    small.onCompleted = () => void stored++;
    for (let i = 0; i < 10; i++) small.observe(chunk);
    small.complete();
    expect(small.chunks).toHaveLength(10);
    expect(stored).toBe(1);

    const long = new StreamMeter(1, 64 * 1024);
    long.onCompleted = () => void stored++;
    for (let i = 0; i < 100; i++) long.observe(chunk);
    long.complete();
    expect(long.chunks).toHaveLength(0);
    expect(stored).toBe(1);
    // Metering still sees every chunk.
    expect(long.result().usage.outputTokens).toBe(25_000);
  });
});

describe('token estimate', () => {
  it('reads chat messages, content parts, prompts and embedding inputs', () => {
    expect(promptText({ messages: [{ role: 'user', content: 'hi' }, { role: 'user', content: [{ type: 'text', text: 'there' }] }] })).toBe('hi\nthere');
    expect(promptText({ prompt: 'abc' })).toBe('abc');
    expect(promptText({ input: ['a', 'b'] })).toBe('a\nb');
    expect(estimateTokens('12345678')).toBe(2);
  });
});
