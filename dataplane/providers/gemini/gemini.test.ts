import { describe, expect, it } from 'vitest';
import type { CanonicalRequest } from '../../core/canonical.js';
import { geminiAdapter } from './gemini-adapter.js';
import { vertexAdapter } from '../vertex/vertex-adapter.js';
import { finishReasonFrom } from './gemini-response.js';
import { MAX_SIGNATURE_CHARS } from './thought-signature.js';
import { StreamMeter } from '../../metering/stream-meter.js';

const req: CanonicalRequest = { op: 'chat', body: { model: 'g', messages: [{ role: 'user', content: 'x' }] }, stream: false, clientWantsUsage: false, createdAt: 1 };

describe('gemini adapter', () => {
  it('maps finish reasons; STOP with a function call is tool_calls; safety is content_filter', () => {
    expect(finishReasonFrom('STOP', false)).toBe('stop');
    expect(finishReasonFrom('STOP', true)).toBe('tool_calls');
    expect(finishReasonFrom('MAX_TOKENS', false)).toBe('length');
    for (const r of ['SAFETY', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'RECITATION']) expect(finishReasonFrom(r, false)).toBe('content_filter');
  });

  it('a blocked prompt is a client error with code content_filter', () => {
    const r = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' } }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.failure).toMatchObject({ kind: 'ClientError', clientBody: { error: { code: 'content_filter' } } });
  });

  it('refuses an answer with more candidates, or a candidate index, than a request can have, before making choices of them', () => {
    const many = { candidates: Array.from({ length: 200_000 }, () => ({})) };
    const whole = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify(many));
    expect(whole).toMatchObject({ ok: false, failure: { kind: 'ServerError', message: 'upstream answer has 200000 candidates; the gateway accepts at most 128' } });
    const far = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify({ candidates: [{ index: 1e8, content: { parts: [{ text: 'x' }] } }] }));
    expect(far).toMatchObject({ ok: false, failure: { message: 'upstream answer names candidate index 100000000; the gateway accepts integers 0 to 127' } });
    const stream = geminiAdapter.createStreamTransformer({ ...req, stream: true });
    const step = stream.onEvent({ data: JSON.stringify(many) } as Parameters<typeof stream.onEvent>[0]);
    expect(step.chunks).toEqual([]);
    expect(step.failure?.message).toBe('upstream answer has 200000 candidates; the gateway accepts at most 128');
  });

  it("a /v1/messages client's output_config: format → responseSchema, effort → a thinking budget; no output_config member", () => {
    // Before, output_config never reached the canonical body: the answer was free text at the default budget.
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const asked = { ...req, extended: true as const, body: { ...req.body, output_config: { effort: 'low', format: { type: 'json_schema', schema } } } };
    const built = JSON.parse(String(geminiAdapter.buildRequest(asked, { baseUrl: 'http://g', model: 'gemini-2.5-flash', apiKey: 'k', headers: {} }).body)) as Record<string, unknown>;
    expect(built.generationConfig).toMatchObject({ responseMimeType: 'application/json', responseSchema: { type: 'object' }, thinkingConfig: { thinkingBudget: 1024 } });
    expect(JSON.stringify(built)).not.toContain('output_config');
  });

  it('service_tier flex reaches the Gemini API as its service_tier; Vertex AI, whose generateContent has no such field, gets none', () => {
    const asked = { ...req, body: { ...req.body, service_tier: 'flex' } };
    const gemini = JSON.parse(String(geminiAdapter.buildRequest(asked, { baseUrl: 'http://g', model: 'gemini-2.5-flash', apiKey: 'k', headers: {} }).body)) as Record<string, unknown>;
    expect(gemini.service_tier).toBe('FLEX');
    const settings = { vertex: { project: 'p', location: 'us-central1' } };
    const vertex = JSON.parse(String(vertexAdapter.buildRequest(asked, { baseUrl: 'http://v', model: 'gemini-2.5-flash', apiKey: 't', headers: {}, settings }).body)) as Record<string, unknown>;
    expect(vertex).not.toHaveProperty('service_tier');
  });

  it('logprobs and top_logprobs become responseLogprobs and logprobs; the answer and the stream carry them in OpenAI shape', () => {
    // Before, both were dropped: the answer said logprobs: null where the client asked for them.
    const asked = { ...req, body: { ...req.body, logprobs: true, top_logprobs: 2 } };
    const built = geminiAdapter.buildRequest(asked, { baseUrl: 'http://g', model: 'gemini-2.0-flash', apiKey: 'k', headers: {} });
    expect(JSON.parse(String(built.body)).generationConfig).toMatchObject({ responseLogprobs: true, logprobs: 2 });
    const plain = geminiAdapter.buildRequest(req, { baseUrl: 'http://g', model: 'gemini-2.0-flash', apiKey: 'k', headers: {} });
    expect(JSON.parse(String(plain.body)).generationConfig?.responseLogprobs).toBeUndefined();
    const logprobsResult = {
      chosenCandidates: [{ token: 'Hé', tokenId: 1, logProbability: -0.1 }, { token: '!', tokenId: 2, logProbability: -0.5 }],
      topCandidates: [{ candidates: [{ token: 'Hé', logProbability: -0.1 }, { token: 'Hi', logProbability: -2.3 }] }, { candidates: [{ token: '!', logProbability: -0.5 }] }],
    };
    const expected = {
      content: [
        { token: 'Hé', logprob: -0.1, bytes: [72, 195, 169], top_logprobs: [{ token: 'Hé', logprob: -0.1, bytes: [72, 195, 169] }, { token: 'Hi', logprob: -2.3, bytes: [72, 105] }] },
        { token: '!', logprob: -0.5, bytes: [33], top_logprobs: [{ token: '!', logprob: -0.5, bytes: [33] }] },
      ],
      refusal: null,
    };
    const answer = { candidates: [{ content: { parts: [{ text: 'Hé!' }] }, finishReason: 'STOP', logprobsResult }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2 } };
    const whole = geminiAdapter.parseResponse(asked, 200, {}, JSON.stringify(answer));
    expect(whole.ok && (whole.body.choices as { logprobs: unknown }[])[0]?.logprobs).toEqual(expected);
    const stream = geminiAdapter.createStreamTransformer({ ...asked, stream: true });
    const step = stream.onEvent({ data: JSON.stringify(answer) } as Parameters<typeof stream.onEvent>[0]);
    const text = step.chunks.find((c) => (c.choices as { delta: { content?: string } }[])[0]?.delta.content === 'Hé!');
    expect((text?.choices as { logprobs: unknown }[])[0]?.logprobs).toEqual(expected);
  });

  it('429 RESOURCE_EXHAUSTED honours RetryInfo', () => {
    const body = { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17s' }] } };
    expect(geminiAdapter.classifyError(429, {}, JSON.stringify(body))).toMatchObject({ kind: 'RateLimited', retryAfterMs: 17000 });
  });

  it("a bad key (400 API_KEY_INVALID and kin) or a 400 FAILED_PRECONDITION is the gateway's failure, not the client's: failed over, never relayed", () => {
    const rpc = (code: number, status: string, message: string, reason?: string): string =>
      JSON.stringify({ error: { code, message, status, ...(reason === undefined ? {} : { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }] }) } });
    for (const reason of ['API_KEY_INVALID', 'API_KEY_EXPIRED', 'API_KEY_SERVICE_BLOCKED']) {
      const f = geminiAdapter.classifyError(400, {}, rpc(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', reason));
      expect(f).toMatchObject({ kind: 'ServerError', refused: 'credentials', message: `${reason}: API key not valid. Please pass a valid API key.` });
      expect(f.clientBody).toBeUndefined();
    }
    expect(geminiAdapter.classifyError(400, {}, rpc(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'))).toMatchObject({ kind: 'ServerError', refused: 'configuration' });
    expect(geminiAdapter.classifyError(403, {}, rpc(403, 'PERMISSION_DENIED', 'Permission denied'))).toMatchObject({ kind: 'ServerError', refused: 'credentials' });
    expect(geminiAdapter.classifyError(404, {}, rpc(404, 'NOT_FOUND', 'models/gemini-x is not found for API version v1beta'))).toMatchObject({ kind: 'ServerError', refused: 'configuration' });
    // The client's own mistake stays its own.
    expect(geminiAdapter.classifyError(400, {}, rpc(400, 'INVALID_ARGUMENT', 'Invalid value at generation_config.temperature'))).toMatchObject({ kind: 'ClientError' });
  });

  it('tool results name the function of the call they answer', () => {
    const r = geminiAdapter.buildRequest(
      {
        ...req,
        body: {
          model: 'g',
          messages: [
            { role: 'user', content: 'q' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'c9', type: 'function', function: { name: 'lookup', arguments: '{"k":"v"}' } }] },
            { role: 'tool', tool_call_id: 'c9', content: 'plain text' },
          ],
        },
      },
      { baseUrl: 'http://g', model: 'models/gemini-x', apiKey: 'key', headers: {} },
    );
    expect(r.url).toBe('http://g/v1beta/models/gemini-x:generateContent');
    expect(r.headers['x-goog-api-key']).toBe('key');
    expect(JSON.parse(r.body).contents).toEqual([
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ functionCall: { name: 'lookup', args: { k: 'v' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { output: 'plain text' } } }] },
    ]);
  });

  it('a functionCall thoughtSignature rides in the tool-call id (answers and streams) and comes back on the part', () => {
    // Standard base64 with + / and padding, as Gemini sends it.
    const signature = Buffer.from([0xfb, 0xff, 0xbf, 0x01, 0x02]).toString('base64');
    expect(signature).toMatch(/[+/=]/);
    const answer = {
      responseId: 'r1',
      candidates: [{ index: 0, finishReason: 'STOP', content: { role: 'model', parts: [
        { functionCall: { name: 'lookup', args: { k: 'v' } }, thoughtSignature: signature },
        { functionCall: { name: 'other', args: {} } },
      ] } }],
    };
    const r = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify(answer));
    if (!r.ok) throw new Error('not ok');
    const calls = (r.body.choices as { message: { tool_calls: { id: string; function: { name: string; arguments: string } }[] } }[])[0]!.message.tool_calls;
    expect(calls[0]!.id).toMatch(/^call_r1_0__thought__[A-Za-z0-9_-]+$/);
    // A parallel call without a signature keeps its plain id.
    expect(calls[1]!.id).toBe('call_r1_1');

    const stream = geminiAdapter.createStreamTransformer({ ...req, stream: true });
    const step = stream.onEvent({ data: JSON.stringify(answer) } as Parameters<typeof stream.onEvent>[0]);
    const streamed = step.chunks.flatMap((c) => ((c.choices as { delta: { tool_calls?: { id: string }[] } }[])[0]?.delta.tool_calls ?? []).map((t) => t.id));
    expect(streamed).toEqual([calls[0]!.id, 'call_r1_1']);

    const next = geminiAdapter.buildRequest(
      {
        ...req,
        body: {
          model: 'g',
          messages: [
            { role: 'user', content: 'q' },
            { role: 'assistant', content: null, tool_calls: calls.map((c) => ({ ...c, type: 'function' })) },
            { role: 'tool', tool_call_id: calls[0]!.id, content: '{"a":1}' },
            { role: 'tool', tool_call_id: 'call_r1_1', content: '{"b":2}' },
          ],
        },
      },
      { baseUrl: 'http://g', model: 'gemini-3-pro-preview', apiKey: 'key', headers: {} },
    );
    expect(JSON.parse(next.body).contents).toEqual([
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ functionCall: { name: 'lookup', args: { k: 'v' } }, thoughtSignature: signature }, { functionCall: { name: 'other', args: {} } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { a: 1 } } }, { functionResponse: { name: 'other', response: { b: 2 } } }] },
    ]);
  });

  it('parallel_tool_calls: false, which Gemini has no setting for: only the first tool call is relayed (answers and streams)', () => {
    const answer = {
      responseId: 'r3',
      candidates: [{ index: 0, finishReason: 'STOP', content: { role: 'model', parts: [{ functionCall: { name: 'a', args: { x: 1 } } }, { functionCall: { name: 'b', args: {} } }] } }],
    };
    const single: CanonicalRequest = { ...req, body: { ...req.body, tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }], parallel_tool_calls: false } };
    const r = geminiAdapter.parseResponse(single, 200, {}, JSON.stringify(answer));
    if (!r.ok) throw new Error('not ok');
    const choice = (r.body.choices as { message: { tool_calls: { function: { name: string } }[] }; finish_reason: string }[])[0]!;
    expect(choice.message.tool_calls.map((c) => c.function.name)).toEqual(['a']);
    expect(choice.finish_reason).toBe('tool_calls');
    // Streamed: the calls may come in one event or in several.
    const names = (events: object[]): string[] => {
      const stream = geminiAdapter.createStreamTransformer({ ...single, stream: true });
      return events.flatMap((e) => stream.onEvent({ data: JSON.stringify(e) } as Parameters<typeof stream.onEvent>[0]).chunks)
        .flatMap((c) => ((c.choices as { delta: { tool_calls?: { function: { name: string } }[] } }[])[0]?.delta.tool_calls ?? []).map((t) => t.function.name));
    };
    expect(names([answer])).toEqual(['a']);
    const parts = answer.candidates[0]!.content.parts;
    expect(names([
      { responseId: 'r3', candidates: [{ index: 0, content: { role: 'model', parts: [parts[0]] } }] },
      { responseId: 'r3', candidates: [{ index: 0, finishReason: 'STOP', content: { role: 'model', parts: [parts[1]] } }] },
    ])).toEqual(['a']);
    // Without the flag both are relayed.
    const both = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify(answer));
    if (!both.ok) throw new Error('not ok');
    expect((both.body.choices as { message: { tool_calls: unknown[] } }[])[0]!.message.tool_calls).toHaveLength(2);
  });

  it('a signature longer than the bound is not carried', () => {
    const answer = { responseId: 'r2', candidates: [{ finishReason: 'STOP', content: { parts: [{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'A'.repeat(MAX_SIGNATURE_CHARS + 4) }] } }] };
    const r = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify(answer));
    if (!r.ok) throw new Error('not ok');
    expect((r.body.choices as { message: { tool_calls: { id: string }[] } }[])[0]!.message.tool_calls[0]!.id).toBe('call_r2_0');
  });

  it("a tool result's images follow its functionResponse; an error is `error`; earlier thinking is left out", () => {
    const r = geminiAdapter.buildRequest(
      {
        ...req,
        body: {
          model: 'g',
          messages: [
            { role: 'user', content: 'q' },
            {
              role: 'assistant',
              content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'redacted_thinking', data: 'x' }],
              tool_calls: [
                { id: 'c1', type: 'function', function: { name: 'shot', arguments: '{}' } },
                { id: 'c2', type: 'function', function: { name: 'read', arguments: '{}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'screen' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } }] },
            { role: 'tool', tool_call_id: 'c2', content: 'no such file', is_error: true },
          ],
        },
        extended: true,
      },
      { baseUrl: 'http://g', model: 'models/gemini-x', apiKey: 'key', headers: {} },
    );
    expect(JSON.parse(r.body).contents).toEqual([
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ functionCall: { name: 'shot', args: {} } }, { functionCall: { name: 'read', args: {} } }] },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'shot', response: { output: 'screen' } } },
          { inlineData: { mimeType: 'image/png', data: 'iVBO' } },
          { functionResponse: { name: 'read', response: { error: 'no such file' } } },
        ],
      },
    ]);
  });
});

