import { z } from 'zod';
import type { Snapshot } from './snapshot.js';

/**
 * What the operator pushes and a pod pulls: a snapshot with the operator's monotonic generation.
 * A pod refuses a generation older than the one it serves, so a slow or stale push can never roll
 * it back.
 */
export const SnapshotEnvelopeSchema = z.object({
  generation: z.number().int().min(0),
  snapshot: z.unknown(),
});
export type SnapshotEnvelope = { generation: number; snapshot: Snapshot };

/** A pod's answer to a push. */
export const PushResultSchema = z.object({
  accepted: z.boolean(),
  generation: z.number().int(),
  version: z.string().nullable(),
  error: z.string().optional(),
});
export type PushResult = z.infer<typeof PushResultSchema>;
