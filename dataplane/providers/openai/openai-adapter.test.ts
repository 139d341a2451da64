import { describe, expect, it } from 'vitest';
import { openAiAdapter, openAiResponsesAdapter } from './openai-adapter.js';
import { azureOpenAiAdapter } from '../azure-openai/azure-openai-adapter.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import { parseDurationMs, parseRetryAfterMs } from '../retry-after.js';
import { usageFromOpenAi } from './openai-usage.js';
import { usageFromResponse } from '../shared/native-responses.js';
import { StreamMeter } from '../../metering/stream-meter.js';

const req = (stream: boolean, clientWantsUsage = false): CanonicalRequest => ({
  op: 'chat', stream, clientWantsUsage, body: { model: 'public', messages: [{ role: 'user', content: 'x' }], stream },
});

describe('openAiAdapter', () => {
  it('rewrites the model, asks for stream usage, and authenticates', () => {
    const r = openAiAdapter.buildRequest(req(true), { baseUrl: 'http://u/v1', model: 'gpt-4o', apiKey: 'sk', headers: { 'x-extra': '1' } });
    expect(r.url).toBe('http://u/v1/chat/completions');
    expect(r.headers).toMatchObject({ authorization: 'Bearer sk', 'x-extra': '1', accept: 'text/event-stream' });
    expect(JSON.parse(r.body)).toMatchObject({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true } });
  });

  it('drops the usage chunk when the client did not ask for usage, and passes usage:null chunks through unchanged', () => {
    const t = openAiAdapter.createStreamTransformer(req(true, false));
    const data = '{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}';
    const content = t.onEvent({ data });
    expect(content.chunks).toEqual([{ choices: [{ index: 0, delta: { content: 'a' } }], usage: null }]);
    expect(content.raw).toEqual([data]);
    const usage = t.onEvent({ data: '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":2}}}' });
    expect(usage.chunks).toEqual([]);
    expect(usage.usage).toEqual({ inputTokens: 3, outputTokens: 1, cachedInputTokens: 2 });
    expect(t.onEvent({ data: '[DONE]' }).done).toBe(true);
  });

  it('reads the output from total_tokens when completion_tokens is missing, and usage with neither as missing (estimated), not as no output', () => {
    const parsed = (usage: unknown) => openAiAdapter.parseResponse(req(false), 200, {}, JSON.stringify({ object: 'chat.completion', choices: [], usage }));
    expect(parsed({ prompt_tokens: 100, total_tokens: 2100 })).toMatchObject({ ok: true, usage: { inputTokens: 100, outputTokens: 2000 } });
    // Embeddings: total is the prompt.
    expect(parsed({ prompt_tokens: 8, total_tokens: 8 })).toMatchObject({ ok: true, usage: { inputTokens: 8, outputTokens: 0 } });
    expect(parsed({ prompt_tokens: 100 })).not.toHaveProperty('usage');
    const t = openAiAdapter.createStreamTransformer(req(true, false));
    const step = t.onEvent({ data: '{"choices":[],"usage":{"prompt_tokens":3}}' });
    expect(step.usage).toBeUndefined();
    expect(step.chunks).toEqual([]);
  });

  it('charges reasoning a server reports beside completion_tokens (xAI: total = prompt + completion + reasoning), as output', () => {
    // xAI's own example of a grok reasoning answer; before, its 2,809 reasoning tokens were charged nothing.
    const xai = { prompt_tokens: 10120, completion_tokens: 1499, total_tokens: 14428, prompt_tokens_details: { cached_tokens: 128 }, completion_tokens_details: { reasoning_tokens: 2809 } };
    const parsed = openAiAdapter.parseResponse(req(false), 200, {}, JSON.stringify({ object: 'chat.completion', choices: [], usage: xai }));
    expect(parsed).toMatchObject({ ok: true, usage: { inputTokens: 10120, outputTokens: 1499 + 2809, cachedInputTokens: 128 } });
    const t = openAiAdapter.createStreamTransformer(req(true, false));
    expect(t.onEvent({ data: JSON.stringify({ choices: [], usage: xai }) }).usage).toMatchObject({ outputTokens: 4308 });
    // Without a total, reasoning above the completion count cannot be part of it: added.
    expect(usageFromOpenAi({ prompt_tokens: 10, completion_tokens: 2, completion_tokens_details: { reasoning_tokens: 300 } })).toMatchObject({ outputTokens: 302 });
    // OpenAI's own usage (reasoning inside completion_tokens, total = prompt + completion) is unchanged.
    expect(usageFromOpenAi({ prompt_tokens: 10, completion_tokens: 300, total_tokens: 310, completion_tokens_details: { reasoning_tokens: 256 } })).toMatchObject({ outputTokens: 300 });
    // The Responses API and pass-through answers read the same way.
    expect(usageFromResponse({ input_tokens: 10, output_tokens: 2, total_tokens: 400, output_tokens_details: { reasoning_tokens: 388 } })).toMatchObject({ outputTokens: 390 });
    expect(usageFromResponse({ input_tokens: 10, output_tokens: 300, total_tokens: 310, output_tokens_details: { reasoning_tokens: 256 } })).toMatchObject({ outputTokens: 300 });
  });

  it('keeps the usage chunk when the client asked for it', () => {
    const t = openAiAdapter.createStreamTransformer(req(true, true));
    expect(t.onEvent({ data: '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}' }).chunks).toHaveLength(1);
  });

  it('ends a stream without [DONE] as complete only when every choice it started has finished', () => {
    const chunk = (index: number, finish?: string): { data: string } => ({ data: JSON.stringify({ choices: [{ index, delta: {}, ...(finish === undefined ? {} : { finish_reason: finish }) }] }) });
    const run = (...chunks: { data: string }[]): boolean => {
      const t = openAiAdapter.createStreamTransformer(req(true));
      for (const c of chunks) t.onEvent(c);
      return t.onEnd().done === true;
    };
    expect(run()).toBe(false);
    expect(run(chunk(0), chunk(0, 'stop'))).toBe(true);
    expect(run(chunk(0), chunk(1), chunk(0, 'stop'))).toBe(false);
    expect(run(chunk(0), chunk(1), chunk(1, 'stop'), chunk(0, 'stop'), chunk(1))).toBe(true);
    expect(run(chunk(0, 'stop'), chunk(0), chunk(2), chunk(2, ''))).toBe(false);
    expect(run({ data: '{"choices":[{"delta":{},"finish_reason":"length"}]}' }, chunk(0))).toBe(true);
  });

  it('turns an in-band stream error into a failure', () => {
    const t = openAiAdapter.createStreamTransformer(req(true));
    expect(t.onEvent({ data: '{"error":{"message":"boom"}}' }).failure).toMatchObject({ kind: 'ServerError', message: 'boom' });
  });

  it.each([
    ['{"error":{"message":"Overloaded","type":"overloaded_error"}}', { kind: 'ServerError', overloaded: true, status: 200 }],
    ['{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}', { kind: 'RateLimited' }],
    ['{"error":{"object":"error","message":"engine busy","type":"ServiceUnavailableError","param":null,"code":503}}', { kind: 'ServerError', message: 'engine busy' }],
    ['{"error":{"message":"no such model","type":"NotFoundError","code":404}}', { kind: 'ServerError', refused: 'configuration' }],
    ['{"error":{"message":"bad value","type":"BadRequestError","code":400}}', { kind: 'ClientError' }],
  ])('classifies an in-band stream error as the same error over HTTP: %s', (data, expected) => {
    const failure = openAiAdapter.createStreamTransformer(req(true)).onEvent({ data }).failure;
    expect(failure).toMatchObject(expected);
    if (!('overloaded' in expected)) expect(failure?.overloaded).toBeUndefined();
  });

  it.each([
    [429, '{"error":{"message":"slow down","type":"rate_limit_error"}}', { 'retry-after': '2' }, { kind: 'RateLimited', retryAfterMs: 2000 }],
    [500, 'oops', {}, { kind: 'ServerError', message: 'oops' }],
    [503, '{"error":{"message":"overloaded"}}', { 'retry-after-ms': '250' }, { kind: 'ServerError', retryAfterMs: 250 }],
    [504, '', {}, { kind: 'Timeout' }],
    [400, '{"error":{"message":"bad param","type":"invalid_request_error","code":null}}', {}, { kind: 'ClientError' }],
    [400, '{"error":{"message":"This model\'s maximum context length is 8192 tokens","code":"context_length_exceeded"}}', {}, { kind: 'ContextLengthExceeded' }],
    [401, '{"error":{"message":"invalid api key"}}', {}, { kind: 'ServerError', refused: 'credentials' }],
    [404, '{"error":{"message":"The model does not exist","code":"model_not_found"}}', {}, { kind: 'ServerError', refused: 'configuration' }],
  ])('classifies HTTP %i', (status, body, headers, expected) => {
    expect(openAiAdapter.classifyError(status, headers, body)).toMatchObject(expected);
  });

  it("a 429 without retry-after waits for the reset of the limit it hit (x-ratelimit-reset-*, Go durations)", () => {
    const limited = (headers: Record<string, string>): number | undefined => openAiAdapter.classifyError(429, headers, '{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}').retryAfterMs;
    expect(parseDurationMs('20s')).toBe(20_000);
    expect(parseDurationMs('6m0s')).toBe(360_000);
    expect(parseDurationMs('120ms')).toBe(120);
    expect(parseDurationMs('1h2m3.5s')).toBe(3_723_500);
    expect(parseDurationMs('soon')).toBeUndefined();
    expect(parseDurationMs('')).toBeUndefined();
    // The spent limit's reset; when both are spent, the later; when none says which, the sooner.
    expect(limited({ 'x-ratelimit-reset-requests': '20s', 'x-ratelimit-reset-tokens': '120ms', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '4000' })).toBe(20_000);
    expect(limited({ 'x-ratelimit-reset-requests': '20s', 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '0' })).toBe(360_000);
    expect(limited({ 'x-ratelimit-reset-requests': '20s', 'x-ratelimit-reset-tokens': '120ms' })).toBe(120);
    // retry-after wins when there is one.
    expect(limited({ 'retry-after': '2', 'x-ratelimit-reset-requests': '20s' })).toBe(2_000);
    expect(limited({})).toBeUndefined();
  });

  it('parses retry-after as seconds, milliseconds or an HTTP date', () => {
    expect(parseRetryAfterMs({ 'retry-after': '3' })).toBe(3000);
    expect(parseRetryAfterMs({ 'retry-after-ms': '120' , 'retry-after': '3' })).toBe(120);
    expect(parseRetryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4_000)).toBe(6000);
    expect(parseRetryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
  });

  it('OpenAI and Azure OpenAI get max_completion_tokens and no top_k; OpenAI-compatible servers get the body as it is', () => {
    const body = { model: 'public', messages: [{ role: 'user', content: 'x' }], max_tokens: 64, top_k: 5, temperature: 0.5 };
    const chat: CanonicalRequest = { op: 'chat', stream: false, clientWantsUsage: false, body };
    const target = { baseUrl: 'http://u', model: 'o3', apiKey: 'sk', headers: {} };
    const sent = (r: { body: string }): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;
    const openai = sent(openAiResponsesAdapter.buildRequest(chat, target));
    expect(openai).toMatchObject({ max_completion_tokens: 64, temperature: 0.5 });
    expect(openai).not.toHaveProperty('max_tokens');
    expect(openai).not.toHaveProperty('top_k');
    const azure = sent(azureOpenAiAdapter.buildRequest(chat, target));
    expect(azure).toMatchObject({ max_completion_tokens: 64 });
    expect(azure).not.toHaveProperty('max_tokens');
    expect(azure).not.toHaveProperty('top_k');
    // An api-version older than max_completion_tokens keeps max_tokens (it would refuse the other).
    const old = sent(azureOpenAiAdapter.buildRequest(chat, { ...target, settings: { azure: { apiVersion: '2024-06-01', auth: 'api-key' } } }));
    expect(old).toMatchObject({ max_tokens: 64 });
    expect(old).not.toHaveProperty('max_completion_tokens');
    expect(old).not.toHaveProperty('top_k');
    // vLLM and other compatible servers take both fields.
    expect(sent(openAiAdapter.buildRequest(chat, target))).toMatchObject({ max_tokens: 64, top_k: 5 });
    // The client's own max_completion_tokens wins; legacy completions keep max_tokens, their only cap.
    expect(sent(openAiResponsesAdapter.buildRequest({ ...chat, body: { ...body, max_completion_tokens: 10 } }, target))).toMatchObject({ max_completion_tokens: 10 });
    const legacy = sent(openAiResponsesAdapter.buildRequest({ ...chat, op: 'completions', body: { model: 'm', prompt: 'p', max_tokens: 7 } }, target));
    expect(legacy).toMatchObject({ max_tokens: 7 });
    // The canonical body itself is not changed (metering and capture read it).
    expect(body).toMatchObject({ max_tokens: 64, top_k: 5 });
  });
});

