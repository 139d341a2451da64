import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../core/canonical.js';
import { MAX_STREAM_CHOICES, MAX_STREAM_TOOL_CALLS, streamIndexFailure } from './stream-bounds.js';

const step = (choices: unknown[]) => ({ chunks: [{ object: 'chat.completion.chunk', choices } as JsonObject] });
const call = (index: unknown) => ({ index: 0, delta: { tool_calls: [{ index, function: { arguments: '' } }] } });

describe('the indexes a stream may name', () => {
  it('takes choices and tool calls 0 to 127, or none named', () => {
    for (const choices of [[{ index: 0 }], [{ index: MAX_STREAM_CHOICES - 1 }], [{ delta: {} }], [call(MAX_STREAM_TOOL_CALLS - 1)], [call(undefined)], [], ['not an object']]) {
      expect(streamIndexFailure(step(choices))).toBeUndefined();
    }
    expect(streamIndexFailure({ chunks: [{ object: 'x' }] })).toBeUndefined();
  });

  it('refuses any other choice or tool-call index, naming it', () => {
    for (const [choices, named] of [
      [[{ index: MAX_STREAM_CHOICES }], 'choice index 128'],
      [[{ index: -1 }], 'choice index -1'],
      [[{ index: 1.5 }], 'choice index 1.5'],
      [[{ index: '0' }], 'choice index 0'],
      [[{ index: 1e8 }], 'choice index 100000000'],
      [[call(MAX_STREAM_TOOL_CALLS)], 'tool call index 128'],
      [[call(Number.NaN)], 'tool call index NaN'],
    ] as const) {
      expect(streamIndexFailure(step([...choices]))).toMatchObject({ kind: 'ServerError', status: 200, message: expect.stringContaining(`names ${named};`) });
    }
  });
});
