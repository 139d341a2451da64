import type { z } from 'zod';
import type { ProviderContract } from '../config/provider-contract.js';
import type { PassThroughEndpoint } from '../config/pass-through-endpoints.js';
import { anthropicContract } from './anthropic/contract.js';
import { azureOpenAiContract } from './azure-openai/contract.js';
import { bedrockContract } from './bedrock/contract.js';
import { geminiContract } from './gemini/contract.js';
import { mockContract } from './mock/contract.js';
import { openAiContract } from './openai/contract.js';
import { openAiCompatibleContract } from './openai-compatible/contract.js';
import { vertexContract } from './vertex/contract.js';
import { vllmContract } from './vllm/contract.js';

/**
 * The provider types of the snapshot contract, composed from each type's own part
 * (providers/<name>/contract.ts). config/snapshot.ts builds ProviderConfig from this and exports it
 * to the operator; like those parts, this file imports zod and config/ only, never a provider's
 * runtime code (test/unit/layout.test.ts checks both). With the registry, the only file outside the
 * providers' folders that names them.
 */
const CONTRACTS = [
  openAiContract,
  azureOpenAiContract,
  anthropicContract,
  geminiContract,
  vertexContract,
  bedrockContract,
  openAiCompatibleContract,
  vllmContract,
  mockContract,
] as const satisfies readonly ProviderContract[];

type Contracts = typeof CONTRACTS;
type Contract = Contracts[number];
type SettingsOf<T extends readonly Contract[]> = T extends readonly [infer H extends Contract, ...infer R extends readonly Contract[]] ? H['settings'] & SettingsOf<R> : unknown;

/** Every type's settings blocks, for ProviderConfig (each optional). */
export const PROVIDER_SETTINGS = Object.assign({}, ...CONTRACTS.map((c) => c.settings)) as SettingsOf<Contracts>;

/** The provider-specific settings blocks of a ProviderConfig, as they are parsed. */
export type ProviderSettingBlocks = { [K in keyof typeof PROVIDER_SETTINGS]?: z.output<(typeof PROVIDER_SETTINGS)[K]> };
/** The key of one settings block. */
export type ProviderSettingsKey = keyof typeof PROVIDER_SETTINGS;
/** The settings an adapter reads when it builds a request (API versions, regions, projects, cloud credentials). */
export type ProviderSettings = Pick<ProviderSettingBlocks, 'anthropic' | 'azure' | 'bedrock' | 'vertex'>;

export type SupportedProviderType = Contract['type'];

/** Provider types this data plane has an adapter for, in the Provider CRD's order; compile refuses the others with a clear reason. */
export const SUPPORTED_PROVIDER_TYPES = CONTRACTS.map((c) => c.type) as [SupportedProviderType, ...SupportedProviderType[]];

/** The settings blocks some type cannot work without (config/load-checks.ts reads them off a ProviderConfig, so each must be one of the blocks above). */
type RequiredSettings = Contract['requires'];

const BY_TYPE: ReadonlyMap<string, Contract> = new Map(CONTRACTS.map((c) => [c.type, c]));

export function isSupportedProviderType(type: string): type is SupportedProviderType {
  return BY_TYPE.has(type);
}

/** The pass-through endpoints a provider of this type serves untranslated; none for an unknown type. */
export function passThroughEndpointsOf(type: string): readonly PassThroughEndpoint[] {
  const contract: ProviderContract | undefined = BY_TYPE.get(type);
  return contract?.passThrough ?? [];
}

/** The settings block a provider of this type cannot work without, if any. */
export function requiredSettings(type: SupportedProviderType): RequiredSettings {
  return BY_TYPE.get(type)?.requires ?? null;
}

/** The public endpoint of a hosted provider configured without url or Service; undefined when its type has none. */
export function defaultBaseUrl(provider: { type: string } & ProviderSettingBlocks): string | undefined {
  const contract: ProviderContract | undefined = BY_TYPE.get(provider.type);
  return contract?.defaultBaseUrl?.(provider);
}
