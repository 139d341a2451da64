import { describe, expect, it } from 'vitest';
import { codeInterpreterAsk } from '../../metering/container-sessions.js';
import { ToolCallsSeen } from './native-responses.js';

describe('ToolCallsSeen (the tool fees a Responses stream has shown)', () => {
  it('counts each call once, by its output index, across its added and done events', () => {
    const seen = new ToolCallsSeen(undefined);
    expect(seen.see({ type: 'web_search_call', id: 'ws_1' }, 0)).toBe(true);
    expect(seen.see({ type: 'web_search_call', id: 'ws_1' }, 0)).toBe(false);
    expect(seen.see({ type: 'file_search_call', id: 'fs_1' }, 1)).toBe(true);
    expect(seen.see({ type: 'message', id: 'm' }, 2)).toBe(false);
    expect(seen.fees()).toEqual({ webSearchCalls: 1, fileSearchCalls: 1 });
  });

  it('counts containers as a whole Response does: one per container made, a named one not, the auto ones at least', () => {
    const ask = codeInterpreterAsk({ tools: [{ type: 'code_interpreter', container: 'cntr_named' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] });
    const seen = new ToolCallsSeen(ask);
    expect(seen.fees()).toEqual({ containerGb: 4 });
    // Added without its container, then done naming it: one container, not two.
    expect(seen.see({ type: 'code_interpreter_call', id: 'ci_1' }, 0)).toBe(true);
    expect(seen.see({ type: 'code_interpreter_call', id: 'ci_1', container_id: 'cntr_a' }, 0)).toBe(true);
    expect(seen.fees()).toEqual({ containerGb: 4 });
    expect(seen.see({ type: 'code_interpreter_call', id: 'ci_2', container_id: 'cntr_named' }, 1)).toBe(true);
    expect(seen.see({ type: 'code_interpreter_call', id: 'ci_3', container_id: 'cntr_a' }, 2)).toBe(true);
    expect(seen.fees()).toEqual({ containerGb: 4 });
    expect(seen.see({ type: 'code_interpreter_call', id: 'ci_4', container_id: 'cntr_b' }, 3)).toBe(true);
    expect(seen.fees()).toEqual({ containerGb: 8 });
  });

  it('keeps running counts over many calls (10,000, the most counted), each call once', () => {
    const seen = new ToolCallsSeen(undefined);
    for (let i = 0; i < 12_000; i++) {
      seen.see({ type: i % 2 === 0 ? 'web_search_call' : 'code_interpreter_call', id: `x${i}`, container_id: `c${i % 10}` }, i);
    }
    // Past 10,000 calls the count stops; the containers are the 5 odd ones of c0..c9.
    expect(seen.fees()).toEqual({ webSearchCalls: 5_000, containerGb: 5 });
  });
});
