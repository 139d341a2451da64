import type { Condition } from '../api/common.js';

/**
 * The condition an exact Budget carries while another installation serves it too: its spend is in
 * that installation's own Redis ledger, not in status.spent. Written by that other installation
 * (the only one that knows), and kept by the installation that writes the rest of the status; every
 * other condition is the owner's alone.
 */
export const SHARED_CONDITION = 'SharedWithAnotherInstallation';

const SHARER = /^the installation (\S+) also serves this Budget/;

/** The condition `sharer` writes on a Budget whose status `owner` writes. */
export function sharedCondition(sharer: string, owner: string, generation: number | undefined): Omit<Condition, 'lastTransitionTime'> {
  return {
    type: SHARED_CONDITION,
    status: 'True',
    reason: 'SpendNotInStatus',
    message:
      `the installation ${sharer} also serves this Budget (exact mode) and keeps its data planes' spend in its own Redis ledger: ` +
      `that spend is not in status.spent, which ${owner} writes from its ledger, and each installation enforces the limit against its own ledger only (together they can spend up to the limit each)`,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

/** The installation that wrote a SharedWithAnotherInstallation condition (from its message), if it is one. */
export function sharerOf(condition: Condition | undefined): string | undefined {
  if (condition?.type !== SHARED_CONDITION) return undefined;
  return SHARER.exec(condition.message)?.[1];
}

/**
 * The conditions of `existing` another installation wrote and the owner's status write keeps: a
 * SharedWithAnotherInstallation naming some other installation. One naming the owner itself is from
 * before the Budget was handed over to it (the sharer is now the owner): dropped.
 */
export function foreignConditions(existing: readonly Condition[] | undefined, own: string | undefined): Condition[] {
  return (existing ?? []).filter((c) => {
    const sharer = sharerOf(c);
    return sharer !== undefined && sharer !== own;
  });
}
