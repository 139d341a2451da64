import { describe, expect, it } from 'vitest';
import { chunkHasContent } from './stream-start.js';

const chunk = (choice: object, extra: object = {}): Record<string, unknown> => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, ...choice }], ...extra });

describe('chunkHasContent', () => {
  it('an opening role chunk says nothing (OpenAI with refusal: null, Anthropic message_start, an empty completions text)', () => {
    expect(chunkHasContent(chunk({ delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }))).toBe(false);
    expect(chunkHasContent(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }))).toBe(false);
    expect(chunkHasContent(chunk({ text: '', logprobs: null, finish_reason: null }))).toBe(false);
    expect(chunkHasContent(chunk({ delta: { role: 'assistant' } }, { usage: null }))).toBe(false);
    expect(chunkHasContent({ id: 'c', choices: [] })).toBe(false);
  });

  it('content, a tool call, a refusal, a finish reason, completions text or usage do', () => {
    expect(chunkHasContent(chunk({ delta: { content: 'Hi' } }))).toBe(true);
    expect(chunkHasContent(chunk({ delta: { role: 'assistant', tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: '' } }] } }))).toBe(true);
    expect(chunkHasContent(chunk({ delta: { refusal: 'no' } }))).toBe(true);
    expect(chunkHasContent(chunk({ delta: {}, finish_reason: 'stop' }))).toBe(true);
    expect(chunkHasContent(chunk({ text: 'Hi', finish_reason: null }))).toBe(true);
    expect(chunkHasContent({ id: 'c', choices: [], usage: { prompt_tokens: 1 } })).toBe(true);
  });
});