describe('chat-completions search models', () => {
  const search = (stream: boolean, options: unknown = { search_context_size: 'low' }): CanonicalRequest => ({
    op: 'chat', stream, clientWantsUsage: true, body: { model: 'public', messages: [{ role: 'user', content: 'news?' }], stream, web_search_options: options },
  });
  const citation = { type: 'url_citation', url_citation: { start_index: 0, end_index: 5, title: 'News', url: 'https://news.example/a' } };
  const answer = (annotations: unknown[]) =>
    JSON.stringify({
      id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-search-preview-2025-03-11',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Today', refusal: null, annotations }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
    });

  it('bills a search to a request with web_search_options, or whose answer cites the web; none to another', () => {
    // Before, such a request was charged its tokens only: OpenAI bills it a search besides them.
    expect(openAiAdapter.parseResponse(search(false), 200, {}, answer([]))).toMatchObject({ ok: true, usage: { inputTokens: 10, webSearchCalls: 1 } });
    expect(openAiAdapter.parseResponse(req(false), 200, {}, answer([citation]))).toMatchObject({ ok: true, usage: { webSearchCalls: 1 } });
    const plain = openAiAdapter.parseResponse(req(false), 200, {}, answer([]));
    expect(plain.ok && plain.usage?.webSearchCalls).toBeUndefined();
    expect(openAiAdapter.parseResponse(search(false, null), 200, {}, answer([]))).not.toMatchObject({ usage: { webSearchCalls: 1 } });
  });

  it('streamed: the usage chunk carries the search, asked or cited in a delta', () => {
    const chunk = (delta: unknown, finish: string | null = null) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }], usage: null });
    const usageChunk = '{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}';
    const asked = openAiAdapter.createStreamTransformer(search(true));
    asked.onEvent({ data: chunk({ role: 'assistant', content: 'Today' }) });
    expect(asked.onEvent({ data: usageChunk }).usage).toMatchObject({ webSearchCalls: 1 });
    const cited = openAiAdapter.createStreamTransformer(req(true, true));
    cited.onEvent({ data: chunk({ content: 'Today' }) });
    cited.onEvent({ data: chunk({ annotations: [citation] }, 'stop') });
    expect(cited.onEvent({ data: usageChunk }).usage).toMatchObject({ webSearchCalls: 1 });
    const plain = openAiAdapter.createStreamTransformer(req(true, true));
    plain.onEvent({ data: chunk({ content: 'Hi' }, 'stop') });
    expect(plain.onEvent({ data: usageChunk }).usage?.webSearchCalls).toBeUndefined();
  });

  it('a stream cut before its usage is charged the search, asked or cited', () => {
    const chunk = (delta: unknown) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }], usage: null });
    // The steps into a meter as the stream pump feeds it; the stream stops before its usage chunk (cut).
    const cut = (request: CanonicalRequest, deltas: unknown[]) => {
      const t = openAiAdapter.createStreamTransformer(request);
      const meter = new StreamMeter(10);
      for (const delta of deltas) {
        const step = t.onEvent({ data: chunk(delta) });
        if (step.toolsSeen !== undefined) meter.reportTools(step.toolsSeen);
        for (const c of step.chunks) meter.observe(c);
      }
      meter.truncated = true;
      return meter.result();
    };
    // Before, the search (billed once it ran) was left out of what a cut stream is charged.
    expect(cut(search(true), [{ role: 'assistant', content: 'Today' }])).toMatchObject({ usage: { inputTokens: 10, webSearchCalls: 1 }, estimated: 'truncated' });
    expect(cut(req(true, true), [{ content: 'Today' }, { annotations: [citation] }]).usage.webSearchCalls).toBe(1);
    expect(cut(req(true, true), [{ content: 'Today' }]).usage.webSearchCalls).toBeUndefined();
  });

  it('Azure OpenAI reads them the same way', () => {
    expect(azureOpenAiAdapter.parseResponse(search(false), 200, {}, answer([]))).toMatchObject({ ok: true, usage: { webSearchCalls: 1 } });
  });
});
