import type { ProviderConfig, SupportedProviderType } from '../config/snapshot.js';
import type { NativeApi } from '../core/canonical.js';
import type { Transport } from '../upstream/transport.js';
import type { RequestIdHeaders } from '../upstream/upstream-request-id.js';
import { anthropicAdapter } from './anthropic/index.js';
import { azureOpenAiAdapter, azurePathForwarding } from './azure-openai/index.js';
import { bedrockAdapter } from './bedrock/index.js';
import { geminiAdapter } from './gemini/index.js';
import { MockTransport } from './mock/mock-transport.js';
import { openAiAdapter, openAiResponsesAdapter } from './openai/index.js';
import { openAiCompatibleAdapter } from './openai-compatible/index.js';
import { openAiPathForwarding } from './shared/openai-paths.js';
import type { AccessTokenSource, AdapterTarget, PathForwarding, PodLoad, ProviderAdapter } from './types.js';
import { ServiceAccountTokenSource } from './vertex/service-account-token-source.js';
import { vertexAdapter } from './vertex/index.js';
import { parseVllmMetrics, vllmAdapter } from './vllm/index.js';

/**
 * What the data plane knows of one provider type. With the providers/<name>/ folders and the
 * list of their parts of the snapshot contract (contracts.ts), this file is the only place that
 * names a provider type: the runtime snapshot, routing, telemetry and the server read these fields,
 * never the type (test/unit/layout.test.ts checks it).
 */
interface ProviderKind {
  adapter: ProviderAdapter;
  /** gen_ai.provider.name (OpenTelemetry GenAI conventions): the registered value where there is one, else the type. */
  telemetryName: string;
  /** A transport of the provider's own instead of HTTP (the mock provider answers in process). */
  ownTransport?(config: ProviderConfig): Transport | undefined;
  /** How the upstream serves OpenAI's pass-through paths and Realtime untranslated; absent = it does not. */
  forwarding?: PathForwarding;
  /** The response headers the upstream names its own request id in (relayed as x-upstream-request-id), preferred first; absent = it names none. */
  requestIdHeaders?: RequestIdHeaders;
  /**
   * Self-hosted pods whose metrics page reports their load: the provider's pod settings from the
   * snapshot (absent = its endpoints are picked round robin) and the parser of that page.
   */
  podLoad?: { settings(config: ProviderConfig): PodPickingSettings | undefined; parseMetrics(text: string): PodLoad };
}

/** Scraping, health and saturation limits of a provider's pods (load-aware pod picking). */
export type PodPickingSettings = NonNullable<ProviderConfig['vllm']>;

const IN_PROCESS_ENDPOINT = 'mock://in-process';

/** One kind per supported provider type; adding a type to the snapshot contract without one fails to compile. */
const KINDS = {
  openai: { adapter: openAiResponsesAdapter, telemetryName: 'openai', forwarding: openAiPathForwarding, requestIdHeaders: ['x-request-id'] },
  // apim-request-id is the correlation id of Azure's diagnostic logs, the one its support looks
  // requests up by; deployments served without the API Management front send only x-ms-request-id.
  'azure-openai': { adapter: azureOpenAiAdapter, telemetryName: 'azure.ai.openai', forwarding: azurePathForwarding, requestIdHeaders: ['apim-request-id', 'x-ms-request-id'] },
  anthropic: { adapter: anthropicAdapter, telemetryName: 'anthropic', requestIdHeaders: ['request-id'] },
  // Gemini and Vertex name no request in their answers' headers.
  gemini: { adapter: geminiAdapter, telemetryName: 'gcp.gemini' },
  vertex: { adapter: vertexAdapter, telemetryName: 'gcp.vertex_ai' },
  bedrock: { adapter: bedrockAdapter, telemetryName: 'aws.bedrock', requestIdHeaders: ['x-amzn-requestid'] },
  'openai-compatible': { adapter: openAiCompatibleAdapter, telemetryName: 'openai-compatible', forwarding: openAiPathForwarding, requestIdHeaders: ['x-request-id'] },
  vllm: { adapter: vllmAdapter, telemetryName: 'vllm', forwarding: openAiPathForwarding, requestIdHeaders: ['x-request-id'], podLoad: { settings: (p) => p.vllm, parseMetrics: parseVllmMetrics } },
  // The mock provider speaks the OpenAI format through an in-process transport.
  mock: { adapter: openAiAdapter, telemetryName: 'mock', ownTransport: (p) => (p.mock === undefined ? undefined : new MockTransport(p.mock)) },
} as const satisfies Record<SupportedProviderType, ProviderKind>;

export function adapterFor(type: SupportedProviderType): ProviderAdapter {
  return KINDS[type].adapter;
}

