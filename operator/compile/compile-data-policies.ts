import {
  type CaptureDestinationConfig,
  type DataPolicyConfig,
  DataPolicyConfigSchema,
  customPatternErrors,
} from '../../dataplane/config/data-policy-config.js';
import { secret } from '../../dataplane/config/secret-value.js';
import type { RouteConfig } from '../../dataplane/config/snapshot.js';
import type { DataPolicy } from '../api/data-policy.js';
import { durationToMs } from '../api/duration.js';
import { scopedSubjects } from './budget-scope.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import type { ComputedCondition, ObjectStatus, SecretInput } from './types.js';
import { egressProblem } from './egress-check.js';
import type { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

export interface DataPolicyCompileOptions {
  routes: readonly RouteConfig[];
  secrets: readonly SecretInput[];
  platform?: ReadonlySet<string> | undefined;
  localDestinations: boolean;
  egress?: CompiledEgressAllowlist | undefined;
}

const id = (p: DataPolicy): string => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;

/**
 * Platform namespaces' policies first (they govern before any tenant's), then older first
 * (creationTimestamp, then namespace/name): among equally specific policies the older one wins.
 */
function precedence(platform: ReadonlySet<string> | undefined, a: DataPolicy, b: DataPolicy): number {
  const pa = platform?.has(a.metadata.namespace ?? 'default') === true;
  const pb = platform?.has(b.metadata.namespace ?? 'default') === true;
  if (pa !== pb) return pa ? -1 : 1;
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0;
}

/**
 * DataPolicies → snapshot entries in precedence order, and a status for each. An invalid policy is
 * refused alone (Accepted=False naming the field); one that claims a subject an older policy already
 * claims at the same specificity still applies to its other subjects and says so (Conflicted=True).
 */
export function compileDataPolicies(policies: readonly DataPolicy[], opts: DataPolicyCompileOptions): { configs: DataPolicyConfig[]; statuses: ObjectStatus[] } {
  const routeIds = new Set(opts.routes.map((r) => r.id));
  const secretNamed = secretLookup(opts.secrets);
  const claimedBy = new Map<string, string>();
  const configs: DataPolicyConfig[] = [];
  // Namespaces a platform policy names, by the policy that names each first: tenant policies there apply only where no platform policy does.
  const platformNamespaces = new Map<string, string>();
  const statuses = [...policies].sort((a, b) => precedence(opts.platform, a, b)).map((p) => {
    const ns = p.metadata.namespace ?? 'default';
    const gen = p.metadata.generation;
    const status: ObjectStatus = { kind: 'DataPolicy', namespace: ns, name: p.metadata.name, conditions: [] };
    if (gen !== undefined) status.generation = gen;
    const problems: Problem[] = [];
    const scoped = scopedSubjects({ ...p, kind: 'DataPolicy' }, opts.platform);
    if (scoped.problem !== undefined) problems.push(scoped.problem);
    for (const r of scoped.subjects.routes) {
      if (!routeIds.has(r)) problems.push({ reason: 'RouteNotFound', message: `ModelRoute ${r} not found or not accepted` });
    }
    const invalid: string[] = customPatternErrors(p.spec.redaction.customPatterns ?? []).map((e) => `spec.redaction.${e}`);
    const destinations: CaptureDestinationConfig[] = [];
    p.spec.destinations.forEach((d, i) => {
      const field = `spec.destinations[${i}]`;
      const endpoint = d.otlpLogs?.endpoint ?? d.s3?.endpoint;
      const outside = endpoint === undefined ? undefined : egressProblem(opts.egress, endpoint, `${field}.${d.otlpLogs === undefined ? 's3' : 'otlpLogs'}.endpoint`);
      if (outside !== undefined) {
        problems.push({ reason: 'EgressNotAllowed', message: `${outside}; destination ${d.name} receives nothing` });
        return;
      }
      if (d.otlpLogs !== undefined) destinations.push({ type: 'otlpLogs', name: d.name, endpoint: d.otlpLogs.endpoint.replace(/\/+$/, '') });
      else if (d.localDirectory !== undefined) {
        if (opts.localDestinations) destinations.push({ type: 'localDirectory', name: d.name, path: d.localDirectory.path });
        else invalid.push(`${field}.localDirectory: only tollgate dev writes to a local directory; use s3 or otlpLogs in a cluster`);
      } else if (d.s3 !== undefined) {
        const credentials = s3Credentials(d.s3.credentialsSecretRef, ns, secretNamed);
        if ('problem' in credentials) {
          problems.push({ reason: 'SecretNotFound', message: `${field}.s3.credentialsSecretRef: ${credentials.problem}; destination ${d.name} receives nothing` });
          return;
        }
        destinations.push({
          type: 's3',
          name: d.name,
          endpoint: d.s3.endpoint.replace(/\/+$/, ''),
          bucket: d.s3.bucket,
          region: d.s3.region,
          prefix: d.s3.prefix.replace(/\/+$/, ''),
          accessKeyId: secret(credentials.accessKeyId),
          secretAccessKey: secret(credentials.secretAccessKey),
          batchIntervalMs: durationToMs(d.s3.batchInterval),
          maxBatchRecords: d.s3.maxBatchRecords,
        });
      }
    });
    if (invalid.length > 0) {
      status.conditions = [condition('Accepted', false, 'Invalid', invalid.join('; '), gen), resolvedRefs(problems, gen)];
      return status;
    }
    const spec = p.spec;
    const config: DataPolicyConfig = {
      id: `${ns}/${p.metadata.name}`,
      subjects: scoped.subjects,
      mode: spec.capture.mode,
      sampleRate: spec.capture.sampleRate,
      parts: { request: spec.capture.parts.includes('Request'), response: spec.capture.parts.includes('Response') },
      maxRecordBytes: spec.capture.maxRecordBytes,
      allowOptOut: spec.capture.allowOptOut,
      redaction: { detectors: [...spec.redaction.detectors], customPatterns: (spec.redaction.customPatterns ?? []).map((c) => ({ name: c.name, pattern: c.pattern })) },
      retention: {
        ...(spec.retention?.content === undefined ? {} : { contentMs: durationToMs(spec.retention.content) }),
        ...(spec.retention?.metadata === undefined ? {} : { metadataMs: durationToMs(spec.retention.metadata) }),
      },
      destinations,
    };
    const isPlatform = opts.platform?.has(ns) === true;
    if (isPlatform) config.platform = true;
    const parsed = DataPolicyConfigSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      status.conditions = [condition('Accepted', false, 'Invalid', `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`, gen), resolvedRefs(problems, gen)];
      return status;
    }
    if (isPlatform) for (const n of config.subjects.namespaces) if (!platformNamespaces.has(n)) platformNamespaces.set(n, config.id);
    const first = isPlatform || opts.platform === undefined ? undefined : platformNamespaces.get(ns);
    status.conditions = [
      condition('Accepted', true, 'Accepted', 'DataPolicy is valid', gen),
      resolvedRefs(problems, gen),
      first === undefined ? conflicts(config, claimedBy, gen) : platformFirst(config, first, ns, claimedBy, gen),
    ];
    configs.push(config);
    return status;
  });
  return { configs, statuses };
}

