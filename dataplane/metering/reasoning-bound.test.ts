import { describe, expect, it, vi } from 'vitest';
import { hiddenReasoningBound, REASONED_AFTER_ANSWER } from './reasoning-bound.js';
import { StreamMeter } from './stream-meter.js';

const delta = (d: Record<string, unknown>) => ({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: d, finish_reason: null }] });

describe('hiddenReasoningBound', () => {
  it('is the time from sending to the first answer token at the rate, within the room left', () => {
    expect(hiddenReasoningBound(1_000, 1_400, 9_000, 4000, 1, 100_000)).toBe(1600);
    // No answer token yet: to the cut.
    expect(hiddenReasoningBound(1_000, 0, 1_500, 4000, 1, 100_000)).toBe(2000);
    // Reasoning showed after the answer had begun: to the cut.
    expect(hiddenReasoningBound(1_000, REASONED_AFTER_ANSWER, 3_000, 100, 1, 100_000)).toBe(200);
    // n choices reason side by side.
    expect(hiddenReasoningBound(1_000, 1_400, 9_000, 4000, 3, 100_000)).toBe(4800);
    // Never past the output cap: the worst case is its ceiling.
    expect(hiddenReasoningBound(1_000, 0, 61_000, 4000, 1, 5_000)).toBe(5_000);
    expect(hiddenReasoningBound(1_000, 0, 61_000, 4000, 1, -3)).toBe(0);
    // The send time unknown: the room.
    expect(hiddenReasoningBound(0, 0, 1_700_000_000_000, 4000, 1, 7_000)).toBe(7_000);
  });
});

describe('StreamMeter: the first answer token, and the bound in its result', () => {
  it('takes the time of the first chunk with answer text, not an opening role chunk or reasoning', () => {
    vi.useFakeTimers({ now: 10_000 });
    try {
      const m = new StreamMeter(10);
      m.observe(delta({ role: 'assistant', content: '' }));
      m.observe(delta({ reasoning_content: 'let me think' }));
      expect(m.answerAt).toBe(0);
      vi.setSystemTime(10_500);
      m.observe(delta({ content: 'Hello' }));
      expect(m.answerAt).toBe(10_500);
      vi.setSystemTime(11_000);
      m.observe(delta({ content: ' there' }));
      expect(m.answerAt).toBe(10_500);
      // Reasoning again after the answer (a server tool between): the window runs to the cut.
      m.observe(delta({ reasoning_content: 'more thought' }));
      expect(m.answerAt).toBe(REASONED_AFTER_ANSWER);
      m.observe(delta({ content: 'x' }));
      expect(m.answerAt).toBe(REASONED_AFTER_ANSWER);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a Responses stream: output text is the answer; reasoning summaries are not', () => {
    const m = new StreamMeter(10);
    m.observe({ type: 'response.reasoning_summary_text.delta', delta: 'thinking' });
    expect(m.answerAt).toBe(0);
    m.observe({ type: 'response.output_text.delta', delta: 'Hi' });
    expect(m.answerAt).toBeGreaterThan(0);
    // A reasoning item after the answer began (after a tool call), even one that shows nothing: the window runs to the cut.
    m.observe({ type: 'response.output_item.added', output_index: 2, item: { id: 'rs_2', type: 'reasoning', summary: [] } });
    expect(m.answerAt).toBe(REASONED_AFTER_ANSWER);
  });

  it('charges the bound on a stream without usage: marked cut_reasoning_bound when cut short, missing when it ended normally', () => {
    const m = new StreamMeter(10);
    m.observe(delta({ content: 'abcdefgh' }));
    // Ended normally without usage (a server that ignores include_usage): its hidden reasoning counts too.
    expect(m.result(500)).toMatchObject({ usage: { outputTokens: 502 }, estimated: 'missing' });
    expect(m.result(0)).toMatchObject({ usage: { outputTokens: 2 }, estimated: 'missing' });
    m.truncated = true;
    expect(m.result(500)).toMatchObject({ usage: { inputTokens: 10, outputTokens: 502 }, estimated: 'cut_reasoning_bound' });
    expect(m.result(0)).toMatchObject({ usage: { outputTokens: 2 }, estimated: 'truncated' });
    // Usage reported on the way (Gemini's thoughts so far) counts when it is more.
    m.reportPartial({ inputTokens: 12, outputTokens: 900, cachedInputTokens: 0 });
    expect(m.result(500)).toMatchObject({ usage: { inputTokens: 12, outputTokens: 900 }, estimated: 'cut_reasoning_bound' });
  });
});
