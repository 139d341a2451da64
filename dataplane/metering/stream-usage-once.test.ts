import { describe, expect, it } from 'vitest';
import { eventStreamMessage } from '../../test/emulators/bedrock.js';
import type { CanonicalRequest, StreamStep, Usage } from '../core/canonical.js';
import { anthropicAdapter } from '../providers/anthropic/index.js';
import { bedrockAdapter } from '../providers/bedrock/index.js';
import { geminiAdapter } from '../providers/gemini/index.js';
import { openAiResponsesAdapter } from '../providers/openai/index.js';
import { StreamMeter } from './stream-meter.js';

// Every stream wire format that reports usage more than once reports it cumulatively (running
// totals, or the whole answer's on a final event): a stream is charged its last report, never the
// sum of its reports. Each case here sends usage at least twice, as the upstream may, and checks the
// meter charges it once.

const chat: CanonicalRequest = { op: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, stream: true, clientWantsUsage: true };
/** What every case's upstream finally reports: prompt 20 (5 of them cached), output 8. */
const FINAL: Usage = { inputTokens: 20, outputTokens: 8, cachedInputTokens: 5 };

/** The steps into a meter as the stream pump feeds it (stream-pump.ts), and what it charges. */
function metered(steps: readonly StreamStep[]): ReturnType<StreamMeter['result']> {
  const meter = new StreamMeter(1);
  for (const step of steps) {
    if (step.partialUsage !== undefined) meter.reportPartial(step.partialUsage);
    if (step.usage !== undefined) meter.report(step.usage);
  }
  return meter.result();
}

function sse(adapterReq: CanonicalRequest, create: typeof anthropicAdapter.createStreamTransformer, events: readonly { event?: string; data: unknown }[]): StreamStep[] {
  const t = create(adapterReq);
  return [...events.map((e) => t.onEvent({ ...(e.event === undefined ? {} : { event: e.event }), data: JSON.stringify(e.data) })), t.onEnd()];
}

describe('a stream is charged its usage once', () => {
  it("chat completions: the include_usage chunk, and an OpenAI-compatible server's running totals on every chunk (vLLM continuous_usage_stats)", () => {
    const chunk = (content: string | undefined, usage: unknown, finish: string | null = null): { data: unknown } => ({
      data: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: content === undefined ? [] : [{ index: 0, delta: { content }, finish_reason: finish }], usage },
    });
    const u = (completion: number): unknown => ({ prompt_tokens: 20, completion_tokens: completion, total_tokens: 20 + completion, prompt_tokens_details: { cached_tokens: 5 } });
    const create = openAiResponsesAdapter.createStreamTransformer.bind(openAiResponsesAdapter);
    const once = sse(chat, create, [chunk('Hel', null), chunk('lo', null, 'stop'), chunk(undefined, u(8)), { data: '[DONE]' }]);
    expect(metered(once)).toEqual({ usage: FINAL });
    const running = sse(chat, create, [chunk('Hel', u(3)), chunk('lo', u(6), 'stop'), chunk(undefined, u(8)), { data: '[DONE]' }]);
    expect(metered(running)).toEqual({ usage: FINAL });
  });

  it('Responses API: only the terminal response.completed, not the usage-less snapshots before it', () => {
    const req: CanonicalRequest = { ...chat, native: { api: 'responses', body: { model: 'm', input: 'hi', stream: true } } };
    const response = (status: string, usage: unknown): unknown => ({ id: 'resp_1', object: 'response', status, output: [], usage });
    const steps = sse(req, openAiResponsesAdapter.createStreamTransformer.bind(openAiResponsesAdapter), [
      { event: 'response.created', data: { type: 'response.created', sequence_number: 0, response: response('in_progress', null) } },
      { event: 'response.in_progress', data: { type: 'response.in_progress', sequence_number: 1, response: response('in_progress', null) } },
      { event: 'response.output_text.delta', data: { type: 'response.output_text.delta', sequence_number: 2, item_id: 'm1', output_index: 0, content_index: 0, delta: 'Hello' } },
      { event: 'response.completed', data: { type: 'response.completed', sequence_number: 3, response: response('completed', { input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 8, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 28 }) } },
    ]);
    expect(steps.filter((s) => s.usage !== undefined)).toHaveLength(1);
    expect(metered(steps)).toEqual({ usage: FINAL });
  });

  it("Anthropic: message_delta's cumulative counts overwrite message_start's, whether or not they repeat the input", () => {
    const start = { event: 'message_start', data: { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 15, cache_read_input_tokens: 5, cache_creation_input_tokens: 0, output_tokens: 1 } } } };
    const text = [
      { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
      { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } } },
      { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    ];
    const delta = (usage: unknown): { event: string; data: unknown } => ({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage } });
    const stop = { event: 'message_stop', data: { type: 'message_stop' } };
    const create = anthropicAdapter.createStreamTransformer.bind(anthropicAdapter);
    expect(metered(sse(chat, create, [start, ...text, delta({ output_tokens: 4 }), delta({ output_tokens: 8 }), stop]))).toEqual({ usage: FINAL });
    // Newer API versions fill the input and cache counts on message_delta too: still the prompt once.
    expect(metered(sse(chat, create, [start, ...text, delta({ input_tokens: 15, cache_read_input_tokens: 5, cache_creation_input_tokens: 0, output_tokens: 8 }), stop]))).toEqual({ usage: FINAL });
  });

  it('Gemini: usageMetadata on several chunks, each the running total: the last one', () => {
    const chunk = (text: string, candidates: number, finish?: string): { data: unknown } => ({
      data: {
        candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...(finish === undefined ? {} : { finishReason: finish }) }],
        usageMetadata: { promptTokenCount: 20, cachedContentTokenCount: 5, candidatesTokenCount: candidates, totalTokenCount: 20 + candidates },
        modelVersion: 'gemini-2.0-flash',
      },
    });
    const steps = sse(chat, geminiAdapter.createStreamTransformer.bind(geminiAdapter), [chunk('Hel', 3), chunk('lo', 6), chunk('!', 8, 'STOP')]);
    expect(metered(steps)).toEqual({ usage: FINAL });
  });

  it('Bedrock: the metadata event after messageStop', () => {
    const event = (type: string, payload: unknown): Buffer => eventStreamMessage({ ':event-type': type, ':message-type': 'event' }, payload);
    const t = bedrockAdapter.createByteStreamTransformer?.(chat, {});
    if (t === undefined) throw new Error('bedrock decodes its own stream');
    const bytes = Buffer.concat([
      event('messageStart', { role: 'assistant' }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
      event('contentBlockStop', { contentBlockIndex: 0 }),
      event('messageStop', { stopReason: 'end_turn' }),
      event('metadata', { usage: { inputTokens: 15, outputTokens: 8, totalTokens: 28, cacheReadInputTokens: 5 }, metrics: { latencyMs: 10 } }),
    ]);
    const steps = [...t.onBytes(bytes), t.onEnd()];
    expect(steps.filter((s) => s.usage !== undefined)).toHaveLength(1);
    expect(metered(steps)).toEqual({ usage: FINAL });
  });
});
