import { createGeminiAdapter, geminiModelOf } from '../gemini/gemini-adapter.js';
import { predictEmbeddings } from '../gemini/gemini-embeddings.js';
import type { ProviderAdapter } from '../types.js';

/**
 * Vertex AI (Gemini models): the Gemini payloads at
 * `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`,
 * with an OAuth bearer token minted from a service-account key by the token source (or a static token in apiKey).
 */
export const vertexAdapter: ProviderAdapter = createGeminiAdapter({
  modelUrl: (target) => {
    const vertex = target.settings?.vertex;
    if (vertex === undefined) throw new Error('vertex provider without project and location settings');
    const project = encodeURIComponent(vertex.project);
    const location = encodeURIComponent(vertex.location);
    return `${target.baseUrl}/v1/projects/${project}/locations/${location}/publishers/google/models/${encodeURIComponent(geminiModelOf(target))}`;
  },
  auth: (target): Record<string, string> => {
    const token = target.accessToken ?? target.apiKey;
    return token !== undefined && token !== '' ? { authorization: `Bearer ${token}` } : {};
  },
  embeddings: predictEmbeddings,
});
