import { describe, expect, it } from 'vitest';
import { toOpenAiWire } from './openai-wire.js';

describe('canonical extensions on the OpenAI wire', () => {
  it('drops hints and thinking, puts a tool error in its text, and moves tool-result images after the run of tool messages', () => {
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
    expect(toOpenAiWire(body)).toEqual({
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
    expect(toOpenAiWire(body).messages).toEqual([
      body.messages[0],
      { role: 'tool', tool_call_id: 'a', content: 'attached' },
      { role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'r.pdf' } }] },
    ]);
  });
});
