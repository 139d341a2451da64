import { z } from 'zod';
import { BUILTIN_DETECTORS } from '../policy/detectors/detector-types.js';
import { secretSchema } from './secret-value.js';

// The detector vocabulary is part of the operator↔data-plane contract: compile validates with the
// same code the data plane runs, so an object compile accepts is one the data plane can load.
export { BUILTIN_DETECTORS, type BuiltinDetector } from '../policy/detectors/detector-types.js';
export { CUSTOM_PATTERN_NAME, MAX_CUSTOM_PATTERNS } from '../policy/detectors/custom-pattern.js';
export { detectorSpecErrors } from '../policy/detectors/detector-set.js';

export const CAPTURE_MODES = ['None', 'Metadata', 'Redacted', 'Full'] as const;
export type CaptureMode = (typeof CAPTURE_MODES)[number];

/** The header a caller sends to opt out of content capture, honoured only where the policy allows it. */
export const CAPTURE_OPT_OUT_HEADER = 'x-tollgate-capture';

export const CaptureDestinationConfigSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('otlpLogs'), name: z.string(), endpoint: z.string() }),
  z.object({
    type: z.literal('s3'),
    name: z.string(),
    endpoint: z.string(),
    bucket: z.string(),
    region: z.string(),
    prefix: z.string(),
    accessKeyId: secretSchema(),
    secretAccessKey: secretSchema(),
    batchIntervalMs: z.number().int().positive(),
    maxBatchRecords: z.number().int().positive(),
  }),
  z.object({ type: z.literal('localDirectory'), name: z.string(), path: z.string() }),
]);
export type CaptureDestinationConfig = z.infer<typeof CaptureDestinationConfigSchema>;

/** A DataPolicy as the data plane applies it. Snapshot order is precedence order within one specificity. */
export const DataPolicyConfigSchema = z.object({
  /** namespace/name */
  id: z.string().min(1),
  subjects: z.object({
    namespaces: z.array(z.string()),
    /** "namespace/name" */
    serviceAccounts: z.array(z.string()),
    /** API key Secrets, "namespace/name" */
    apiKeys: z.array(z.string()),
    /** route ids */
    routes: z.array(z.string()),
  }),
  mode: z.enum(CAPTURE_MODES),
  sampleRate: z.number().min(0).max(1),
  parts: z.object({ request: z.boolean(), response: z.boolean() }),
  maxRecordBytes: z.number().int().positive(),
  allowOptOut: z.boolean(),
  redaction: z.object({
    detectors: z.array(z.enum(BUILTIN_DETECTORS)),
    customPatterns: z.array(z.object({ name: z.string(), pattern: z.string() })),
  }),
  retention: z.object({ contentMs: z.number().int().positive().optional(), metadataMs: z.number().int().positive().optional() }),
  destinations: z.array(CaptureDestinationConfigSchema),
});
export type DataPolicyConfig = z.infer<typeof DataPolicyConfigSchema>;
