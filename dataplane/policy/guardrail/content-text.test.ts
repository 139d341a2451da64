import { describe, expect, it } from 'vitest';
import { requestText } from './content-text.js';
import { responseText } from './answer-text.js';

describe('guardrail text of the canonical extensions', () => {
  it('reads thinking sent back and an answer’s thinking blocks; encrypted reasoning is not unreadable text', () => {
    const request = requestText({
      messages: [
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'secret plan', signature: 's' }, { type: 'redacted_thinking', data: 'EmwK' }] },
        { role: 'tool', tool_call_id: 'a', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }], is_error: true },
      ],
    });
    expect(request.slots).toEqual([{ role: 'assistant', text: 'secret plan' }]);
    expect(request.unreadable).toEqual([]);

    const answer = { choices: [{ index: 0, message: { role: 'assistant', content: 'A', thinking_blocks: [{ type: 'thinking', thinking: 'card 4111', signature: 's' }, { type: 'redacted_thinking', data: 'x' }] } }] };
    const text = responseText(answer);
    expect(text.slots.map((s) => s.text)).toEqual(['A', 'card 4111']);
    const masked = text.write(['A', 'card [CARD]']);
    expect(masked).toMatchObject({ choices: [{ message: { thinking_blocks: [{ thinking: 'card [CARD]', signature: 's' }, { data: 'x' }] } }] });
  });
});
