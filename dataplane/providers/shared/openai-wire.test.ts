import { describe, expect, it } from 'vitest';
import { toOpenAiWire } from './openai-wire.js';

describe('canonical extensions on the OpenAI wire', () => {
  it('drops hints and thinking (a model without reasoning_effort), puts a tool error in its text, and moves tool-result images after the run of tool messages', () => {
    const body = {
      model: 'm',
      thinking: { type: 'enabled', budget_tokens: 2000 },
      tools: [{ type: 'function', function: { name: 'shot' }, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'S', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: [{ type: 'thinking', thinking: 'hm', signature: 's' }],
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'shot', arguments: '{}' }, cache_control: { type: 'ephemeral' } },
            { id: 'b', type: 'function', function: { name: 'read', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: [{ type: 'text', text: 'screen' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' }, cache_control: { type: 'ephemeral' } }], cache_control: { type: 'ephemeral' } },
        { role: 'tool', tool_call_id: 'b', content: 'missing', is_error: true },
        { role: 'user', content: 'go on' },
      ],
    };
    expect(toOpenAiWire(body, 'gpt-4o')).toEqual({
      model: 'm',
      tools: [{ type: 'function', function: { name: 'shot' } }],
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'S' }] },
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'shot', arguments: '{}' } },
            { id: 'b', type: 'function', function: { name: 'read', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: 'screen' },
        { role: 'tool', tool_call_id: 'b', content: 'Error: missing' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] },
        { role: 'user', content: 'go on' },
      ],
    });
    // The client's body is not changed.
    expect(body.messages[3]).toHaveProperty('cache_control');
  });

  it("a tool result's files follow the tool messages like its images (OpenAI takes files only from users)", () => {
    const body = {
      model: 'm',
      messages: [
        { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'report', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'a', content: [{ type: 'text', text: 'attached' }, { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'r.pdf' } }] },
      ],
    };
    expect(toOpenAiWire(body, 'gpt-4o').messages).toEqual([
      body.messages[0],
      { role: 'tool', tool_call_id: 'a', content: 'attached' },
      { role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'r.pdf' } }] },
    ]);
  });

  it('thinking becomes reasoning_effort for a reasoning model, by budget band', () => {
    const ask = (budget: number, model = 'o3'): unknown => toOpenAiWire({ model: 'm', thinking: { type: 'enabled', budget_tokens: budget }, messages: [] }, model).reasoning_effort;
    expect(ask(1024)).toBe('low');
    expect(ask(4095)).toBe('low');
    expect(ask(4096)).toBe('medium');
    expect(ask(16383)).toBe('medium');
    expect(ask(16384)).toBe('high');
    expect(ask(60000, 'gpt-5-mini')).toBe('high');
    expect(ask(2048, 'openai/o4-mini')).toBe('low');
    expect(ask(2048, 'gpt-oss-120b')).toBe('low');
    // Models that refuse the field get none.
    for (const model of ['gpt-4o', 'gpt-4.1', 'o1-mini', 'o1-preview', 'gpt-5-chat-latest', 'gpt-5-pro', 'omni-moderation-latest', 'llama-3.1-8b']) expect(ask(2048, model)).toBeUndefined();
    const body = { model: 'm', thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [] };
    expect(toOpenAiWire(body, 'o3')).not.toHaveProperty('thinking');
  });

  it('disabled and adaptive thinking send no reasoning_effort; a body that has one keeps it', () => {
    expect(toOpenAiWire({ thinking: { type: 'disabled' }, messages: [] }, 'o3')).toEqual({ messages: [] });
    expect(toOpenAiWire({ thinking: { type: 'adaptive' }, messages: [] }, 'o3')).toEqual({ messages: [] });
    expect(toOpenAiWire({ thinking: { type: 'enabled', budget_tokens: 30000 }, reasoning_effort: 'low', messages: [] }, 'o3').reasoning_effort).toBe('low');
  });
});
