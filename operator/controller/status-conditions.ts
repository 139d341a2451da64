import type { Condition } from '../api/common.js';
import type { ComputedCondition } from '../compile/types.js';

/** An Event to record when a condition's reason changes (for conditions where True is the bad state). */
export interface ConditionEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type DesiredCondition = Omit<ComputedCondition, 'type'> & {
  type: string;
  /**
   * Recorded when the reason changes from an earlier one, or when the condition first appears True.
   * Without it, an Event (Warning) is recorded when the condition turns False.
   */
  event?: ConditionEvent;
};

/**
 * The conditions to write: lastTransitionTime moves only when a condition's status flips
 * (apimachinery's SetStatusCondition semantics); order follows `desired`.
 */
export function mergeConditions(existing: readonly Condition[] | undefined, desired: readonly DesiredCondition[], now: string): Condition[] {
  return desired.map((d) => {
    const previous = existing?.find((c) => c.type === d.type);
    const lastTransitionTime = previous !== undefined && previous.status === d.status ? previous.lastTransitionTime : now;
    const c: Condition = { type: d.type, status: d.status, reason: d.reason, message: d.message, lastTransitionTime };
    if (d.observedGeneration !== undefined) c.observedGeneration = d.observedGeneration;
    return c;
  });
}

/** Equal for the purpose of deciding whether a status write is needed. */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return (
      y !== undefined &&
      x.type === y.type &&
      x.status === y.status &&
      x.reason === y.reason &&
      x.message === y.message &&
      x.observedGeneration === y.observedGeneration &&
      x.lastTransitionTime === y.lastTransitionTime
    );
  });
}
