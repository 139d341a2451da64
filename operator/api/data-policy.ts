import { z } from 'zod';
import { BUILTIN_DETECTORS, CUSTOM_PATTERN_NAME, MAX_CUSTOM_PATTERNS } from '../../dataplane/config/content-detectors.js';
import { CAPTURE_MODES, CAPTURE_OPT_OUT_HEADER } from '../../dataplane/config/data-policy-config.js';
import {
  ConditionsSchema,
  InstallationSchema,
  ObservedGenerationSchema,
  PositiveDurationSchema,
  withRules,
  objectSchema,
  PositiveTimerDurationSchema,
} from './common.js';
import { durationToMs } from './duration.js';
import { subjectsSchema } from './subjects.js';

const OtlpLogsDestinationSchema = z
  .strictObject({
    endpoint: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s) URL')
      .describe('OTLP/HTTP endpoint of a collector, e.g. http://otel-collector.observability:4318 (records go to <endpoint>/v1/logs).'),
  })
  .describe('Records as OTLP log records (GenAI semantic-convention events), so any OpenTelemetry Collector can route them.');

const S3DestinationSchema = z
  .strictObject({
    endpoint: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/]+\/?$/, 'must be an http(s) URL without a path')
      .describe('S3-compatible endpoint, e.g. https://s3.eu-central-1.amazonaws.com or http://seaweedfs.storage:8333.'),
    bucket: z.string().min(3).max(63).regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name').describe('Bucket name.'),
    region: z.string().min(1).max(64).default('us-east-1').describe('Region used to sign requests.'),
    prefix: z
      .string()
      .max(256)
      .regex(/^([A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]*$/, 'must be a key prefix of letters, digits, ".", "_", "-" and "/"')
      .default('tollgate')
      .describe('Key prefix; objects are <prefix>/<content|metadata>/namespace=<ns>/date=<YYYY-MM-DD>/hour=<HH>/<batch>.jsonl.gz.'),
    credentialsSecretRef: z
      .strictObject({
        name: z.string().min(1).max(253).describe('Secret in the DataPolicy namespace.'),
        accessKeyIdKey: z.string().min(1).max(253).default('accessKeyId').describe('Key of the access key id.'),
        secretAccessKeyKey: z.string().min(1).max(253).default('secretAccessKey').describe('Key of the secret access key.'),
      })
      .describe('Secret holding the access key pair.'),
    batchInterval: PositiveTimerDurationSchema.default('60s').describe('Longest time a record waits in a batch before the batch is written.'),
    maxBatchRecords: z.number().int().min(1).max(100_000).default(1_000).describe('A batch is written once it holds this many records.'),
  })
  .describe('An S3-compatible bucket: batched, gzip-compressed JSON Lines, partitioned by namespace, date and hour.');

const LocalDirectoryDestinationSchema = z
  .strictObject({
    path: z.string().min(1).max(1024).describe('Directory the records are appended to as JSON Lines (created if missing).'),
  })
  .describe('A local directory: honoured only by `tollgate dev`; in a cluster the object is refused.');

export const DataPolicyDestinationSchema = withRules(
  z.strictObject({
    name: z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label').describe('Name of the destination, used in metrics and status.'),
    otlpLogs: OtlpLogsDestinationSchema.optional(),
    s3: S3DestinationSchema.optional(),
    localDirectory: LocalDirectoryDestinationSchema.optional(),
  }),
  [
    {
      rule: '(has(self.otlpLogs) ? 1 : 0) + (has(self.s3) ? 1 : 0) + (has(self.localDirectory) ? 1 : 0) == 1',
      message: 'a destination sets exactly one of otlpLogs, s3, localDirectory',
      holds: (d) => [d.otlpLogs, d.s3, d.localDirectory].filter((x) => x !== undefined).length === 1,
    },
  ],
).describe('Where records go. A destination receives only what the policy allows.');

const CustomPatternSchema = z.strictObject({
  name: z.string().regex(CUSTOM_PATTERN_NAME, 'must start with a letter; letters, digits, "_" and "-", at most 63').describe('Name; matches are replaced by [NAME] (upper-cased, "-" as "_").'),
  pattern: z.string().min(1).max(1024).describe('RE2 regular expression (linear time: no backreferences or look-around).'),
});

