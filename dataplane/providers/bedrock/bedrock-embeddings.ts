import { isObject } from '../shared/json-guards.js';
import { embeddingDimensions, embeddingInputs, vectorOf } from '../shared/openai-embeddings.js';
import { RequestTranslationError } from '../types.js';
import type { HeaderMap, JsonObject } from '../../core/canonical.js';

// /v1/embeddings on Bedrock: InvokeModel (`POST /model/{modelId}/invoke`) with the model family's
// own body, since Converse does not embed. Amazon Titan Text Embeddings take one text per call;
// Cohere Embed takes up to 96.

export interface EmbeddingFamily {
  body(request: JsonObject): JsonObject;
  /** Vectors in input order, and the input tokens when known; undefined for an unexpected body. */
  parse(body: unknown, headers: HeaderMap): { vectors: number[][]; inputTokens?: number } | undefined;
}

/** InvokeModel reports the tokens it counted in a response header. */
function headerTokens(headers: HeaderMap): number | undefined {
  const raw = headers['x-amzn-bedrock-input-token-count'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

function withTokens(vectors: number[][], tokens: number | undefined): { vectors: number[][]; inputTokens?: number } {
  return tokens === undefined ? { vectors } : { vectors, inputTokens: tokens };
}

/** amazon.titan-embed-text-v1 / -v2: `{inputText, dimensions?}` → `{embedding, inputTextTokenCount}`. */
const titan: EmbeddingFamily = {
  body(request) {
    const inputs = embeddingInputs(request);
    if (inputs.length !== 1) throw new RequestTranslationError('Titan embedding models take one input per request', 'input');
    const dimensions = embeddingDimensions(request);
    return { inputText: inputs[0], ...(dimensions === undefined ? {} : { dimensions }) };
  },
  parse(body, headers) {
    const vector = isObject(body) ? vectorOf(body.embedding) : undefined;
    if (!isObject(body) || vector === undefined) return undefined;
    return withTokens([vector], typeof body.inputTextTokenCount === 'number' ? body.inputTextTokenCount : headerTokens(headers));
  },
};

function parseCohere(body: unknown, headers: HeaderMap): { vectors: number[][]; inputTokens?: number } | undefined {
  if (!isObject(body)) return undefined;
  const list = Array.isArray(body.embeddings) ? body.embeddings : isObject(body.embeddings) && Array.isArray(body.embeddings.float) ? body.embeddings.float : undefined;
  const vectors = list?.map(vectorOf);
  if (vectors === undefined || vectors.some((v) => v === undefined)) return undefined;
  return withTokens(vectors as number[][], headerTokens(headers));
}

/**
 * cohere.embed-*: `{texts, input_type}` → `{embeddings: [[…]]}` (or `{embeddings: {float: [[…]]}}`
 * when typed). `input_type` is required by Cohere; the client may send it as an extra field,
 * otherwise `search_document`.
 */
function cohere(modelId: string): EmbeddingFamily {
  return {
    body(request) {
      const texts = embeddingInputs(request);
      if (texts.length > 96) throw new RequestTranslationError('Cohere embedding models take at most 96 inputs per request', 'input');
      const out: JsonObject = { texts, input_type: typeof request.input_type === 'string' ? request.input_type : 'search_document' };
      const dimensions = embeddingDimensions(request);
      if (dimensions !== undefined) {
        if (!modelId.includes('embed-v4')) throw new RequestTranslationError('this Cohere embedding model has a fixed size; dimensions is not supported', 'dimensions');
        out.output_dimension = dimensions;
      }
      return out;
    },
    parse: parseCohere,
  };
}

/** The request body for a Bedrock model id (or inference profile id / ARN); a 400 for models that do not embed. */
export function embeddingsBody(modelId: string, request: JsonObject): JsonObject {
  return embeddingFamily(modelId).body(request);
}

/** The response, told apart by its shape (the response side does not see the model id): Titan's `embedding` or Cohere's `embeddings`. */
export function parseEmbeddings(body: unknown, headers: HeaderMap): { vectors: number[][]; inputTokens?: number } | undefined {
  if (isObject(body) && body.embedding !== undefined) return titan.parse(body, headers);
  return parseCohere(body, headers);
}

function embeddingFamily(modelId: string): EmbeddingFamily {
  if (modelId.includes('amazon.titan-embed-text')) return titan;
  if (modelId.includes('cohere.embed')) return cohere(modelId);
  throw new RequestTranslationError(`embeddings on bedrock support Amazon Titan Text Embeddings and Cohere Embed models, not ${modelId}`, 'model');
}
