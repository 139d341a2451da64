import type { ComputedCondition } from './types.js';
import { cutWithin } from '../kube/text-cut.js';

/** The longest message a status condition may carry (metav1.Condition's own limit). */
export const MAX_CONDITION_MESSAGE = 32_768;

/** `message` within MAX_CONDITION_MESSAGE characters, saying where it was cut. */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_CONDITION_MESSAGE) return message;
  const tail = ` … (${message.length - MAX_CONDITION_MESSAGE} more characters)`;
  return cutWithin(message, MAX_CONDITION_MESSAGE - tail.length) + tail;
}

export function condition(
  type: ComputedCondition['type'],
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
): ComputedCondition {
  // A status write with a longer message is refused by the API server; one object's many problems
  // must not make a condition (and the operator's memory) as large as the problems are many.
  const c: ComputedCondition = { type, status: ok ? 'True' : 'False', reason, message: boundedMessage(message) };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

export interface Problem {
  reason: string;
  message: string;
  /** The object the problem is about, as a caller may see it (a Provider id). */
  ref?: string;
  /** The route rule the problem is in. */
  rule?: string;
}

/** Messages joined with '; ' until `max` characters, then how many were left out: never builds more than it keeps. */
export function joinedWithin(messages: readonly string[], max: number): string {
  let out = '';
  for (let i = 0; i < messages.length; i++) {
    const next = i === 0 ? (messages[i] ?? '') : `; ${messages[i] ?? ''}`;
    if (out.length + next.length > max) return `${out}; and ${messages.length - i} more`;
    out += next;
  }
  return out;
}

/** ResolvedRefs from a list of problems: True when there are none, else the first reason and every message. */
export function resolvedRefs(problems: Problem[], generation: number | undefined, okMessage = 'All references resolved'): ComputedCondition {
  const first = problems[0];
  if (first === undefined) return condition('ResolvedRefs', true, 'ResolvedRefs', okMessage, generation);
  return condition('ResolvedRefs', false, first.reason, joinedWithin(problems.map((p) => p.message), MAX_CONDITION_MESSAGE), generation);
}