/** A provider of the snapshot, ready to serve: its settings with the adapter, transport, auth and names that go with its type. */
export interface RuntimeProvider {
  config: ProviderConfig;
  adapter: ProviderAdapter;
  transport: Transport;
  /** Mints bearer tokens before each attempt (Vertex service-account keys). */
  tokenSource?: AccessTokenSource;
  /** gen_ai.provider.name for spans and logs. */
  telemetryName: string;
  /** Set for a provider served in process: its only base URL, with no endpoints to pick from. */
  inProcessEndpoint?: string;
  /** How its upstream serves OpenAI's pass-through paths and Realtime; absent = it does not. */
  forwarding?: PathForwarding;
  /** The response headers its upstream names its own request id in, preferred first; absent = none. */
  requestIdHeaders?: RequestIdHeaders;
  /** Set when its endpoints are pods picked by load: their settings and the parser of their metrics page. */
  podLoad?: { settings: PodPickingSettings; parseMetrics(text: string): PodLoad };
}

/**
 * Builds the runtime form of one provider whose type is supported (load checks ran first).
 * Throws when its credentials cannot be used (a service-account key that does not parse).
 */
export function runtimeProvider(config: ProviderConfig, httpTransport: Transport): RuntimeProvider {
  const kind: ProviderKind = KINDS[config.type as SupportedProviderType];
  const own = kind.ownTransport?.(config);
  const runtime: RuntimeProvider = {
    config,
    adapter: kind.adapter,
    transport: own ?? httpTransport,
    telemetryName: kind.telemetryName,
    ...(kind.forwarding === undefined ? {} : { forwarding: kind.forwarding }),
    ...(kind.requestIdHeaders === undefined ? {} : { requestIdHeaders: kind.requestIdHeaders }),
  };
  if (own !== undefined) runtime.inProcessEndpoint = IN_PROCESS_ENDPOINT;
  const podSettings = kind.podLoad?.settings(config);
  if (kind.podLoad !== undefined && podSettings !== undefined) runtime.podLoad = { settings: podSettings, parseMetrics: kind.podLoad.parseMetrics };
  const serviceAccountKey = config.vertex?.serviceAccountKey;
  if (serviceAccountKey !== undefined) runtime.tokenSource = new ServiceAccountTokenSource(serviceAccountKey.reveal(), httpTransport);
  return runtime;
}

/** The credential values a provider holds (in its settings too), to be cut out of anything its upstream says. */
export function providerSecrets(config: ProviderConfig): readonly string[] {
  // Asked for by every attempt (a failure it may have to scrub): made once per snapshot's config.
  let secrets = secretsByConfig.get(config);
  if (secrets === undefined) {
    const held = [config.apiKey, config.bedrock?.credentials?.secretAccessKey, config.bedrock?.credentials?.sessionToken, config.vertex?.serviceAccountKey];
    secrets = held.flatMap((v) => (v === undefined || v.reveal() === '' ? [] : [v.reveal()]));
    secretsByConfig.set(config, secrets);
  }
  return secrets;
}

const secretsByConfig = new WeakMap<ProviderConfig, readonly string[]>();

/** The provider types whose upstream serves OpenAI's pass-through paths untranslated (each some of them), for messages to people. */
export const OPENAI_PATH_TYPES: readonly SupportedProviderType[] = (Object.keys(KINDS) as SupportedProviderType[]).filter(
  (type) => (KINDS[type] as ProviderKind).forwarding !== undefined,
);

/** A target that only answers where a path goes: no request is built from it. */
const PROBE_TARGET: AdapterTarget = { baseUrl: 'https://upstream.invalid/v1', model: 'model', headers: {} };
const NO_QUERY = new URLSearchParams();

/** The provider types whose upstream serves this pass-through path (`/v1/images/variations`) untranslated, for messages to people. */
export function typesForwarding(path: string): SupportedProviderType[] {
  return OPENAI_PATH_TYPES.filter((type) => (KINDS[type] as ProviderKind).forwarding?.url(path, NO_QUERY, PROBE_TARGET) !== undefined);
}

/** The provider types whose upstream serves this client API natively (forwarded untranslated), for messages to people. */
export function typesServingNatively(api: NativeApi): SupportedProviderType[] {
  return (Object.keys(KINDS) as SupportedProviderType[]).filter((type) => KINDS[type].adapter.nativeApis?.includes(api) === true);
}

/** Where and as whom one attempt goes: the provider's credential, headers and settings, at one base URL. */
export function adapterTarget(provider: RuntimeProvider, baseUrl: string, model: string, nowMs: number, accessToken?: string): AdapterTarget {
  const { anthropic, azure, bedrock, vertex } = provider.config;
  return {
    baseUrl,
    model,
    headers: provider.config.headers,
    ...(provider.config.apiKey === undefined ? {} : { apiKey: provider.config.apiKey.reveal() }),
    settings: { anthropic, azure, bedrock, vertex },
    ...(accessToken === undefined ? {} : { accessToken }),
    nowMs,
  };
}
