import type { StreamStep, UpstreamFailure } from '../core/canonical.js';
import { indexInRange, MAX_STREAM_CHOICES, MAX_STREAM_TOOL_CALLS } from '../core/choice-bounds.js';
import { isObject } from '../providers/shared/json-guards.js';

/*
 * One event naming tool call 100,000,000 made the capture assembler stringify a hundred million
 * nulls and V8 abort the whole data plane; a few MB of distinct choice indexes cost the guard
 * minutes of CPU. The bounds are core/choice-bounds.ts's.
 */
export { MAX_STREAM_CHOICES, MAX_STREAM_TOOL_CALLS };

/** A failure when a chunk of the step names a choice or tool-call index out of bounds; undefined when all are in. */
export function streamIndexFailure(step: StreamStep): UpstreamFailure | undefined {
  for (let i = 0; i < step.chunks.length; i++) {
    const choices = step.chunks[i]!.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      if (!indexInRange(choice.index, MAX_STREAM_CHOICES)) return refused(`choice index ${String(choice.index)}`, MAX_STREAM_CHOICES);
      const calls = isObject(choice.delta) ? choice.delta.tool_calls : undefined;
      if (!Array.isArray(calls)) continue;
      for (const call of calls) {
        const callIndex = isObject(call) ? call.index : undefined;
        if (!indexInRange(callIndex, MAX_STREAM_TOOL_CALLS)) return refused(`tool call index ${String(callIndex)}`, MAX_STREAM_TOOL_CALLS);
      }
    }
  }
  return undefined;
}

const refused = (what: string, max: number): UpstreamFailure => ({
  kind: 'ServerError',
  status: 200,
  message: `upstream stream names ${what}; the gateway accepts integers 0 to ${max - 1}`,
});
