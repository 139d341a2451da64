import { describe, expect, it } from 'vitest';
import { codeInterpreterAsk, containerGbOfResponse, containerMemoryGb, toolFeeUnits } from './container-sessions.js';
import { billedUsageOfResponse } from '../providers/shared/native-responses.js';
import { costUsd, unitCostUsd } from './cost.js';

describe('code interpreter container sessions', () => {
  it('takes a container memory_limit as GB (1 when not said)', () => {
    expect([containerMemoryGb('1g'), containerMemoryGb('4g'), containerMemoryGb('16G'), containerMemoryGb('64g'), containerMemoryGb(undefined), containerMemoryGb('lots')]).toEqual([1, 4, 16, 64, 1, 1]);
  });

  it('charges each container a Response ran in once, at least one per auto tool, none it named', () => {
    const auto = codeInterpreterAsk({ tools: [{ type: 'web_search' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '16g' } }] });
    expect(containerGbOfResponse(auto, undefined)).toBe(16);
    expect(containerGbOfResponse(auto, ['cntr_a', 'cntr_a'])).toBe(16);
    expect(containerGbOfResponse(auto, ['cntr_a', 'cntr_b'])).toBe(32);
    const named = codeInterpreterAsk({ tools: [{ type: 'code_interpreter', container: 'cntr_mine' }] });
    expect(containerGbOfResponse(named, ['cntr_mine'])).toBe(0);
    // Tools the request does not show (a stored prompt's): what the answer names, at 1 GB each.
    expect(containerGbOfResponse(codeInterpreterAsk({ prompt: { id: 'pmpt_1' } }), ['cntr_x'])).toBe(1);
    expect(codeInterpreterAsk({ tools: [{ type: 'function', name: 'f' }] })).toBeUndefined();
  });

  it('prices a Response with code_interpreter_call items at perContainer per GB besides its tokens', () => {
    const response = {
      object: 'response',
      output: [
        { id: 'ci_1', type: 'code_interpreter_call', status: 'completed', code: 'print(1)', container_id: 'cntr_1', outputs: null },
        { id: 'msg_1', type: 'message', role: 'assistant', content: [] },
      ],
      usage: { input_tokens: 1000, output_tokens: 100, input_tokens_details: { cached_tokens: 0 }, total_tokens: 1100 },
    };
    const usage = billedUsageOfResponse(response, { tools: [{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] });
    expect(usage?.containerGb).toBe(4);
    if (usage === undefined) throw new Error('the Response reports usage');
    expect(costUsd(usage, { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perContainerUsd: 0.03 })).toBe(0.12);
    // An auto container is made when the Response starts, whether the model runs code or not.
    expect(billedUsageOfResponse({ ...response, output: [] }, { tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] })?.containerGb).toBe(1);
    expect(billedUsageOfResponse({ ...response, output: [] }, { tools: [] })?.containerGb).toBeUndefined();
  });
});

describe('the tool fees a Budget holds', () => {
  const pricing = { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perWebSearchUsd: 0.01, perFileSearchUsd: 0.0025, perContainerUsd: 0.03 };
  it('holds max_tool_calls calls at the dearest tool offered, and never less than the auto containers asked for', () => {
    const held = (body: Record<string, unknown>) => {
      const units = toolFeeUnits(body);
      return units === undefined ? undefined : unitCostUsd(units, pricing);
    };
    expect(held({ max_tool_calls: 5, tools: [{ type: 'web_search_preview' }, { type: 'file_search', vector_store_ids: ['vs_1'] }] })).toBe(0.05);
    expect(held({ max_tool_calls: 3, tools: [{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }] })).toBe(0.36);
    expect(held({ max_tool_calls: 0, tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] })).toBe(0.03);
    // Unbounded, the auto containers still: they are made whatever the model calls. Before, nothing.
    expect(held({ tools: [{ type: 'web_search' }, { type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }, { type: 'code_interpreter' }] })).toBe(0.24);
    expect(held({ max_tool_calls: null, tools: [{ type: 'code_interpreter', container: 'cntr_mine' }] })).toBeUndefined();
    // Unbounded, or no tool billed per call: nothing held for tools.
    expect(held({ tools: [{ type: 'web_search' }] })).toBeUndefined();
    expect(held({ max_tool_calls: 5, tools: [{ type: 'function', name: 'f' }] })).toBeUndefined();
  });
});
