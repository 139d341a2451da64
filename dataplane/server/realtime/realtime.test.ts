import { describe, expect, it } from 'vitest';
import { realtimeUsage } from './realtime-usage.js';

describe('realtime', () => {
  it('reads usage from response.done only', () => {
    const done = { type: 'response.done', response: { usage: { input_tokens: 20, output_tokens: 6, input_token_details: { cached_tokens: 4 } } } };
    expect(realtimeUsage(Buffer.from(JSON.stringify(done)))).toEqual({ inputTokens: 20, outputTokens: 6, cachedInputTokens: 4 });
    expect(realtimeUsage(Buffer.from(JSON.stringify({ type: 'response.output_text.delta', delta: 'response.done' })))).toBeUndefined();
    expect(realtimeUsage(Buffer.from('{"type":"response.done"'))).toBeUndefined();
    expect(realtimeUsage([Buffer.from('{"type":"response.done",'), Buffer.from('"response":{"usage":{"input_tokens":1,"output_tokens":2}}}')])).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 });
  });
});
