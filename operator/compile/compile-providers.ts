import type { OutlierDetectionConfig, ProviderConfig } from '../../dataplane/config/snapshot.js';
type AwsCredentials = NonNullable<NonNullable<ProviderConfig['bedrock']>['credentials']>;
import { contentHash } from '../../dataplane/config/content-hash.js';
import { defaultBaseUrl, isSupportedProviderType, SUPPORTED_PROVIDER_TYPES } from '../../dataplane/config/snapshot.js';
import { secret, type SecretValue } from '../../dataplane/config/secret-value.js';
import { compareIds } from '../../dataplane/config/id-order.js';
import {
  BedrockOptionsSchema,
  MockBehaviourSchema,
  type Provider,
  ProviderTimeoutsSchema,
  VllmOptionsSchema,
  VllmSaturationSchema,
  VllmScrapeSchema,
} from '../api/provider.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import { checkServiceRef, resolvedServices } from './service-ref.js';
import { durationToMs } from '../api/duration.js';
import { providerRefusal } from './publishable.js';
import { egressProblem } from './egress-check.js';
import type { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';
import type { CompileInput, ObjectStatus } from './types.js';

export interface CompiledProvider {
  id: string;
  source: Provider;
  /** Present when the provider can take traffic. */
  config?: ProviderConfig;
  /** Why it cannot, when config is absent. */
  notReady?: string;
}

function outlierDetection(o: NonNullable<Provider['spec']['outlierDetection']>): OutlierDetectionConfig {
  const config: OutlierDetectionConfig = {
    consecutiveFailures: o.consecutiveFailures,
    errorRateMinRequests: o.errorRate?.minRequests ?? 20,
    windowMs: durationToMs(o.errorRate?.window ?? '30s'),
    baseEjectionMs: Math.max(1, durationToMs(o.baseEjectionTime)),
    maxEjectionMs: Math.max(1, durationToMs(o.maxEjectionTime)),
  };
  if (o.errorRate !== undefined) config.errorRateThreshold = o.errorRate.threshold;
  return config;
}

function formatHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

export function compileProviders(input: CompileInput, egress?: CompiledEgressAllowlist): { providers: Map<string, CompiledProvider>; statuses: ObjectStatus[] } {
  const secrets = new Map(input.secrets.map((s) => [`${s.namespace}/${s.name}`, s.data]));
  const endpoints = resolvedServices(input.endpoints);
  const providers = new Map<string, CompiledProvider>();
  const statuses: ObjectStatus[] = [];
  // Without platform namespaces (tollgate dev, tollgate compile) every namespace is the platform's.
  const platform = input.platformNamespaces === undefined ? undefined : new Set(input.platformNamespaces);

  for (const p of input.providers) {
    const ns = p.metadata.namespace ?? 'default';
    const id = `${ns}/${p.metadata.name}`;
    const gen = p.metadata.generation;
    const spec = p.spec;
    const status: ObjectStatus = { kind: 'Provider', namespace: ns, name: p.metadata.name, conditions: [] };
    if (gen !== undefined) status.generation = gen;
    statuses.push(status);

    if (!isSupportedProviderType(spec.type)) {
      const message = `provider type ${spec.type} is not supported by this Tollgate version (supported: ${SUPPORTED_PROVIDER_TYPES.join(', ')})`;
      status.conditions.push(condition('Accepted', false, 'UnsupportedType', message, gen));
      status.conditions.push(resolvedRefs([], gen));
      providers.set(id, { id, source: p, notReady: message });
      continue;
    }
    status.conditions.push(condition('Accepted', true, 'Accepted', 'Provider is valid', gen));

    const problems: Problem[] = [];
    const secretValue = (name: string, key: string, optional = false): string | undefined => {
      const data = secrets.get(`${ns}/${name}`);
      if (data === undefined) problems.push({ reason: 'SecretNotFound', message: `Secret ${ns}/${name} not found` });
      else if (data[key] === undefined) {
        if (!optional) problems.push({ reason: 'SecretKeyNotFound', message: `Secret ${ns}/${name} has no key ${key}` });
      } else return data[key]?.trim();
      return undefined;
    };
    let apiKey: SecretValue | undefined;
    let awsCredentials: AwsCredentials | undefined;
    let serviceAccountKey: SecretValue | undefined;
    const creds = spec.credentials;
    const secretOf = (value: string | undefined): SecretValue | undefined => (value === undefined ? undefined : secret(value));
    if (creds?.secretRef) apiKey = secretOf(secretValue(creds.secretRef.name, creds.secretRef.key));
    if (creds?.aws) {
      const a = creds.aws;
      const accessKeyId = secretValue(a.secretName, a.accessKeyIdKey);
      const secretAccessKey = secretOf(secretValue(a.secretName, a.secretAccessKeyKey));
      const sessionToken = secrets.has(`${ns}/${a.secretName}`) ? secretOf(secretValue(a.secretName, a.sessionTokenKey, true)) : undefined;
      if (accessKeyId !== undefined && secretAccessKey !== undefined) {
        awsCredentials = sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
      }
    }
    if (creds?.serviceAccountKeyRef) serviceAccountKey = secretOf(secretValue(creds.serviceAccountKeyRef.name, creds.serviceAccountKeyRef.key));

    let urls: string[] = [];
    let serviceProblem: Problem | undefined;
    if (spec.serviceRef) {
      const ref = spec.serviceRef;
      const checked = checkServiceRef(endpoints, ns, ref, 'spec.serviceRef');
      serviceProblem = checked.problem;
      if (checked.ready !== undefined) {
        // One URL per pod: a duplicate would give that pod two shares of the picks.
        urls = [...new Set(checked.ready.map((a) => `${ref.scheme}://${formatHost(a.ip)}:${a.port}${ref.path.replace(/\/$/, '')}`))].sort();
        status.endpoints = urls.length;
      }
    } else if (spec.url !== undefined) {
      urls = [spec.url.replace(/\/$/, '')];
    }

    // Endpoints come and go; a provider without them stays in the snapshot so that routes fail over
    // from it and recover without a config change. A missing credential makes it unusable.
    status.conditions.push(resolvedRefs(serviceProblem ? [...problems, serviceProblem] : problems, gen));
    if (problems.length > 0) {
      providers.set(id, { id, source: p, notReady: problems.map((x) => x.message).join('; ') });
      continue;
    }

    const config: ProviderConfig = {
      id,
      type: spec.type,
      endpoints: urls,
      headers: Object.fromEntries(Object.entries(spec.headers ?? {}).sort(([a], [b]) => compareIds(a, b))),
      connectTimeoutMs: durationToMs((spec.timeouts ?? ProviderTimeoutsSchema.parse({})).connect),
    };
    if (apiKey !== undefined) config.apiKey = apiKey;
    if (spec.serviceRef !== undefined) config.service = `${ns}/${spec.serviceRef.name} port ${spec.serviceRef.port}`;
    const labels = p.metadata.labels ?? {};
    if (Object.keys(labels).length > 0) {
      config.labels = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      // A tenant labels its own Providers as it likes: only the platform's labels can vouch for
      // where a Provider sends data, so only they satisfy a namespace's residency requirement.
      if (platform === undefined || platform.has(ns)) config.labelsTrusted = true;
    }
    if (spec.outlierDetection !== undefined) config.outlierDetection = outlierDetection(spec.outlierDetection);
    if (spec.healthCheck?.enabled === true && spec.type !== 'mock') {
      const h = spec.healthCheck;
      config.healthCheck = {
        path: h.path,
        intervalMs: durationToMs(h.interval),
        timeoutMs: durationToMs(h.timeout),
        unhealthyThreshold: h.unhealthyThreshold,
        healthyThreshold: h.healthyThreshold,
      };
    }
    if (spec.maxConcurrency !== undefined) config.maxConcurrency = spec.maxConcurrency;
    if (spec.type === 'mock') {
      const m = spec.mock ?? MockBehaviourSchema.parse({});
      config.mock = {
        latencyMs: durationToMs(m.latency),
        chunkIntervalMs: durationToMs(m.chunkInterval),
        completionTokens: m.completionTokens,
        failureRate: m.failureRate,
      };
    }
    if (spec.anthropic) config.anthropic = { version: spec.anthropic.version, defaultMaxTokens: spec.anthropic.defaultMaxTokens, ...(spec.anthropic.beta ? { beta: spec.anthropic.beta } : {}) };
    if (spec.azure) {
      config.azure = { apiVersion: spec.azure.apiVersion, auth: spec.azure.auth === 'BearerToken' ? 'bearer' : 'api-key', ...(spec.azure.deployment ? { deployment: spec.azure.deployment } : {}) };
    }
    if (spec.type === 'bedrock') {
      const { region, modelFamilies } = spec.bedrock ?? BedrockOptionsSchema.parse({});
      config.bedrock = { region, ...(awsCredentials ? { credentials: awsCredentials } : {}), ...(modelFamilies === undefined ? {} : { modelFamilies }) };
    }
    if (spec.type === 'vllm') {
      const v = spec.vllm ?? VllmOptionsSchema.parse({});
      const scrape = v.scrape ?? VllmScrapeSchema.parse({});
      const saturation = v.saturation ?? VllmSaturationSchema.parse({});
      config.vllm = {
        scrapeIntervalMs: Math.max(1, durationToMs(scrape.interval)),
        scrapeTimeoutMs: Math.max(1, durationToMs(scrape.timeout)),
        staleAfterMs: Math.max(1, durationToMs(scrape.staleAfter)),
        metricsPath: scrape.metricsPath,
        healthPath: scrape.healthPath,
        unhealthyThreshold: v.unhealthyThreshold,
        maxQueueDepth: saturation.maxQueueDepth,
        maxKvCacheUsage: saturation.maxKvCacheUsage,
      };
    }
    if (spec.vertex) config.vertex = { project: spec.vertex.project, location: spec.vertex.location, ...(serviceAccountKey ? { serviceAccountKey } : {}) };
    // Not the credential (a rotated key answers alike) and not the ready pods (they come and go).
    config.answerIdentity = contentHash({ type: spec.type, url: spec.url, serviceRef: spec.serviceRef, headers: config.headers, anthropic: spec.anthropic, azure: spec.azure, bedrock: spec.bedrock, vertex: spec.vertex, mock: spec.mock });
    if (spec.serviceRef === undefined && spec.url === undefined) {
      // A hosted API without url: its public endpoint, which may follow the settings (a region, a location).
      const fallback = defaultBaseUrl(config);
      if (fallback !== undefined) config.endpoints = [fallback];
    }
    const outside = config.endpoints.map((url) => egressProblem(egress, url, spec.serviceRef === undefined ? (spec.url === undefined ? `the ${spec.type} endpoint` : 'spec.url') : 'spec.serviceRef endpoint')).find((m) => m !== undefined);
    if (outside !== undefined) {
      // Every call would be refused at connect: not ready, and the status says whom to ask.
      status.conditions = [condition('Accepted', false, 'EgressNotAllowed', outside, gen), resolvedRefs([], gen)];
      providers.set(id, { id, source: p, notReady: outside });
      continue;
    }
    const refusal = providerRefusal(config);
    if (refusal !== undefined) {
      // What the data plane would refuse on load stays out of the snapshot: this Provider alone is not ready.
      const keyRef = creds?.serviceAccountKeyRef;
      const fromSecret = refusal.path === 'vertex.serviceAccountKey' && keyRef !== undefined;
      const message = fromSecret ? `Secret ${ns}/${keyRef.name} key ${keyRef.key}: ${refusal.message}` : `${refusal.path}: ${refusal.message}`;
      status.conditions = fromSecret
        ? [condition('Accepted', true, 'Accepted', 'Provider is valid', gen), condition('ResolvedRefs', false, 'InvalidSecret', message, gen)]
        : [condition('Accepted', false, 'Invalid', message, gen), resolvedRefs([], gen)];
      providers.set(id, { id, source: p, notReady: message });
      continue;
    }
    providers.set(id, { id, source: p, config });
  }
  return { providers, statuses };
}
