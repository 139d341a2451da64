import { describe, expect, it } from 'vitest';
import { outputCap } from '../governance/admission.js';
import type { RouteConfig } from '../config/snapshot.js';
import { outputMultiplier } from './output-bound.js';
import { responseUsage } from './settled-usage.js';
import { StreamMeter } from './stream-meter.js';
import { combinedMedia, estimateOutputTokens, estimatePromptTokens, estimateTokens, estimateValueTokens, IMAGE_TOKENS, IMAGE_WINDOW_TOKENS, type PromptParts, promptTokensOn, UNREAD_FILE_TOKENS } from './token-estimate.js';
import { toCanonicalRequest as fromMessages } from '../inbound/anthropic/messages-request.js';
import { toCanonicalRequest as fromResponses } from '../inbound/responses/responses-request.js';

const bigSchema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field_${i}`, { type: 'string', description: 'x'.repeat(40) }])) };

describe('prompt estimate: every part providers bill', () => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  const small = estimatePromptTokens(base);

  it('counts tool definitions, tool calls, tool results and response_format schemas', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: bigSchema } }];
    expect(estimatePromptTokens({ ...base, tools })).toBeGreaterThan(small + JSON.stringify(tools).length / 4 - 1);
    const schema = { type: 'json_schema', json_schema: { name: 'out', schema: bigSchema } };
    expect(estimatePromptTokens({ ...base, response_format: schema })).toBeGreaterThan(small + 2000);
    const args = JSON.stringify({ q: 'y'.repeat(4000) });
    const calls = { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: args } }] }, { role: 'tool', tool_call_id: 'c1', content: 'z'.repeat(4000) }] };
    expect(estimatePromptTokens(calls)).toBeGreaterThan(2000);
  });

  it('counts a schema field as the bytes of its JSON, and a media part inside one as media', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', description: 'Ünïcode "quoted" \\ text', parameters: bigSchema } }];
    const messageBytes = 'user'.length + 'hi'.length;
    expect(estimatePromptTokens({ ...base, tools })).toBe(Math.ceil((messageBytes + Buffer.byteLength(JSON.stringify(tools))) / 4) + 3 + 3);
    // A key named like a media type is not a media part: counted as text like any other key.
    const named = { type: 'object', properties: { image: { type: 'string' } } };
    expect(estimatePromptTokens({ ...base, response_format: named })).toBe(Math.ceil((messageBytes + JSON.stringify(named).length) / 4) + 3 + 3);
    const withImage = { type: 'json_schema', examples: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] };
    const placeholder = JSON.stringify({ type: 'json_schema', examples: [{ type: 'image_url' }] });
    expect(estimatePromptTokens({ ...base, response_format: withImage })).toBe(Math.ceil((messageBytes + placeholder.length) / 4) + IMAGE_TOKENS.other + 3 + 3);
    // The context-window guard counts it as it counts a message image. Before, at IMAGE_TOKENS there.
    const parts: PromptParts = { tokens: 0 };
    const tokens = estimatePromptTokens({ ...base, response_format: withImage }, parts);
    expect(parts.windowTokens).toBe(tokens - IMAGE_TOKENS.other + IMAGE_WINDOW_TOKENS);
  });

  it('counts every part of a /v1/messages request: output_config schema, tool schemas, system blocks, images', () => {
    const ask = { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
    const plain = estimatePromptTokens(fromMessages(ask, 1).body);
    const schemaBytes = JSON.stringify(bigSchema).length;
    // Before, output_config was not counted: a structured-output schema of any size added nothing.
    const structured = estimatePromptTokens(fromMessages({ ...ask, output_config: { format: { type: 'json_schema', schema: bigSchema } } }, 1).body);
    expect(structured).toBeGreaterThanOrEqual(plain + Math.floor(schemaBytes / 4));
    const tools = estimatePromptTokens(fromMessages({ ...ask, tools: [{ name: 'lookup', input_schema: bigSchema }] }, 1).body);
    expect(tools).toBeGreaterThanOrEqual(plain + Math.floor(schemaBytes / 4));
    const system = estimatePromptTokens(fromMessages({ ...ask, system: [{ type: 'text', text: 's'.repeat(8000), cache_control: { type: 'ephemeral' } }] }, 1).body);
    expect(system).toBeGreaterThanOrEqual(plain + 2000);
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(100_000) } };
    const withImage = estimatePromptTokens(fromMessages({ ...ask, messages: [{ role: 'user', content: [image, { type: 'text', text: 'hi' }] }] }, 1).body);
    expect(withImage).toBeGreaterThanOrEqual(plain + IMAGE_TOKENS.other);
  });

  it('counts the images, audio and tools of a /v1/responses request only native targets serve (built-in tools)', () => {
    const tool = { type: 'function', name: 'lookup', parameters: bigSchema };
    const image = { type: 'input_image', image_url: `data:image/png;base64,${'A'.repeat(100_000)}` };
    const audio = { type: 'input_audio', input_audio: { data: 'A'.repeat((160_000 * 4) / 3), format: 'mp3' } };
    const ask = (content: unknown[], tools: unknown[]) => fromResponses({ model: 'm', tools: [{ type: 'web_search' }, ...tools], input: [{ role: 'user', content }] }, 1).canonical;
    const plain = ask([{ type: 'input_text', text: 'hi' }], []);
    expect(plain.native?.requires).toBeDefined();
    const base = estimatePromptTokens(plain.body);
    // Before, only the input's texts were read: images, audio and tool schemas counted nothing.
    expect(estimatePromptTokens(ask([{ type: 'input_text', text: 'hi' }, image, image], []).body)).toBeGreaterThanOrEqual(base + 2 * IMAGE_TOKENS.other);
    expect(estimatePromptTokens(ask([{ type: 'input_text', text: 'hi' }, audio], []).body)).toBeGreaterThanOrEqual(base + 100);
    expect(estimatePromptTokens(ask([{ type: 'input_text', text: 'hi' }], [tool]).body)).toBeGreaterThanOrEqual(base + Math.floor(JSON.stringify(bigSchema).length / 4));
  });

  it('counts images per image by detail, not as their base64 text', () => {
    const image = (detail?: string) => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(400_000)}`, ...(detail === undefined ? {} : { detail }) } });
    const withImages = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, image(), image('low')] }] });
    expect(withImages).toBeGreaterThanOrEqual(2 * IMAGE_TOKENS.other);
    expect(withImages).toBeLessThan(2 * IMAGE_TOKENS.other + 50);
  });

  it('allows each image at least the most a current model can bill for one, at any detail', () => {
    const image = (detail?: string) => ({ type: 'image_url', image_url: { url: 'https://x.test/a.png', ...(detail === undefined ? {} : { detail }) } });
    const tokens = (detail?: string) => estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [image(detail)] }] }) - estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [] }] });
    // Patch-priced OpenAI models: 1,536 patches of 32 px × up to 2.46 (gpt-4.1-nano), and they ignore detail: low.
    // Claude Opus 4.7: up to 3.75 MP at width × height / 750. gpt-4o at high: 85 + 8 × 170.
    for (const detail of [undefined, 'auto', 'high', 'low']) expect(tokens(detail)).toBeGreaterThanOrEqual(Math.max(Math.ceil(1536 * 2.46), 3_750_000 / 750, 85 + 8 * 170));
    // detail: original (gpt-5.4 and later): up to 10,000 patches × 1.2.
    expect(tokens('original')).toBeGreaterThanOrEqual(12_000);
    // A Responses input_image sent on as is (a native-only request) keeps its detail.
    const native = fromResponses({ model: 'm', tools: [{ type: 'web_search' }], input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x.test/a.png', detail: 'low' }] }] }, 1).canonical;
    expect(estimatePromptTokens(native.body)).toBeGreaterThanOrEqual(3_750_000 / 750);
  });

  it('tells the files a prompt names but does not carry apart, for Budgets to hold; inline files count as their text', () => {
    const told = (body: Record<string, unknown>): number | undefined => {
      const parts: PromptParts = { tokens: 0 };
      estimatePromptTokens(body, parts);
      // 0 files: undefined, as the many assertions below read it.
      return parts.media?.files || undefined;
    };
    const chat = (part: object) => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'sum up' }, part] }] });
    // Before, a file by id counted as the few bytes of its id.
    expect(told(chat({ type: 'file', file: { file_id: 'file-abc' } }))).toBe(1);
    expect(told(chat({ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,AAAA' } }))).toBeUndefined();
    expect(told({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toBeUndefined();
    // A /v1/responses request, translated or served natively (built-in tools): by file_id or file_url.
    const responses = (tools: unknown[], file: object) => fromResponses({ model: 'm', tools, input: [{ role: 'user', content: [{ type: 'input_text', text: 'sum up' }, { type: 'input_file', ...file }] }] }, 1).canonical.body;
    expect(told(responses([], { file_id: 'file-abc' }))).toBe(1);
    expect(told(responses([{ type: 'web_search' }], { file_id: 'file-abc' }))).toBe(1);
    expect(told(responses([{ type: 'web_search' }], { file_url: 'https://x.test/a.pdf' }))).toBe(1);
    // Inline file data of a native-only request: counted as its text (before, not at all).
    const inline = estimatePromptTokens(responses([{ type: 'web_search' }], { filename: 'a.pdf', file_data: `data:application/pdf;base64,${'A'.repeat(40_000)}` }));
    expect(inline).toBeGreaterThanOrEqual(10_000);
  });

  it('counts audio by its size as audio, not as base64 text', () => {
    // 160 kB of audio (10 s at 128 kbit/s) in base64: about 100 tokens, not 53k.
    const data = 'A'.repeat((160_000 * 4) / 3);
    const tokens = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format: 'mp3' } }] }] });
    expect(tokens).toBeGreaterThanOrEqual(100);
    expect(tokens).toBeLessThan(130);
    // The audio part is told apart (priced as audio when an estimate is charged).
    const audio = { tokens: 0 };
    const withText = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(400) }, { type: 'input_audio', input_audio: { data, format: 'mp3' } }] }] }, audio);
    expect(audio.tokens).toBe(100);
    expect(withText).toBeGreaterThan(audio.tokens + 100);
  });

  it('counts token-id prompts and inputs one token per id, and text by UTF-8 bytes', () => {
    expect(estimatePromptTokens({ model: 'm', prompt: Array.from({ length: 3000 }, (_, i) => i) })).toBe(3000);
    expect(estimatePromptTokens({ model: 'm', prompt: [[1, 2, 3], [4, 5]] })).toBe(5);
    expect(estimatePromptTokens({ model: 'm', input: [Array.from({ length: 800 }, () => 7), [1]] })).toBe(801);
    expect(estimatePromptTokens({ model: 'm', input: 'abcdefgh' })).toBe(2);
    // CJK: three UTF-8 bytes a character, about one token each.
    expect(estimatePromptTokens({ model: 'm', prompt: '漢字漢字' })).toBe(3);
  });
});

