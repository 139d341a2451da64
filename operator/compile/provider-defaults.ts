import type { ProviderSpec, ProviderType } from '../api/provider.js';

/** Public endpoints used when a hosted Provider names no url. */
export const DEFAULT_BASE_URLS: Partial<Record<ProviderType, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
};

/** The public endpoint of a hosted Provider without url; regional APIs derive it from their settings. */
export function defaultBaseUrl(spec: Pick<ProviderSpec, 'type' | 'bedrock' | 'vertex'>): string | undefined {
  if (spec.type === 'bedrock') return `https://bedrock-runtime.${spec.bedrock?.region ?? 'us-east-1'}.amazonaws.com`;
  if (spec.type === 'vertex' && spec.vertex) {
    const location = spec.vertex.location;
    return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
  }
  return DEFAULT_BASE_URLS[spec.type];
}
