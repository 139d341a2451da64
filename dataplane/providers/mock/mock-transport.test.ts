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

  it('answers n choices, each its own text, billed for all of them, whole and streamed (interleaved by index)', async () => {
    // Before, n was ignored: one choice, billed once.
    const whole = JSON.parse(await answer('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 3 })) as {
      choices: { index: number; message: { content: string }; finish_reason: string }[];
      usage: { completion_tokens: number; total_tokens: number; prompt_tokens: number };
    };
    expect(whole.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(whole.choices.map((c) => c.message.content)).size).toBe(3);
    expect(whole.choices.every((c) => c.finish_reason === 'stop' && c.message.content.split(' ').length === 4)).toBe(true);
    expect(whole.usage.completion_tokens).toBe(12);
    expect(whole.usage.total_tokens).toBe(whole.usage.prompt_tokens + 12);
    // The first choice is what the request without n answers.
    const one = JSON.parse(await answer('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] })) as typeof whole;
    expect(one.choices).toHaveLength(1);
    expect(one.choices[0]?.message.content).toBe(whole.choices[0]?.message.content);

    const streamed = (await answer('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 3, stream: true, stream_options: { include_usage: true } }))
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: { index: number; delta: { content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number } });
    const texts = ['', '', ''];
    const finishes: (string | null)[] = [null, null, null];
    for (const chunk of streamed) for (const c of chunk.choices) {
      texts[c.index] += c.delta.content ?? '';
      if (c.finish_reason !== null) finishes[c.index] = c.finish_reason;
    }
    expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(finishes).toEqual(['stop', 'stop', 'stop']);
    expect(streamed.at(-1)?.usage?.completion_tokens).toBe(12);
    // Legacy completions too.
    const completion = JSON.parse(await answer('/v1/completions', { model: 'm', prompt: 'hi', n: 2 })) as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(completion.choices).toHaveLength(2);
    expect(completion.usage.completion_tokens).toBe(8);
  });
});