describe('grounding with Google Search', () => {
  const usage = { promptTokenCount: 10, candidatesTokenCount: 20, totalTokenCount: 30 };
  const grounding = (queries: string[]) => ({
    webSearchQueries: queries,
    searchEntryPoint: { renderedContent: '<div class="container">…</div>' },
    groundingChunks: [{ web: { uri: 'https://vertexaisearch.cloud.google.com/grounding-api-redirect/abc', title: 'uefa.com' } }],
    groundingSupports: [{ segment: { startIndex: 0, endIndex: 10, text: 'Spain won.' }, groundingChunkIndices: [0] }],
  });
  const answer = (modelVersion: string, queries: string[] | undefined) => ({
    candidates: [{ content: { role: 'model', parts: [{ text: 'Spain won.' }] }, finishReason: 'STOP', index: 0, ...(queries === undefined ? {} : { groundingMetadata: grounding(queries) }) }],
    usageMetadata: usage,
    modelVersion,
    responseId: 'r1',
  });
  const searches = (body: unknown) => {
    const r = geminiAdapter.parseResponse(req, 200, {}, JSON.stringify(body));
    return r.ok ? r.usage?.webSearchCalls : 'failed';
  };

  it('charges a grounded answer its searches: per prompt on Gemini 2.5 and older, per distinct non-empty query after', () => {
    // Before, a grounded answer was charged its tokens only.
    expect(searches(answer('gemini-2.5-flash', ['euro 2024 winner', 'euro 2024 final score']))).toBe(1);
    expect(searches(answer('gemini-3-pro-preview', ['euro 2024 winner', '', 'euro 2024 final score', 'euro 2024 winner']))).toBe(2);
    // Grounded without a query it can count: one all the same.
    expect(searches(answer('gemini-3-flash-preview', ['']))).toBe(1);
    expect(searches(answer('gemini-2.5-flash', undefined))).toBeUndefined();
  });

  it('streamed: queries the events repeat are counted once, at the end of the stream', () => {
    const t = geminiAdapter.createStreamTransformer({ ...req, stream: true, clientWantsUsage: true });
    const event = (text: string, finish: boolean, queries?: string[]) =>
      ({ data: JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...(finish ? { finishReason: 'STOP' } : {}), ...(queries === undefined ? {} : { groundingMetadata: grounding(queries) }) }], usageMetadata: usage, modelVersion: 'gemini-3-pro-preview' }) }) as Parameters<typeof t.onEvent>[0];
    t.onEvent(event('Spain', false));
    t.onEvent(event(' won', false, ['euro 2024 winner']));
    t.onEvent(event('.', true, ['euro 2024 winner', 'euro 2024 final score']));
    expect(t.onEnd().usage).toMatchObject({ inputTokens: 10, webSearchCalls: 2 });
    const plain = geminiAdapter.createStreamTransformer({ ...req, stream: true });
    plain.onEvent(event('Hi', true));
    expect(plain.onEnd().usage?.webSearchCalls).toBeUndefined();
  });

  it('a stream cut after its grounding showed is charged the searches it showed', () => {
    const t = geminiAdapter.createStreamTransformer({ ...req, stream: true, clientWantsUsage: true });
    const event = (text: string, queries?: string[]) =>
      ({ data: JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...(queries === undefined ? {} : { groundingMetadata: grounding(queries) }) }], usageMetadata: usage, modelVersion: 'gemini-3-pro-preview' }) }) as Parameters<typeof t.onEvent>[0];
    // Fed to a meter as the stream pump does; the stream stops before its finish reason (cut).
    const meter = new StreamMeter(10);
    for (const step of [t.onEvent(event('Spain', ['euro 2024 winner'])), t.onEvent(event(' won', ['euro 2024 winner', 'euro 2024 final score'])), t.onEvent(event(' the'))]) {
      if (step.toolsSeen !== undefined) meter.reportTools(step.toolsSeen);
      if (step.partialUsage !== undefined) meter.reportPartial(step.partialUsage);
    }
    meter.truncated = true;
    // Before, a cut stream was charged its tokens only: the searches Gemini bills once run were not.
    expect(meter.result()).toMatchObject({ usage: { inputTokens: 10, webSearchCalls: 2 }, estimated: 'truncated' });
  });
});
