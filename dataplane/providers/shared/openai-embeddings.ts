import { estimatePromptTokens } from '../../metering/token-estimate.js';
import { RequestTranslationError } from '../types.js';
import type { JsonObject, Usage } from '../../core/canonical.js';

// The OpenAI embeddings contract, for providers whose embedding APIs look different: the inputs a
// request carries, and the `list` response built from the provider's vectors.

/** The texts to embed; token-id inputs (arrays of numbers) cannot be sent to providers that take text. */
export function embeddingInputs(body: JsonObject): string[] {
  const input = body.input;
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === 'string')) return input as string[];
  throw new RequestTranslationError('this provider embeds text only: input must be a string or an array of strings', 'input');
}

/** `dimensions`, when the client asked for shorter vectors. */
export function embeddingDimensions(body: JsonObject): number | undefined {
  return typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : undefined;
}

/** A vector as OpenAI sends it: floats, or with encoding_format base64 the little-endian float32 bytes in base64. */
export function encodeEmbedding(vector: number[], base64: boolean): number[] | string {
  if (!base64) return vector;
  const floats = new Float32Array(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  return bytes.toString('base64');
}

/**
 * Provider vectors (in input order) → the OpenAI embeddings response. Without a token count from
 * the provider the body carries the gateway's estimate and no usage is returned, so metering marks
 * the record estimated.
 */
export function toOpenAiEmbeddings(req: { body: JsonObject }, vectors: number[][], model: string, inputTokens: number | undefined): { body: JsonObject; usage?: Usage } {
  const base64 = req.body.encoding_format === 'base64';
  const tokens = inputTokens ?? estimatePromptTokens(req.body);
  const body: JsonObject = {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encodeEmbedding(v, base64) })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
  return inputTokens === undefined ? { body } : { body, usage: { inputTokens, outputTokens: 0, cachedInputTokens: 0 } };
}

/** A vector from a provider body: an array of finite numbers, or undefined. */
export function vectorOf(value: unknown): number[] | undefined {
  return Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (value as number[]) : undefined;
}