type S3CredentialsRef = NonNullable<DataPolicy['spec']['destinations'][number]['s3']>['credentialsSecretRef'];

/** A Secret by namespace and name. */
export type SecretLookup = (namespace: string, name: string) => SecretInput | undefined;

/** A lookup over `secrets` by a Map: a scan per destination was quadratic in DataPolicies × Secrets, both a tenant's to add. */
export function secretLookup(secrets: readonly SecretInput[]): SecretLookup {
  const byKey = new Map(secrets.map((s) => [`${s.namespace}/${s.name}`, s]));
  return (namespace, name) => byKey.get(`${namespace}/${name}`);
}

/** The access key pair an s3 destination names, or why it cannot be had (no value in the message). */
export function s3Credentials(ref: S3CredentialsRef, namespace: string, secretNamed: SecretLookup): { accessKeyId: string; secretAccessKey: string } | { problem: string } {
  const data = secretNamed(namespace, ref.name)?.data;
  if (data === undefined) return { problem: `Secret ${namespace}/${ref.name} not found` };
  const accessKeyId = data[ref.accessKeyIdKey];
  const secretAccessKey = data[ref.secretAccessKeyKey];
  if (accessKeyId === undefined || accessKeyId === '') return { problem: `Secret ${namespace}/${ref.name} lacks key ${ref.accessKeyIdKey}` };
  if (secretAccessKey === undefined || secretAccessKey === '') return { problem: `Secret ${namespace}/${ref.name} lacks key ${ref.secretAccessKeyKey}` };
  return { accessKeyId, secretAccessKey };
}

/**
 * A tenant's policy in a namespace a platform policy names: the platform's governs its callers first
 * (this one still governs what no platform policy selects, e.g. callers of its routes from elsewhere).
 */
function platformFirst(config: DataPolicyConfig, platformPolicy: string, ns: string, claimedBy: Map<string, string>, gen: number | undefined): ComputedCondition {
  conflicts(config, claimedBy, gen);
  const message = `DataPolicy ${platformPolicy} of a platform namespace governs the callers of namespace ${ns} first: this policy applies only to requests no platform policy selects`;
  return { ...condition('Conflicted', true, 'PlatformPolicyFirst', message, gen), event: { type: 'Warning', reason: 'PlatformPolicyFirst', message } };
}

/** Records which subjects this policy claims; those an older policy claimed first are its conflicts. */
function conflicts(config: DataPolicyConfig, claimedBy: Map<string, string>, gen: number | undefined): ComputedCondition {
  const s = config.subjects;
  const keys = [
    ...s.routes.map((r) => `route ${r}`),
    ...s.serviceAccounts.map((sa) => `ServiceAccount ${sa}`),
    ...s.apiKeys.map((k) => `API key ${k}`),
    ...s.namespaces.map((n) => `namespace ${n}`),
  ];
  const lost: string[] = [];
  for (const key of keys) {
    const owner = claimedBy.get(key);
    if (owner === undefined) claimedBy.set(key, config.id);
    else lost.push(`${key} (DataPolicy ${owner} applies)`);
  }
  if (lost.length === 0) {
    const message = 'no older DataPolicy governs the same subjects';
    return { ...condition('Conflicted', false, 'NoConflicts', message, gen), event: { type: 'Normal', reason: 'NoConflicts', message } };
  }
  const message = `older DataPolicies govern: ${lost.join(', ')}`;
  return { ...condition('Conflicted', true, 'SubjectClaimed', message, gen), event: { type: 'Warning', reason: 'SubjectClaimed', message } };
}
