import type { ProviderContract } from '../../config/provider-contract.js';

/** Gemini's (Google AI Studio) part of the snapshot contract (config/provider-contract.ts). */
export const geminiContract = {
  type: 'gemini',
  settings: {},
  requires: null,
  defaultBaseUrl: () => 'https://generativelanguage.googleapis.com',
} as const satisfies ProviderContract;