describe('output bound: everything that multiplies output', () => {
  const route = { targets: [{ providerId: 'p', model: 'm', priority: 0, weight: 1, pricing: { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 } }] } as unknown as RouteConfig;

  it('multiplies the cap by n, and by best_of for completions; embeddings have no output', () => {
    expect(outputMultiplier({ op: 'chat', body: { n: 50 } })).toBe(50);
    expect(outputMultiplier({ op: 'completions', body: { n: 2, best_of: 5 } })).toBe(5);
    expect(outputMultiplier({ op: 'embeddings', body: { n: 5 } })).toBe(0);
    expect(outputCap({ op: 'chat', body: { n: 128, max_tokens: 100 } }, route, 10)).toBe(12_800);
    expect(outputCap({ op: 'embeddings', body: { input: 'x' } }, route, 10)).toBe(0);
  });

  it('takes the larger of max_completion_tokens and max_tokens, and a provider default when the client sets none', () => {
    expect(outputCap({ op: 'chat', body: { max_completion_tokens: 5, max_tokens: 9000 } }, route, 10)).toBe(9000);
    expect(outputCap({ op: 'chat', body: {} }, route, 10, () => 32_000)).toBe(32_000);
    const windows = { targets: [{ ...route.targets[0], contextWindow: 8000 }, { ...route.targets[0], contextWindow: 128_000 }] } as unknown as RouteConfig;
    expect(outputCap({ op: 'chat', body: {} }, windows, 1000)).toBe(127_000);
  });
});

