import type { StreamStep, UpstreamFailure } from '../core/canonical.js';
import { isObject } from '../providers/shared/json-guards.js';

/**
 * The choice indexes a stream may name (0–127: OpenAI's `n` goes up to 128), and the tool-call
 * indexes within one choice. Everything after the upstream keeps per-stream state by these
 * indexes (the guard's held text, the capture assembler, the stream's own completeness check),
 * and an upstream is a tenant's endpoint as often as a provider's: one event naming tool call
 * 100,000,000 made the capture assembler stringify a hundred million nulls and V8 abort the whole
 * data plane; a few MB of distinct choice indexes cost the guard minutes of CPU.
 */
export const MAX_STREAM_CHOICES = 128;
export const MAX_STREAM_TOOL_CALLS = 128;

const inRange = (index: unknown, max: number): boolean => index === undefined || (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < max);

/** A failure when a chunk of the step names a choice or tool-call index out of bounds; undefined when all are in. */
export function streamIndexFailure(step: StreamStep): UpstreamFailure | undefined {
  for (let i = 0; i < step.chunks.length; i++) {
    const choices = step.chunks[i]!.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      if (!inRange(choice.index, MAX_STREAM_CHOICES)) return refused(`choice index ${String(choice.index)}`, MAX_STREAM_CHOICES);
      const calls = isObject(choice.delta) ? choice.delta.tool_calls : undefined;
      if (!Array.isArray(calls)) continue;
      for (const call of calls) {
        const callIndex = isObject(call) ? call.index : undefined;
        if (!inRange(callIndex, MAX_STREAM_TOOL_CALLS)) return refused(`tool call index ${String(callIndex)}`, MAX_STREAM_TOOL_CALLS);
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
