import type { Settlement } from '../../governance/types.js';

/** What a request that never reached an upstream (refused, cached, client gone first) settles with. */
export const NOTHING_USED: Settlement = { usage: undefined, costUsd: 0 };
