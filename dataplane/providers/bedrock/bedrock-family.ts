import type { BedrockNamedFamily } from './contract.js';

/**
 * The model family a Bedrock model id names: each family takes its own fields in Converse's
 * `additionalModelRequestFields` (Claude `top_k`, Nova `inferenceConfig.topK`, Cohere `k`, …), and
 * Converse answers 400 to a field the family does not know.
 *
 * Read from a model id (`meta.llama3-1-70b-instruct-v1:0`), a cross-region inference profile id
 * (`us.amazon.nova-pro-v1:0`, `global.anthropic.claude-…`) or an ARN that carries one
 * (`…:foundation-model/…`, `…:inference-profile/…`, `…:custom-model/<base model>/…`). An ARN that
 * names no model (a provisioned throughput, an application inference profile, an imported model)
 * is the family the Provider's `bedrock.modelFamilies` gives it, else `unknown` (no family-specific
 * field is sent), unless it says `claude`, as the adapter has always read Claude.
 */
export type BedrockFamily = BedrockNamedFamily | 'unknown';

/** `<provider>.<model>` after the start, a geo prefix's dot or an ARN's resource slash. */
const PROVIDER_MODEL = /(?:^|[./])(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|moonshot|minimax|nvidia|twelvelabs|stability|luma)\.([a-z0-9])/i;

const BY_PROVIDER: Record<string, BedrockFamily> = {
  anthropic: 'anthropic',
  meta: 'llama',
  mistral: 'mistral',
  cohere: 'cohere',
  ai21: 'ai21',
  deepseek: 'deepseek',
  openai: 'openai',
  qwen: 'qwen',
};

export function bedrockFamily(modelId: string, named?: Readonly<Record<string, BedrockNamedFamily>>): BedrockFamily {
  // An own property only: a model id such as `constructor` must not read Object.prototype.
  if (named !== undefined && Object.hasOwn(named, modelId)) return named[modelId] ?? 'unknown';
  const m = PROVIDER_MODEL.exec(modelId);
  if (m === null) return /claude/i.test(modelId) ? 'anthropic' : 'unknown';
  const provider = (m[1] ?? '').toLowerCase();
  if (provider === 'amazon') {
    const model = modelId.slice(m.index + m[0].length - 1).toLowerCase();
    return model.startsWith('nova') ? 'nova' : model.startsWith('titan') ? 'titan' : 'other';
  }
  return BY_PROVIDER[provider] ?? 'other';
}
