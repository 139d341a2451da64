import { isObject } from '../shared/json-guards.js';
import { embeddingDimensions, embeddingInputs, vectorOf } from '../shared/openai-embeddings.js';
import type { JsonObject } from '../../core/canonical.js';

/** How one Google endpoint embeds text: the method after `models/{model}`, the body, and the vectors back. */
export interface EmbeddingsDialect {
  method: string;
  body(request: JsonObject, model: string): JsonObject;
  /** Vectors in input order, and the input tokens when the endpoint counts them; undefined for an unexpected body. */
  parse(body: unknown): { vectors: number[][]; inputTokens?: number } | undefined;
}

/** Gemini API: `models/{model}:batchEmbedContents`, one request per input; no token counts in the answer. */
export const batchEmbedContents: EmbeddingsDialect = {
  method: ':batchEmbedContents',
  body(request, model) {
    const dimensions = embeddingDimensions(request);
    return {
      requests: embeddingInputs(request).map((text) => ({
        model: `models/${model}`,
        content: { parts: [{ text }] },
        ...(dimensions === undefined ? {} : { outputDimensionality: dimensions }),
      })),
    };
  },
  parse(body) {
    const list = isObject(body) && Array.isArray(body.embeddings) ? body.embeddings : undefined;
    const vectors = list?.map((e: unknown) => (isObject(e) ? vectorOf(e.values) : undefined));
    if (vectors === undefined || vectors.some((v) => v === undefined)) return undefined;
    return { vectors: vectors as number[][] };
  },
};

/** Vertex AI: `models/{model}:predict` with one instance per input; each prediction counts its tokens. */
export const predictEmbeddings: EmbeddingsDialect = {
  method: ':predict',
  body(request) {
    const dimensions = embeddingDimensions(request);
    const out: JsonObject = { instances: embeddingInputs(request).map((content) => ({ content })) };
    if (dimensions !== undefined) out.parameters = { outputDimensionality: dimensions };
    return out;
  },
  parse(body) {
    const predictions = isObject(body) && Array.isArray(body.predictions) ? body.predictions : undefined;
    if (predictions === undefined) return undefined;
    const vectors: number[][] = [];
    let tokens = 0;
    let counted = false;
    for (const p of predictions) {
      const e = isObject(p) && isObject(p.embeddings) ? p.embeddings : undefined;
      const v = vectorOf(e?.values);
      if (e === undefined || v === undefined) return undefined;
      vectors.push(v);
      const count = isObject(e.statistics) ? e.statistics.token_count : undefined;
      if (typeof count === 'number') {
        tokens += count;
        counted = true;
      }
    }
    return counted ? { vectors, inputTokens: tokens } : { vectors };
  },
};
