import { describe, expect, it } from 'vitest';
import type { SseEvent } from '../../sse/sse-parser.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import { anthropicAdapter } from './anthropic-adapter.js';
import { finishReasonFrom, fromAnthropicResponse, usageFromAnthropic } from './anthropic-response.js';
import { AnthropicStreamTransformer } from './anthropic-stream.js';
import { classifyAnthropicError, streamErrorFailure } from './anthropic-errors.js';

const ev = (data: unknown): SseEvent => ({ event: (data as { type: string }).type, data: JSON.stringify(data) });
const req = (body: Record<string, unknown>): CanonicalRequest => ({ op: 'chat', body: { model: 'm', ...body }, stream: false, clientWantsUsage: false });

describe('anthropic adapter', () => {
  it('maps stop reasons', () => {
    expect(finishReasonFrom('end_turn')).toBe('stop');
    expect(finishReasonFrom('stop_sequence')).toBe('stop');
    expect(finishReasonFrom('max_tokens')).toBe('length');
    expect(finishReasonFrom('tool_use')).toBe('tool_calls');
    expect(finishReasonFrom('refusal')).toBe('content_filter');
    expect(finishReasonFrom('pause_turn')).toBe('stop');
  });

  it('counts cache reads and writes inside prompt tokens, and keeps the writes apart', () => {
    expect(usageFromAnthropic({ input_tokens: 3, cache_creation_input_tokens: 4, cache_read_input_tokens: 5, output_tokens: 2 })).toEqual({ inputTokens: 12, outputTokens: 2, cachedInputTokens: 5, cacheWriteTokens: 4 });
    expect(usageFromAnthropic({ input_tokens: 3, output_tokens: 2 })).toEqual({ inputTokens: 3, outputTokens: 2, cachedInputTokens: 0 });
  });

  it('a matched stop sequence is named in the choice (stop_reason, as vLLM does), JSON and stream', () => {
    const res = { id: 'msg_1', type: 'message' as const, role: 'assistant' as const, model: 'c', content: [{ type: 'text' as const, text: 'a' }], usage: { input_tokens: 1, output_tokens: 1 } };
    expect(fromAnthropicResponse({ ...res, stop_reason: 'stop_sequence', stop_sequence: 'END' }, 0).body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'a', refusal: null }, logprobs: null, finish_reason: 'stop', stop_reason: 'END' },
    ]);
    expect(fromAnthropicResponse({ ...res, stop_reason: 'end_turn', stop_sequence: null }, 0).body.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'a', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ]);
    const t = new AnthropicStreamTransformer(false, 0);
    t.onEvent(ev({ type: 'message_start', message: { ...res, content: [], stop_reason: null, stop_sequence: null } }));
    expect(t.onEvent(ev({ type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' }, usage: { output_tokens: 1 } })).chunks[0]).toMatchObject({ choices: [{ finish_reason: 'stop', stop_reason: 'END' }] });
  });

  it('stream: refuses a content block index that is not an integer 0-1023, before keeping anything by it', () => {
    for (const index of ['x'.repeat(100_000), 5000, -1]) {
      const t = new AnthropicStreamTransformer(false, 0);
      const step = t.onEvent(ev({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }));
      expect(step.chunks).toEqual([]);
      expect(step.failure?.message).toMatch(/^upstream stream names content block .*; the gateway accepts integers 0 to 1023$/);
    }
  });

  it('stream: thinking deltas are reasoning_content, a signature or a redacted block thinking_blocks (canonical extensions)', () => {
    const t = new AnthropicStreamTransformer(false, 0);
    expect(t.onEvent(ev({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } })).chunks).toEqual([]);
    expect(t.onEvent(ev({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm, 12 × 7' } })).chunks[0]).toMatchObject({ choices: [{ delta: { reasoning_content: 'hmm, 12 × 7' } }] });
    const signed = t.onEvent(ev({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }));
    expect(signed.chunks[0]).toMatchObject({ choices: [{ delta: { thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'EqQBCgIYAhIM' }] } }] });
    expect(signed.hiddenOutputBytes).toBeUndefined();
    const redacted = t.onEvent(ev({ type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3' } }));
    expect(redacted.chunks[0]).toMatchObject({ choices: [{ delta: { thinking_blocks: [{ type: 'redacted_thinking', data: 'EmwKAhgBEgy3' }] } }] });
  });

  it('stream: tool call argument fragments keep a separate tool index; usage is cumulative', () => {
    const t = new AnthropicStreamTransformer(true, 7);
    t.onEvent(ev({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'c', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }));
    t.onEvent(ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    expect(t.onEvent(ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } })).chunks[0]).toMatchObject({ choices: [{ delta: { content: 'Hi' } }] });
    const start = t.onEvent(ev({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }));
    expect(start.chunks[0]).toMatchObject({ choices: [{ delta: { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '' } }] } }] });
    expect(t.onEvent(ev({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } })).chunks).toEqual([]);
    const frag = t.onEvent(ev({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }));
    expect(frag.chunks[0]).toMatchObject({ choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] } }] });
    expect(t.onEvent(ev({ type: 'ping' })).chunks).toEqual([]);
    const delta = t.onEvent(ev({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } }));
    expect(delta.chunks[0]).toMatchObject({ choices: [{ finish_reason: 'tool_calls' }] });
    const stop = t.onEvent(ev({ type: 'message_stop' }));
    expect(stop.done).toBe(true);
    expect(stop.usage).toEqual({ inputTokens: 9, outputTokens: 5, cachedInputTokens: 0 });
    expect(stop.chunks[0]).toMatchObject({ id: 'msg_1', created: 7, choices: [], usage: { prompt_tokens: 9, completion_tokens: 5 } });
  });

  it('an account out of credit (402 billing_error, or a 400 about the balance) is exhausted quota, not a client error; 529 is an overload', () => {
    const billing = classifyAnthropicError(402, {}, JSON.stringify({ type: 'error', error: { type: 'billing_error', message: 'Your account has run out of credit' } }));
    expect(billing).toMatchObject({ kind: 'RateLimited', quotaExhausted: true });
    const balance = classifyAnthropicError(400, {}, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } }));
    expect(balance).toMatchObject({ kind: 'RateLimited', quotaExhausted: true });
    expect(balance.clientBody).toBeUndefined();
    const invalid = classifyAnthropicError(400, {}, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: too large' } }));
    expect(invalid).toMatchObject({ kind: 'ClientError' });
    expect(invalid.quotaExhausted).toBeUndefined();
    expect(classifyAnthropicError(529, {}, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }))).toMatchObject({ kind: 'ServerError', overloaded: true });
    expect(streamErrorFailure('overloaded_error', 'Overloaded')).toMatchObject({ kind: 'ServerError', overloaded: true });
    expect(classifyAnthropicError(401, {}, JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }))).toMatchObject({ kind: 'ServerError', refused: 'credentials' });
    expect(classifyAnthropicError(403, {}, JSON.stringify({ type: 'error', error: { type: 'permission_error', message: 'no access' } }))).toMatchObject({ kind: 'ServerError', refused: 'credentials' });
    expect(classifyAnthropicError(404, {}, JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'model: claude-x' } }))).toMatchObject({ kind: 'ServerError', refused: 'configuration' });
  });

  it('stream: an error event is a failure; an early end is a failure', () => {
    const t = new AnthropicStreamTransformer(false, 0);
    expect(t.onEvent(ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).failure).toMatchObject({ kind: 'ServerError' });
    expect(new AnthropicStreamTransformer(false, 0).onEnd().failure).toBeDefined();
  });

  it('classifies 529 as retryable and context length as its own kind', () => {
    expect(anthropicAdapter.classifyError(529, {}, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}').kind).toBe('ServerError');
    expect(anthropicAdapter.classifyError(429, { 'retry-after': '3' }, '{"type":"error","error":{"type":"rate_limit_error","message":"x"}}')).toMatchObject({ kind: 'RateLimited', retryAfterMs: 3000 });
    expect(anthropicAdapter.classifyError(400, {}, '{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 3 tokens > 2 maximum"}}').kind).toBe('ContextLengthExceeded');
  });

  it('request: the parts of content documents (document_part) go back as one document each, adjacent ones apart, members from the first part', () => {
    const r = anthropicAdapter.buildRequest(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'A1', document: { title: 'A', cache_control: { type: 'ephemeral' } }, document_part: 0 },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' }, document_part: 1 },
              { type: 'text', text: 'B1', document: {}, document_part: 0 },
              { type: 'text', text: 'after' },
            ],
          },
        ],
      }),
      { baseUrl: 'http://a', model: 'claude', apiKey: 'k', headers: {} },
    );
    expect((JSON.parse(r.body) as { messages: unknown }).messages).toEqual([
      {
        role: 'user',
        content: [
          {
            type: 'document',
            title: 'A',
            cache_control: { type: 'ephemeral' },
            source: { type: 'content', content: [{ type: 'text', text: 'A1' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
          },
          { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'B1' }] } },
          { type: 'text', text: 'after' },
        ],
      },
    ]);
  });

  it('request: system hoisted, tool results in a user turn, max_tokens defaulted, bad arguments rejected', () => {
    const r = anthropicAdapter.buildRequest(
      req({
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'r' },
          { role: 'user', content: 'more' },
        ],
        stop: 'END',
      }),
      { baseUrl: 'http://a', model: 'claude', apiKey: 'k', headers: {} },
    );
    const body = JSON.parse(r.body) as Record<string, unknown>;
    expect(r.headers['x-api-key']).toBe('k');
    expect(body).toMatchObject({ model: 'claude', max_tokens: 4096, system: [{ type: 'text', text: 'S' }], stop_sequences: ['END'] });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'q' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: { x: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: 'r' }, { type: 'text', text: 'more' }] },
    ]);
    expect(() =>
      anthropicAdapter.buildRequest(req({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{' } }] }] }), { baseUrl: 'http://a', model: 'c', headers: {} }),
    ).toThrow(/not valid JSON/);
  });
});