describe('usage from an upstream that cannot be true is treated as missing', () => {
  it.each([
    { inputTokens: -1000, outputTokens: 5, cachedInputTokens: 0 },
    { inputTokens: 10, outputTokens: -5, cachedInputTokens: 0 },
    { inputTokens: 10, outputTokens: 1e12, cachedInputTokens: 0 },
    { inputTokens: 10.5, outputTokens: 5, cachedInputTokens: 0 },
    { inputTokens: 10, outputTokens: 5, cachedInputTokens: 50 },
    { inputTokens: Number.NaN, outputTokens: 5, cachedInputTokens: 0 },
  ])('%o', (bad) => {
    const body = { choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(40) } }] };
    expect(responseUsage(bad, body, 12)).toEqual({ usage: { inputTokens: 12, outputTokens: 10, cachedInputTokens: 0 }, estimated: 'invalid' });
    const meter = new StreamMeter(12);
    meter.observe({ choices: [{ index: 0, delta: { content: 'x'.repeat(40) } }] });
    meter.report(bad);
    expect(meter.result()).toEqual({ usage: { inputTokens: 12, outputTokens: 10, cachedInputTokens: 0 }, estimated: 'invalid' });
  });

  it('treats all-zero usage as missing (mappers read an absent usage object as zeros)', () => {
    const zero = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
    expect(responseUsage(zero, { choices: [] }, 9)).toEqual({ usage: { inputTokens: 9, outputTokens: 0, cachedInputTokens: 0 }, estimated: 'missing' });
    const meter = new StreamMeter(9);
    meter.report(zero);
    expect(meter.result().estimated).toBe('missing');
    meter.report({ inputTokens: 9, outputTokens: 1, cachedInputTokens: 0 });
    expect(meter.result()).toEqual({ usage: { inputTokens: 9, outputTokens: 1, cachedInputTokens: 0 } });
    meter.report({ inputTokens: -9, outputTokens: 1, cachedInputTokens: 0 });
    meter.report({ inputTokens: 9, outputTokens: 2, cachedInputTokens: 0 });
    expect(meter.result().estimated).toBe('invalid');
  });

  it('estimates the output of a response without usage from every choice', () => {
    const body = { choices: [0, 1, 2].map((index) => ({ index, message: { role: 'assistant', content: 'abcd'.repeat(10), tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] } })) };
    expect(estimateOutputTokens(body)).toBeGreaterThan(30);
    expect(responseUsage(undefined, body, 7).estimated).toBe('missing');
  });

  it("counts a message's text even when the message says it is an image (only a part's image is counted as one)", () => {
    const text = 'x'.repeat(400_000);
    const plain = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: text }] });
    const disguised = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', type: 'image_url', content: text }] });
    expect(plain).toBeGreaterThan(100_000);
    expect(disguised).toBeGreaterThanOrEqual(plain);
    // A real image part: its data URI is an image, not text.
    const image = estimatePromptTokens({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${text}` } }] }] });
    expect(image).toBeLessThan(IMAGE_TOKENS.other + 100);
  });
});

describe('output estimate of a native Responses answer', () => {
  it("counts a cut stream's reasoning, reasoning summary and call-input deltas, not only its text", () => {
    const x = 'x'.repeat(400);
    for (const type of ['response.reasoning_text.delta', 'response.reasoning_summary_text.delta', 'response.custom_tool_call_input.delta', 'response.mcp_call_arguments.delta', 'response.code_interpreter_call_code.delta', 'response.function_call_arguments.delta', 'response.refusal.delta', 'response.output_text.delta']) {
      expect(estimateOutputTokens({ type, delta: x }), type).toBe(100);
    }
    // Events that are not output: nothing.
    expect(estimateOutputTokens({ type: 'response.in_progress', delta: x })).toBe(0);
  });

  it("counts a Response's reasoning summary and every call's input", () => {
    const response = {
      object: 'response',
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'a'.repeat(400) }] },
        { type: 'custom_tool_call', input: 'b'.repeat(400) },
        { type: 'code_interpreter_call', code: 'c'.repeat(400) },
        { type: 'message', content: [{ type: 'output_text', text: 'd'.repeat(400) }] },
      ],
    };
    expect(estimateOutputTokens(response)).toBe(400);
  });
});

describe("prompt on a target: images at its model's bound, media at most its window", () => {
  const told = (body: Record<string, unknown>): PromptParts => {
    const parts: PromptParts = { tokens: 0 };
    parts.tokens = estimatePromptTokens(body, parts);
    return parts;
  };
  const image = (detail?: string) => ({ type: 'image_url', image_url: { url: 'https://x.test/a.png', ...(detail === undefined ? {} : { detail }) } });
  const ask = (...content: unknown[]) => told({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it' }, ...content] }] });
  const on = (model: string, parts: PromptParts, contextWindow?: number) => promptTokensOn({ model, contextWindow }, parts.tokens, parts.media);

  it('holds a gpt-4o-mini image at 48,169 (2,833 at low: the 5,000 every image is), any other model at IMAGE_TOKENS', () => {
    const text = ask();
    const three = ask(image(), image('high'), image('low'));
    const rest = three.tokens - 3 * IMAGE_TOKENS.other;
    expect(rest).toBe(text.tokens);
    expect(on('gpt-4o-mini', three)).toBe(rest + 2 * 48_169 + IMAGE_TOKENS.other);
    // By family, after a provider prefix, any case.
    expect(on('openai/GPT-4o-mini-2024-07-18', three)).toBe(rest + 2 * 48_169 + IMAGE_TOKENS.other);
    expect(on('gpt-4o-mini', ask(image('original')))).toBe(text.tokens + 48_169);
    for (const model of ['gpt-4o', 'gpt-4.1-nano', 'o4-mini', 'claude-opus-4-7', 'my-deployment']) expect(on(model, three)).toBe(three.tokens);
    // Without media, the estimate.
    expect(on('gpt-4o-mini', text)).toBe(text.tokens);
  });

  it("holds images, an inline PDF's pages and files by id at most at what the target's window leaves of the rest", () => {
    const three = ask(image(), image(), image());
    expect(on('gpt-4o-mini', three, 128_000)).toBe(128_000);
    expect(on('gpt-4o', three, 8_000)).toBe(8_000);
    // A window smaller than the text: the text, nothing more.
    expect(on('gpt-4o', three, 10)).toBe(three.tokens - 3 * IMAGE_TOKENS.other);
    const kids = [3, 4, 5].map((n) => `${n} 0 R`).join(' ');
    const pages = [3, 4, 5].map((n) => `${n} 0 obj << /Type /Page /Parent 2 0 R >> endobj`).join('\n');
    const pdf = Buffer.from(`%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [${kids}] /Count 3 >> endobj\n${pages}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1').toString('base64');
    const doc = ask({ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } });
    expect(doc.tokens).toBeGreaterThan(30_000);
    expect(on('gpt-4o', doc)).toBe(doc.tokens);
    expect(on('gpt-4o', doc, 20_000)).toBe(20_000);
    const byId = ask({ type: 'file', file: { file_id: 'file-1' } });
    expect(on('gpt-4o', byId)).toBe(byId.tokens + UNREAD_FILE_TOKENS);
    expect(on('gpt-4o', byId, 1000)).toBe(1000);
  });
});

