import { setTimeout as sleep } from 'node:timers/promises';
import type { MockConfig } from './contract.js';
import { estimateTokens, promptText } from '../../metering/token-estimate.js';
import { SSE_DONE, sseData } from '../../sse/sse-writer.js';
import type { SendOptions, Transport, UpstreamResponse } from '../../upstream/transport.js';
import { asAbortSignal } from '../../upstream/attempt-signal.js';
import type { JsonObject, UpstreamHttpRequest } from '../../core/canonical.js';
import { mockEmbedding, mockWords, seedOf } from './mock-content.js';
import { encodeEmbedding } from '../shared/openai-embeddings.js';
import { MAX_STREAM_CHOICES } from '../../core/choice-bounds.js';

const encoder = new TextEncoder();

function respond(status: number, contentType: string, parts: AsyncIterable<string>): UpstreamResponse {
  const body = (async function* () {
    for await (const part of parts) yield encoder.encode(part);
  })();
  return {
    status,
    headers: { 'content-type': contentType },
    body,
    discard: () => undefined,
  };
}

async function* once(text: string): AsyncIterable<string> {
  yield text;
}

function outputCap(body: JsonObject): number | undefined {
  const cap = body.max_completion_tokens ?? body.max_tokens;
  return typeof cap === 'number' && cap > 0 ? cap : undefined;
}

/** The request's `n` (1 when absent), at most MAX_STREAM_CHOICES, which the gateway accepts of any upstream. */
function choiceCount(body: JsonObject): number {
  const n = body.n;
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? Math.min(n, MAX_STREAM_CHOICES) : 1;
}

/**
 * The `mock` provider: answers the OpenAI wire format in process, with configured latency, length
 * and chunk pacing. It goes through the same adapter, router and metering as a real upstream.
 */
export class MockTransport implements Transport {
  constructor(private readonly config: MockConfig) {}

  async send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const body = JSON.parse(req.body) as JsonObject;
    const signal = asAbortSignal(opts.signal);
    if (this.config.latencyMs > 0) await sleep(this.config.latencyMs, undefined, { signal });
    signal.throwIfAborted();
    if (this.config.failureRate > 0 && Math.random() < this.config.failureRate) {
      const error = { error: { message: 'mock provider failure (failureRate)', type: 'server_error', param: null, code: null } };
      return respond(500, 'application/json', once(JSON.stringify(error)));
    }
    const model = typeof body.model === 'string' ? body.model : 'mock';
    const prompt = promptText(body);
    const promptTokens = estimateTokens(prompt);
    const created = 1_700_000_000 + (seedOf(prompt) % 1_000_000);
    const id = `mock-${seedOf(prompt + model).toString(16)}`;

    if (req.url.endsWith('/embeddings')) {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      // base64 is the openai SDK's default: floats in its place decode to empty vectors.
      const base64 = body.encoding_format === 'base64';
      const data = inputs.map((input, index) => ({ object: 'embedding', index, embedding: encodeEmbedding(mockEmbedding(String(input)), base64) }));
      const response = { object: 'list', model, data, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
      return respond(200, 'application/json', once(JSON.stringify(response)));
    }

    const chat = req.url.endsWith('/chat/completions');
    const cap = outputCap(body);
    const count = cap === undefined ? this.config.completionTokens : Math.min(cap, this.config.completionTokens);
    const finish = count < this.config.completionTokens ? 'length' : 'stop';
    // `n` choices, each its own words (choice i starts i words later; the first is the answer without n), all billed as OpenAI bills them.
    const n = choiceCount(body);
    const texts = Array.from({ length: n }, (_, i) => mockWords(prompt, count + i).slice(i));
    const usage = { prompt_tokens: promptTokens, completion_tokens: count * n, total_tokens: promptTokens + count * n };

    if (body.stream !== true) {
      const response = chat
        ? {
            id, object: 'chat.completion', created, model,
            choices: texts.map((words, index) => ({ index, message: { role: 'assistant', content: words.join(' '), refusal: null }, logprobs: null, finish_reason: finish })),
            usage,
          }
        : { id, object: 'text_completion', created, model, choices: texts.map((words, index) => ({ index, text: words.join(' '), logprobs: null, finish_reason: finish })), usage };
      return respond(200, 'application/json', once(JSON.stringify(response)));
    }

    const includeUsage = (body.stream_options as JsonObject | undefined)?.include_usage === true;
    const interval = this.config.chunkIntervalMs;
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const choice = (index: number, delta: string | null, finishReason: string | null, first = false): JsonObject =>
      chat
        ? { index, delta: delta === null ? {} : first ? { role: 'assistant', content: delta } : { content: delta }, logprobs: null, finish_reason: finishReason }
        : { index, text: delta ?? '', logprobs: null, finish_reason: finishReason };
    const events = (async function* () {
      // The choices' chunks interleave, word by word, as OpenAI's do.
      for (let i = 0; i < count; i++) {
        if (i > 0 && interval > 0) await sleep(interval, undefined, { signal });
        for (let index = 0; index < n; index++) {
          const word = texts[index]?.[i] ?? '';
          yield sseData({ id, object, created, model, choices: [choice(index, i === 0 ? word : ` ${word}`, null, i === 0)] });
        }
      }
      for (let index = 0; index < n; index++) yield sseData({ id, object, created, model, choices: [choice(index, null, finish)] });
      if (includeUsage) yield sseData({ id, object, created, model, choices: [], usage });
      yield SSE_DONE;
    })();
    return respond(200, 'text/event-stream', events);
  }
}
