import { describe, expect, it } from 'vitest';
import { toGeminiRequest } from '../gemini/gemini-request.js';
import { assistantToolCalls } from './assistant-tool-calls.js';

describe('assistant tool calls', () => {
  const msg = { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }, { type: 'function', function: { name: 'g', arguments: '' } }] };

  it('parses arguments; ids are required only where results are matched by id', () => {
    expect(assistantToolCalls(msg, 2, false)).toEqual([
      { id: 'c1', name: 'f', input: { x: 1 }, param: 'messages.2.tool_calls.0' },
      { name: 'g', input: {}, param: 'messages.2.tool_calls.1' },
    ]);
    expect(() => assistantToolCalls(msg, 2, true)).toThrow(/without id/);
    expect(() => assistantToolCalls({ tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{' } }] }, 0, true)).toThrow(/not valid JSON/);
  });

  it('gemini: function call args must be an object', () => {
    const messages = [{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] }];
    expect(() => toGeminiRequest({ messages })).toThrow(/must be a JSON object/);
  });
});
