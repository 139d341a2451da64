import { z } from 'zod';
import { BUILTIN_DETECTORS, compileContentPattern, MAX_CUSTOM_PATTERNS, MAX_TOTAL_CUSTOM_PROGRAM_SIZE } from './content-detectors.js';
import { secretSchema } from './secret-value.js';

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
  /**
   * A policy of a platform namespace (where Tollgate is installed): it governs before any tenant's
   * policy, so a tenant cannot switch off, lower or divert the platform's capture for its own callers.
   */
  platform: z.boolean().optional(),
});
export type DataPolicyConfig = z.infer<typeof DataPolicyConfigSchema>;

/**
 * Why a policy's custom patterns cannot be loaded (each message starts with its field), with the
 * same checks the data plane's detector set makes: RE2, size, empty match, unique names.
 */
export function customPatternErrors(patterns: readonly { name: string; pattern: string }[]): string[] {
  const errors: string[] = [];
  if (patterns.length > MAX_CUSTOM_PATTERNS) errors.push(`customPatterns: at most ${MAX_CUSTOM_PATTERNS} custom patterns`);
  const names = new Set<string>();
  let total = 0;
  patterns.forEach((p, i) => {
    if (names.has(p.name)) errors.push(`customPatterns[${i}].name: duplicate name "${p.name}"`);
    names.add(p.name);
    const compiled = compileContentPattern(p.name, p.pattern);
    if (compiled.ok) total += compiled.programSize;
    else errors.push(`customPatterns[${i}]${compiled.error.startsWith('name') ? '.name' : '.pattern'}: ${compiled.error}`);
  });
  if (total > MAX_TOTAL_CUSTOM_PROGRAM_SIZE) errors.push(`customPatterns: too complex together: RE2 program sizes sum to ${total}, more than ${MAX_TOTAL_CUSTOM_PROGRAM_SIZE}`);
  return errors;
}
