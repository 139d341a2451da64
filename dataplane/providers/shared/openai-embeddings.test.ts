import { describe, expect, it } from 'vitest';
import { embeddingsBody, parseEmbeddings } from '../bedrock/bedrock-embeddings.js';
import { predictEmbeddings } from '../gemini/gemini-embeddings.js';
import { embeddingInputs, toOpenAiEmbeddings } from './openai-embeddings.js';

describe('embeddings translation', () => {
  it('base64 vectors are little-endian float32, as OpenAI sends them', () => {
    const { body, usage } = toOpenAiEmbeddings({ body: { input: 'x', encoding_format: 'base64' } }, [[1, -0.5]], 'm', 2);
    const b64 = (body.data as { embedding: string }[])[0]?.embedding ?? '';
    const bytes = Buffer.from(b64, 'base64');
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([1, -0.5]);
    expect(usage).toEqual({ inputTokens: 2, outputTokens: 0, cachedInputTokens: 0 });
    // No count from the provider: an estimate in the body, no usage (metering marks it estimated).
    expect(toOpenAiEmbeddings({ body: { input: 'abcdefgh' } }, [[0]], 'm', undefined)).toEqual({
      body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0] }], model: 'm', usage: { prompt_tokens: 2, total_tokens: 2 } },
    });
  });

  it('inputs: strings only', () => {
    expect(embeddingInputs({ input: 'a' })).toEqual(['a']);
    expect(() => embeddingInputs({ input: [[1, 2]] })).toThrow(/text only/);
    expect(() => embeddingInputs({ input: [] })).toThrow(/text only/);
  });

  it('bedrock: Cohere typed and untyped responses, token header; dimensions only on embed-v4', () => {
    expect(parseEmbeddings({ embeddings: { float: [[0.5]] }, response_type: 'embeddings_by_type' }, { 'x-amzn-bedrock-input-token-count': '7' })).toEqual({ vectors: [[0.5]], inputTokens: 7 });
    expect(parseEmbeddings({ embeddings: [[0.25]] }, {})).toEqual({ vectors: [[0.25]] });
    expect(parseEmbeddings({ embedding: [1], inputTextTokenCount: 4 }, {})).toEqual({ vectors: [[1]], inputTokens: 4 });
    expect(parseEmbeddings({ message: 'nope' }, {})).toBeUndefined();
    expect(embeddingsBody('us.cohere.embed-v4:0', { input: ['a'], dimensions: 256 })).toEqual({ texts: ['a'], input_type: 'search_document', output_dimension: 256 });
    expect(() => embeddingsBody('cohere.embed-english-v3', { input: ['a'], dimensions: 256 })).toThrow(/fixed size/);
  });

  it('vertex predict: a response without statistics has no token count', () => {
    expect(predictEmbeddings.parse({ predictions: [{ embeddings: { values: [1, 2] } }] })).toEqual({ vectors: [[1, 2]] });
    expect(predictEmbeddings.parse({ predictions: [{}] })).toBeUndefined();
  });
});
