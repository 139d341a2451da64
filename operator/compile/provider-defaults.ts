import type { ProviderType } from '../api/provider.js';

/** Public endpoints used when a hosted Provider names no url. */
export const DEFAULT_BASE_URLS: Partial<Record<ProviderType, string>> = {
  openai: 'https://api.openai.com/v1',
};