describe('a value a prompt is made from as it is (an eval run item, its template)', () => {
  it('without media parts: the estimate of its JSON text, as before', () => {
    const item = { item: { question: 'two plus two', tags: ['a', 'b'] } };
    const told: PromptParts = { tokens: 0 };
    expect(estimateValueTokens(item, told)).toBe(estimateTokens(JSON.stringify(item)));
    expect(told.media).toBeUndefined();
    expect(estimateValueTokens(undefined, told)).toBe(0);
  });

  it("an image by URL at the target model's bound, a file by id at the unread-file bound (before: their bytes)", () => {
    const item = { item: { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/c.png' }, { type: 'input_file', file_id: 'file-1' }] }] } };
    const told: PromptParts = { tokens: 0 };
    const tokens = estimateValueTokens(item, told);
    expect(tokens).toBeGreaterThanOrEqual(IMAGE_TOKENS.other);
    expect(told.media).toMatchObject({ images: 1, files: 1, imageTokens: IMAGE_TOKENS.other });
    expect(promptTokensOn({ model: 'gpt-4o-mini' }, tokens, told.media)).toBeGreaterThanOrEqual(48_169 + UNREAD_FILE_TOKENS);
    // Twice in a prompt (a template that substitutes it twice) beside a template's own image.
    const twice = combinedMedia(told.media, told.media, 2);
    expect(twice).toMatchObject({ images: 3, files: 3, imageTokens: 3 * IMAGE_TOKENS.other });
    expect(combinedMedia(told.media, undefined, 2)).toBe(told.media);
  });
});
