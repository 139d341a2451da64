import { z } from 'zod';
import type { Snapshot } from './snapshot.js';

/**
 * The largest leader term: terms come from the Lease's leaseTransitions, an int32 in the
 * Kubernetes API, so nothing above it can name a real leader.
 */
export const MAX_TERM = 2 ** 31 - 1;

/**
 * How far ahead of this pod's clock a generation may be. Generations are the operator's millisecond
 * timestamps (max(now, previous + 1)), so a day covers any clock skew; one far beyond it (a stray
 * push at 2^53 - 1) would leave no generation above it for the leader to publish.
 */
export const MAX_GENERATION_AHEAD_MS = 24 * 60 * 60 * 1000;

/**
 * What the operator pushes and a pod pulls: a snapshot with the leader's term and the operator's
 * monotonic generation. A pod orders envelopes by (term, generation): a lower term is refused
 * whatever its generation, so a deposed leader can never replace what its successor published, and
 * a slow or stale push can never roll a pod back. `term` is optional so that operators from before
 * it can still push (absent = 0, below every elected leader's term).
 */
export const SnapshotEnvelopeSchema = z.object({
  generation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  term: z.number().int().min(0).max(MAX_TERM).optional(),
  snapshot: z.unknown(),
});
export type SnapshotEnvelope = { generation: number; term?: number; snapshot: Snapshot };

/** A pod's answer to a push. `term` is absent in the answers of pods from before terms. */
export const PushResultSchema = z.object({
  accepted: z.boolean(),
  generation: z.number().int(),
  term: z.number().int().optional(),
  version: z.string().nullable(),
  error: z.string().optional(),
});
export type PushResult = z.infer<typeof PushResultSchema>;