export const DataPolicySpecSchema = withRules(
  z.strictObject({
    subjects: subjectsSchema('DataPolicy').describe(
      'Which traffic this policy governs. The most specific policy applies: route, then ServiceAccount or API key, then namespace.',
    ),
    capture: z
      .strictObject({
        mode: z
          .enum(CAPTURE_MODES)
          .default('None')
          .describe('None: nothing is recorded. Metadata: caller, route, model, tokens, cost, timing, no content. Redacted: content with detector matches replaced by typed markers. Full: content as sent.'),
        sampleRate: z.number().min(0).max(1).default(1).describe('Fraction of requests recorded, 0 to 1.'),
        parts: z
          .array(z.enum(['Request', 'Response']))
          .min(1)
          .max(2)
          .default(['Request', 'Response'])
          .describe('Which content a record carries (Redacted and Full); a streamed response is recorded as the assembled result.'),
        maxRecordBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024).describe('Largest content per record; longer content is cut and marked truncated.'),
        allowOptOut: z
          .boolean()
          .default(false)
          .describe(`Honour the caller header ${CAPTURE_OPT_OUT_HEADER}: off (the record then carries metadata only). Off by default, so an audit policy cannot be bypassed.`),
      })
      .prefault({})
      .describe('What is recorded.'),
    redaction: z
      .strictObject({
        detectors: z
          .array(z.enum(BUILTIN_DETECTORS))
          .max(BUILTIN_DETECTORS.length)
          .default([...BUILTIN_DETECTORS])
          .describe('Built-in detectors whose matches are replaced by typed markers ([EMAIL], [PAYMENT_CARD], ...). Default: all.'),
        customPatterns: z.array(CustomPatternSchema).max(MAX_CUSTOM_PATTERNS).optional().describe('Extra patterns, each replaced by [NAME].'),
      })
      .prefault({})
      .describe('Redaction in mode Redacted, inside the data plane before a record leaves it.'),
    retention: z
      .strictObject({
        content: PositiveDurationSchema.optional().describe('How long stored content lives, e.g. "720h". Absent: kept until removed by hand.'),
        metadata: PositiveDurationSchema.optional().describe('How long metadata records live, e.g. "8760h". Absent: kept until removed by hand.'),
      })
      .optional()
      .describe('Enforced by Tollgate: the operator deletes this policy\'s expired S3 objects (`tollgate dev` its expired local files), content and metadata separately, and reports each sweep in status.retention.'),
    destinations: z.array(DataPolicyDestinationSchema).max(8).default([]).describe('Where records go.'),
  }),
  [
    {
      rule: "self.capture.mode == 'None' || size(self.destinations) > 0",
      message: 'a capture mode other than None needs at least one destination',
      holds: (p) => p.capture.mode === 'None' || p.destinations.length > 0,
    },
    {
      rule: "!has(self.retention) || !has(self.retention.content) || self.destinations.all(d, !has(d.s3) || duration(self.retention.content) >= duration(d.s3.batchInterval))",
      message: 'retention.content must be at least every s3 destination batchInterval',
      holds: (p) => p.retention?.content === undefined || p.destinations.every((d) => d.s3 === undefined || durationToMs(p.retention!.content!) >= durationToMs(d.s3.batchInterval)),
    },
    {
      rule: '!has(self.retention) || !has(self.retention.content) || !has(self.retention.metadata) || duration(self.retention.metadata) >= duration(self.retention.content)',
      message: 'retention.metadata must be at least retention.content (content is joined to its metadata)',
      holds: (p) => p.retention?.content === undefined || p.retention.metadata === undefined || durationToMs(p.retention.metadata) >= durationToMs(p.retention.content),
    },
    {
      rule: 'self.destinations.all(d, self.destinations.exists_one(e, e.name == d.name))',
      message: 'destination names must be unique',
      holds: (p) => new Set(p.destinations.map((d) => d.name)).size === p.destinations.length,
    },
  ],
).describe('What prompt and response content is captured for which traffic, how it is redacted, where it goes and how long it lives.');

const RetentionStreamStatusSchema = z
  .strictObject({
    retention: z.string().optional().describe('The retention this stream was swept with (spec.retention).'),
    deletedObjects: z.number().int().optional().describe('Objects the last sweep deleted.'),
    deletedBytes: z.number().int().optional().describe('Bytes the last sweep deleted.'),
    totalDeletedObjects: z.number().int().optional().describe('Objects deleted by all sweeps of this policy.'),
    totalDeletedBytes: z.number().int().optional().describe('Bytes deleted by all sweeps of this policy.'),
    oldestKept: z.string().optional().describe('Start of the oldest hour partition still holding records of this policy (RFC 3339); absent when none.'),
  })
  .describe('What the sweeps did to one stream of records.');

export const DataPolicyStatusSchema = z
  .strictObject({
    observedGeneration: ObservedGenerationSchema,
    installation: InstallationSchema,
    conditions: ConditionsSchema.optional(),
    destinations: z
      .array(
        z.strictObject({
          name: z.string().describe('The destination (spec.destinations[].name).'),
          conditions: ConditionsSchema.optional().describe('DestinationReady: the Secret is present and the bucket answers with its credentials, or the OTLP endpoint is configured.'),
        }),
      )
      .max(8)
      .optional()
      .describe('Each destination as the operator last checked it.'),
    retention: z
      .strictObject({
        observedGeneration: ObservedGenerationSchema,
        lastSweepTime: z.string().optional().describe('When the operator last swept the destinations (RFC 3339).'),
        complete: z.boolean().optional().describe('False when the last sweep stopped at its per-pass limit; the next one continues.'),
        content: RetentionStreamStatusSchema.optional(),
        metadata: RetentionStreamStatusSchema.optional(),
        message: z.string().optional().describe('What the last sweep did, or why it failed.'),
      })
      .optional()
      .describe('The retention sweep, as the operator last ran it.'),
  })
  .describe('Whether the policy is accepted, conflicts, whether its destinations are ready, and what retention did.');
export type DataPolicyStatus = z.infer<typeof DataPolicyStatusSchema>;

export const DataPolicySchema = objectSchema('DataPolicy', DataPolicySpecSchema, DataPolicyStatusSchema);
export type DataPolicy = z.infer<typeof DataPolicySchema>;
export type DataPolicySpec = z.infer<typeof DataPolicySpecSchema>;
