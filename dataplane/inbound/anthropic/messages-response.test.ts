import { describe, expect, it } from 'vitest';
import { anthropicUsage, stopOf, toAnthropicMessage } from './messages-response.js';
import { MessagesStreamEncoder } from './messages-stream.js';

describe('OpenAI → Anthropic message', () => {
  it('stop_sequence only when the choice names one of the request stop sequences', () => {
    expect(stopOf({ finish_reason: 'stop', stop_reason: 'END' }, ['END'])).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    // vLLM reports a stop token id as a number; an unknown string is not trusted either.
    expect(stopOf({ finish_reason: 'stop', stop_reason: 128009 }, ['END'])).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    expect(stopOf({ finish_reason: 'stop', stop_reason: 'OTHER' }, ['END'])).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    expect(stopOf({ finish_reason: 'length', stop_reason: 'END' }, ['END'])).toEqual({ stop_reason: 'max_tokens', stop_sequence: null });
  });

  it('usage: the canonical usage keeps cache writes apart; the OpenAI usage alone cannot', () => {
    const openAi = { prompt_tokens: 20, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 5 } };
    expect(anthropicUsage(openAi)).toEqual({ input_tokens: 15, output_tokens: 8, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 });
    expect(anthropicUsage(openAi, { inputTokens: 20, outputTokens: 8, cachedInputTokens: 5, cacheWriteTokens: 5 })).toEqual({
      input_tokens: 10,
      output_tokens: 8,
      cache_read_input_tokens: 5,
      cache_creation_input_tokens: 5,
      cache_creation: { ephemeral_5m_input_tokens: 5, ephemeral_1h_input_tokens: 0 },
    });
    // The hour-long writes, as the upstream reported them.
    expect(anthropicUsage(openAi, { inputTokens: 20, outputTokens: 8, cachedInputTokens: 5, cacheWriteTokens: 5, cacheWrite1hTokens: 2 }).cache_creation).toEqual({ ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 2 });
    const body = { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop', stop_reason: 'END' }], usage: openAi };
    expect(toAnthropicMessage(body, 'm', { stopSequences: ['END'], usage: { inputTokens: 20, outputTokens: 8, cachedInputTokens: 5, cacheWriteTokens: 5 } })).toMatchObject({
      stop_reason: 'stop_sequence',
      stop_sequence: 'END',
      usage: { input_tokens: 10, cache_creation_input_tokens: 5 },
    });
  });

  it("an OpenAI refusal is the answer's text, stop_reason refusal", () => {
    const body = { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: "I can't help with that." }, finish_reason: 'stop' }] };
    expect(toAnthropicMessage(body, 'm')).toMatchObject({ content: [{ type: 'text', text: "I can't help with that." }], stop_reason: 'refusal', stop_sequence: null });
  });

  it('thinking blocks come first, signed; reasoning text without blocks (vLLM) is one unsigned thinking block', () => {
    const blocks = [
      { type: 'thinking', thinking: 'hm', signature: 'sig' },
      { type: 'redacted_thinking', data: 'enc' },
    ];
    const body = { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'A', thinking_blocks: blocks }, finish_reason: 'stop' }] };
    expect(toAnthropicMessage(body, 'm').content).toEqual([...blocks, { type: 'text', text: 'A' }]);
    const vllm = { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'A', reasoning_content: 'hm' }, finish_reason: 'stop' }] };
    expect(toAnthropicMessage(vllm, 'm').content).toEqual([{ type: 'thinking', thinking: 'hm', signature: '' }, { type: 'text', text: 'A' }]);
  });

  it('stream: reasoning becomes a thinking block closed by its signature; a redacted block stands alone', () => {
    const enc = new MessagesStreamEncoder('m');
    const events = [
      ...enc.chunk({ id: 'c', choices: [{ index: 0, delta: { reasoning_content: 'hm, ' }, finish_reason: null }] }),
      ...enc.chunk({ id: 'c', choices: [{ index: 0, delta: { reasoning_content: 'ok' }, finish_reason: null }] }),
      ...enc.chunk({ id: 'c', choices: [{ index: 0, delta: { thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'sig' }] }, finish_reason: null }] }),
      ...enc.chunk({ id: 'c', choices: [{ index: 0, delta: { thinking_blocks: [{ type: 'redacted_thinking', data: 'enc' }] }, finish_reason: null }] }),
      ...enc.chunk({ id: 'c', choices: [{ index: 0, delta: { content: 'A' }, finish_reason: 'stop' }] }),
      ...enc.end(),
    ].filter((e) => e.event.startsWith('content_block'));
    expect(events.map((e) => e.data)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm, ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'ok' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'enc' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'A' } },
      { type: 'content_block_stop', index: 2 },
    ]);
  });

  it('stream: the finish chunk sets stop_sequence; reported usage wins over the usage chunk', () => {
    const enc = new MessagesStreamEncoder('m', ['END']);
    enc.chunk({ id: 'c', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] });
    enc.chunk({ id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop', stop_reason: 'END' }] });
    enc.chunk({ id: 'c', choices: [], usage: { prompt_tokens: 20, completion_tokens: 8 } });
    enc.reportUsage({ inputTokens: 20, outputTokens: 8, cachedInputTokens: 5, cacheWriteTokens: 5 });
    const delta = enc.end().find((e) => e.event === 'message_delta');
    expect(delta?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' },
      usage: { input_tokens: 10, output_tokens: 8, cache_read_input_tokens: 5, cache_creation_input_tokens: 5, cache_creation: { ephemeral_5m_input_tokens: 5, ephemeral_1h_input_tokens: 0 } },
    });
  });
});
