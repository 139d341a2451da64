import type { AdapterTarget, ProviderAdapter, StreamTransformer } from '../types.js';
import type { CanonicalRequest, HeaderMap, ParseResult, UpstreamHttpRequest } from '../../core/canonical.js';
import { toOpenAiEmbeddings } from '../shared/openai-embeddings.js';
import { RequestTranslationError } from '../types.js';
import { promptBlockedFailure } from './gemini-blocked.js';
import { batchEmbedContents, type EmbeddingsDialect } from './gemini-embeddings.js';
import { classifyGeminiError } from './gemini-errors.js';
import { toGeminiRequest } from './gemini-request.js';
import { geminiReasonsUnseen } from './gemini-thinking.js';
import { candidatesProblem, fromGeminiResponse, promptBlockReason, toolCallLimit } from './gemini-response.js';
import { GeminiStreamTransformer } from './gemini-stream.js';
import { type GeminiServiceTier, geminiServiceTier, geminiTieredUsage } from './gemini-service-tier.js';
import type { GeminiResponse } from './gemini-wire.js';

/** Where a generateContent call goes and how it authenticates: the only difference between Gemini API and Vertex AI. */
export interface GeminiEndpoint {
  /** URL up to and including `models/{model}`; the adapter appends `:generateContent` or `:streamGenerateContent?alt=sse`. */
  modelUrl(target: AdapterTarget): string;
  auth(target: AdapterTarget): Record<string, string>;
  /** How this endpoint embeds text (/v1/embeddings). */
  embeddings: EmbeddingsDialect;
  /** The endpoint sells tiers through the request's `service_tier` (the Gemini API; Vertex AI has no such field). */
  serviceTiers?: true;
}

function modelOf(target: AdapterTarget): string {
  return target.model.startsWith('models/') ? target.model.slice('models/'.length) : target.model;
}

export function createGeminiAdapter(endpoint: GeminiEndpoint): ProviderAdapter {
  const askedTier = (req: CanonicalRequest): GeminiServiceTier | undefined => (endpoint.serviceTiers === true ? geminiServiceTier(req.body.service_tier) : undefined);
  return {
    buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest {
      if (req.op === 'embeddings') {
        return {
          url: endpoint.modelUrl(target) + endpoint.embeddings.method,
          method: 'POST',
          headers: { ...target.headers, 'content-type': 'application/json', accept: 'application/json', ...endpoint.auth(target) },
          body: JSON.stringify(endpoint.embeddings.body(req.body, modelOf(target))),
        };
      }
      if (req.op !== 'chat') throw new RequestTranslationError(`${req.op} is not supported by Gemini providers; use chat completions`);
      const body = toGeminiRequest(req.body, target.model);
      const tier = endpoint.serviceTiers === true ? geminiServiceTier(req.body.service_tier) : undefined;
      if (tier !== undefined) body.service_tier = tier;
      const method = req.stream ? ':streamGenerateContent?alt=sse' : ':generateContent';
      return {
        url: endpoint.modelUrl(target) + method,
        method: 'POST',
        headers: {
          ...target.headers,
          'content-type': 'application/json',
          accept: req.stream ? 'text/event-stream' : 'application/json',
          ...endpoint.auth(target),
        },
        body: JSON.stringify(body),
      };
    },

    parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string): ParseResult {
      if (status < 200 || status >= 300) return { ok: false, failure: classifyGeminiError(status, headers, bodyText) };
      let body: GeminiResponse;
      try {
        body = JSON.parse(bodyText) as GeminiResponse;
      } catch {
        return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a body that is not JSON' } };
      }
      if (typeof body !== 'object' || body === null) return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a non-object body' } };
      if (req.op === 'embeddings') {
        const embedded = endpoint.embeddings.parse(body);
        if (embedded === undefined) return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned something other than embeddings' } };
        const model = typeof req.body.model === 'string' ? req.body.model : 'gemini';
        return { ok: true, ...toOpenAiEmbeddings(req, embedded.vectors, model, embedded.inputTokens) };
      }
      const tooMany = candidatesProblem(body.candidates);
      if (tooMany !== undefined) return { ok: false, failure: { kind: 'ServerError', status: 502, message: tooMany } };
      const blocked = promptBlockReason(body);
      if (blocked !== undefined) return { ok: false, failure: promptBlockedFailure(blocked) };
      const model = typeof req.body.model === 'string' ? req.body.model : 'gemini';
      const { body: out, usage } = fromGeminiResponse(body, model, req.createdAt ?? 0, toolCallLimit(req.body));
      return { ok: true, body: out, usage: geminiTieredUsage(usage, askedTier(req), headers) };
    },

    classifyError: classifyGeminiError,

    createStreamTransformer(req: CanonicalRequest): StreamTransformer {
      const model = typeof req.body.model === 'string' ? req.body.model : 'gemini';
      return new GeminiStreamTransformer(model, req.clientWantsUsage, req.createdAt ?? 0, toolCallLimit(req.body), askedTier(req));
    },

    reasonsUnseen: (req, model) => req.op === 'chat' && geminiReasonsUnseen(req.body, model),
  };
}

/** Gemini API (generativelanguage): `{base}/v1beta/models/{model}:generateContent`, key in x-goog-api-key. */
export const geminiAdapter: ProviderAdapter = createGeminiAdapter({
  modelUrl: (target) => `${target.baseUrl}/v1beta/models/${encodeURIComponent(modelOf(target))}`,
  auth: (target): Record<string, string> => (target.apiKey !== undefined && target.apiKey !== '' ? { 'x-goog-api-key': target.apiKey } : {}),
  embeddings: batchEmbedContents,
  serviceTiers: true,
});

export { modelOf as geminiModelOf };
