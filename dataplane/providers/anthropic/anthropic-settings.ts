import type { ProviderSettings } from '../types.js';

export interface AnthropicSettings {
  version: string;
  beta?: string[];
  defaultMaxTokens: number;
}

export const ANTHROPIC_DEFAULTS: AnthropicSettings = { version: '2023-06-01', defaultMaxTokens: 4096 };

export function anthropicSettings(settings: ProviderSettings | undefined): AnthropicSettings {
  return settings?.anthropic ?? ANTHROPIC_DEFAULTS;
}
