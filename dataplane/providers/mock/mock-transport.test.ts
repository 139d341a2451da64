import { describe, expect, it } from 'vitest';
import { MockTransport } from './mock-transport.js';
import { mockEmbedding } from './mock-content.js';

const transport = new MockTransport({ latencyMs: 0, chunkIntervalMs: 0, completionTokens: 4, failureRate: 0 });

async function answer(path: string, body: Record<string, unknown>): Promise<string> {
  const signal = new AbortController().signal;
  const res = await transport.send({ url: `mock://${path}`, method: 'POST', headers: {}, body: JSON.stringify(body) }, { signal, connectTimeoutMs: 1000 });
  const decoder = new TextDecoder();
  let text = '';
  for await (const part of res.body) text += decoder.decode(part, { stream: true });
  return text;
}

describe('the mock provider', () => {
  it('answers embeddings as little-endian float32 base64 when the request asks for base64 (the openai SDK default)', async () => {
    const body = JSON.parse(await answer('/v1/embeddings', { model: 'm', input: ['a', 'b'], encoding_format: 'base64' })) as { data: { embedding: unknown }[] };
    expect(body.data).toHaveLength(2);
    for (const [i, input] of ['a', 'b'].entries()) {
      const encoded = body.data[i]?.embedding;
      expect(typeof encoded).toBe('string');
      const bytes = Buffer.from(encoded as string, 'base64');
      const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
      const expected = mockEmbedding(input);
      expect(floats).toHaveLength(expected.length);
      floats.forEach((f, j) => expect(f).toBeCloseTo(expected[j] ?? NaN, 6));
    }
  });

  it('answers embeddings as floats without encoding_format or with float', async () => {
    for (const extra of [{}, { encoding_format: 'float' }]) {
      const body = JSON.parse(await answer('/v1/embeddings', { model: 'm', input: 'a', ...extra })) as { data: { embedding: unknown }[] };
      expect(body.data[0]?.embedding).toEqual(mockEmbedding('a'));
    }
  });
});
