import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../core/gateway-error.js';
import type { JsonObject } from '../../core/canonical.js';
import { toCanonicalRequest } from './responses-request.js';
import { toResponseObject } from './responses-response.js';
import { type ResponsesEvent, ResponsesStreamEncoder } from './responses-stream.js';

const translate = (body: JsonObject) => toCanonicalRequest(body, 1_700_000_000);

/** Why only a native target can serve the request (the 400 for any other), or undefined when it translates whole. */
const nativeOnly = (body: JsonObject) => translate(body).canonical.native?.requires;

function refusal(body: JsonObject): GatewayError {
  try {
    translate(body);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('translated without error');
}

describe('Responses request → canonical chat request', () => {
  it('a string input with instructions becomes a system and a user message', () => {
    const { canonical, echo } = translate({ model: 'm', input: 'Hello', instructions: 'Be brief.', max_output_tokens: 10, top_p: 0.9, user: 'u1', metadata: { a: 'b' } });
    expect(canonical).toEqual({
      op: 'chat',
      stream: false,
      clientWantsUsage: false,
      createdAt: 1_700_000_000,
      body: { model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], max_completion_tokens: 10, top_p: 0.9, user: 'u1' },
      // The client's own request, for targets that serve the Responses API natively.
      native: { api: 'responses', body: { model: 'm', input: 'Hello', instructions: 'Be brief.', max_output_tokens: 10, top_p: 0.9, user: 'u1', metadata: { a: 'b' } } },
    });
    expect(echo).toMatchObject({ model: 'm', instructions: 'Be brief.', max_output_tokens: 10, metadata: { a: 'b' }, tool_choice: 'auto', parallel_tool_calls: true, text: { format: { type: 'text' } } });
  });

  it('items: multimodal user parts, assistant output, calls merged into the assistant turn, their outputs as tool messages; reasoning dropped', () => {
    const { canonical } = translate({
      model: 'm',
      input: [
        { role: 'developer', content: 'Rules.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is ' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' }] },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'message', role: 'assistant', id: 'msg_1', status: 'completed', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { type: 'function_call', call_id: 'c1', name: 'look', arguments: '{"q":1}' },
        { type: 'function_call', call_id: 'c2', name: 'look', arguments: '{"q":2}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
        { role: 'user', content: [{ type: 'input_file', file_data: 'data:application/pdf;base64,BBBB', filename: 'a.pdf' }] },
      ],
    });
    expect(canonical.body.messages).toEqual([
      { role: 'developer', content: 'Rules.' },
      { role: 'user', content: [{ type: 'text', text: 'What is ' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'look', arguments: '{"q":1}' } },
          { id: 'c2', type: 'function', function: { name: 'look', arguments: '{"q":2}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
      { role: 'tool', tool_call_id: 'c2', content: 'two' },
      { role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,BBBB', filename: 'a.pdf' } }] },
    ]);
  });

  it('function tools, tool_choice, parallel_tool_calls, json_schema format and reasoning effort', () => {
    const { canonical } = translate({
      model: 'm',
      input: 'x',
      tools: [{ type: 'function', name: 'f', parameters: null, strict: true }],
      tool_choice: { type: 'function', name: 'f' },
      parallel_tool_calls: false,
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, description: 'd' } },
      reasoning: { effort: 'low' },
    });
    expect(canonical.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, description: 'd' } },
      reasoning_effort: 'low',
    });
    expect(translate({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } }).canonical.body.response_format).toEqual({ type: 'json_object' });
    expect(translate({ model: 'm', input: 'x', text: { format: { type: 'text' } } }).canonical.body.response_format).toBeUndefined();
  });

  it('streaming always asks the upstream for usage (the terminal event carries it)', () => {
    const { canonical } = translate({ model: 'm', input: 'x', stream: true });
    expect(canonical).toMatchObject({ stream: true, clientWantsUsage: true, body: { stream: true, stream_options: { include_usage: true } } });
  });

  it('state kept upstream, built-in tools and content it cannot send make the request native-only, naming the field', () => {
    expect(nativeOnly({ model: 'm', input: 'x', previous_response_id: 'resp_1' })).toMatchObject({ param: 'previous_response_id', message: expect.stringMatching(/state that this gateway does not keep/) });
    expect(nativeOnly({ model: 'm', input: 'x', store: true })).toMatchObject({ param: 'store' });
    expect(nativeOnly({ model: 'm', input: 'x', prompt: { id: 'pmpt_1' } })).toMatchObject({ param: 'prompt' });
    expect(nativeOnly({ model: 'm', input: 'x', tools: [{ type: 'file_search', vector_store_ids: [] }] })).toMatchObject({ param: 'tools.0.type' });
    expect(nativeOnly({ model: 'm', input: 'x', tool_choice: { type: 'web_search_preview' } })).toMatchObject({ param: 'tool_choice.type' });
    expect(nativeOnly({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1', detail: 'auto' }] }] })).toMatchObject({ param: 'input.0.content.0.image_url' });
    expect(nativeOnly({ model: 'm', input: [{ type: 'computer_call_output', call_id: 'c', output: {} }] })).toMatchObject({ param: 'input.0.type' });
    // What limits, budgets and guardrails read of it: every text of the input.
    const { canonical } = translate({ model: 'm', instructions: 'Be brief.', input: [{ role: 'user', content: 'Go on' }], previous_response_id: 'resp_1' });
    expect(canonical.body.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Go on' }]);
    expect(canonical.native?.body).toMatchObject({ previous_response_id: 'resp_1' });
    // store: false is what the gateway does anyway.
    expect(nativeOnly({ model: 'm', input: 'x', store: false, previous_response_id: null })).toBeUndefined();
  });

  it('a function_call_output with an image or a file is a tool message with those parts (an extended body); audio there, and a file_id image, only native targets serve', () => {
    const { canonical } = translate({
      model: 'm',
      input: [
        { type: 'function_call', call_id: 'c1', name: 'shot', arguments: '{}' },
        {
          type: 'function_call_output',
          call_id: 'c1',
          output: [
            { type: 'input_text', text: 'screen' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,JVBE', filename: 'r.pdf' },
          ],
        },
      ],
    });
    expect(canonical.native?.requires).toBeUndefined();
    expect(canonical.extended).toBe(true);
    expect(canonical.body.messages).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'shot', arguments: '{}' } }] },
      {
        role: 'tool',
        tool_call_id: 'c1',
        content: [
          { type: 'text', text: 'screen' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'r.pdf' } },
        ],
      },
    ]);
    // Text-only outputs stay a plain (unextended) body.
    expect(translate({ model: 'm', input: [{ type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'a' }] }] }).canonical.extended).toBeUndefined();
    const output = (part: JsonObject) => nativeOnly({ model: 'm', input: [{ type: 'function_call_output', call_id: 'c1', output: [part] }] });
    expect(output({ type: 'input_image', file_id: 'file_1', detail: 'auto' })).toMatchObject({ param: 'input.0.output.0.image_url' });
    expect(output({ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } })).toMatchObject({ param: 'input.0.output.0.type' });
  });

  it('no input: a stored prompt or a conversation is native-only; neither is a 400 naming input', () => {
    const { canonical } = translate({ model: 'm', prompt: { id: 'pmpt_1' } });
    expect(canonical.native).toMatchObject({ body: { model: 'm', prompt: { id: 'pmpt_1' } }, requires: { param: 'prompt' } });
    expect(nativeOnly({ model: 'm', conversation: 'conv_1' })).toMatchObject({ param: 'conversation' });
    expect(refusal({ model: 'm' })).toMatchObject({ status: 400, param: 'input', message: expect.stringMatching(/`input` is required/) });
    expect(refusal({ model: 'm', prompt: null })).toMatchObject({ status: 400, param: 'input' });
  });

  it('a content part of a type the translation does not know is native-only, naming the part; a known type with a bad shape stays a 400', () => {
    const unknown = { type: 'input_future', foo: 1 };
    expect(nativeOnly({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'a' }, unknown] }] })).toMatchObject({
      param: 'input.0.content.1.type',
      message: expect.stringMatching(/content part of type input_future has no chat translation/),
    });
    expect(nativeOnly({ model: 'm', input: [{ role: 'assistant', content: [unknown] }] })).toMatchObject({ param: 'input.0.content.0.type' });
    expect(nativeOnly({ model: 'm', input: [{ type: 'function_call_output', call_id: 'c', output: [unknown] }] })).toMatchObject({ param: 'input.0.output.0.type' });
    expect(translate({ model: 'm', input: [{ role: 'user', content: [unknown] }] }).canonical.native?.body).toEqual({ model: 'm', input: [{ role: 'user', content: [unknown] }] });
    expect(refusal({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text' }] }] })).toMatchObject({ status: 400 });
  });

  it('refuses what is invalid in any API', () => {
    expect(refusal({ model: 'm', input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x/y.png', detail: 'auto' }] }] })).toMatchObject({ param: 'input.0.content.0.type' });
    expect(refusal({ model: 'm', input: [] })).toMatchObject({ status: 400, param: 'input' });
  });
});

const { echo } = translate({ model: 'public', input: 'x' });

describe('a Responses request of many function calls', () => {
  // Each call copied the turn's whole array of calls before: quadratic. This test took 24.9 s then and
  // 0.17 s now (vitest prints its time; no limit is asserted on a shared machine).
  it('joins 60,000 calls of one turn into one assistant message, in order', () => {
    const input: JsonObject[] = [{ role: 'user', content: 'go' }];
    for (let i = 0; i < 60_000; i++) input.push({ type: 'function_call', call_id: `c${i}`, name: 'f', arguments: '{}' });
    const { canonical } = translate({ model: 'm', input });
    const messages = canonical.body.messages as { role: string; tool_calls?: { id: string }[] }[];
    expect(messages).toHaveLength(2);
    expect(messages[1]!.tool_calls).toHaveLength(60_000);
    expect(messages[1]!.tool_calls![59_999]!.id).toBe('c59999');
  });
});

describe('chat completion → Response object', () => {
  it('text, refusal and tool calls become output items; usage the Responses way', () => {
    const body = {
      id: 'chatcmpl-9',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: { role: 'assistant', content: 'Let me look.', tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13, completion_tokens_details: { reasoning_tokens: 2 } },
    };
    const r = toResponseObject(body, { createdAt: 5, echo }, { inputTokens: 9, outputTokens: 4, cachedInputTokens: 3 });
    expect(r).toMatchObject({ id: 'resp_chatcmpl-9', object: 'response', created_at: 5, status: 'completed', model: 'public', incomplete_details: null, error: null });
    expect(r.output).toEqual([
      { id: 'msg_chatcmpl-9', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Let me look.', annotations: [], logprobs: [] }] },
      { id: 'fc_chatcmpl-9_0', type: 'function_call', status: 'completed', call_id: 'call_a', name: 'f', arguments: '{}' },
    ]);
    expect(r.usage).toEqual({ input_tokens: 9, input_tokens_details: { cached_tokens: 3 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 13 });
  });

  it('a length stop is incomplete (max_output_tokens); a content filter too', () => {
    const cut = toResponseObject({ choices: [{ finish_reason: 'length', message: { content: 'abc' } }] }, { createdAt: 1, echo }, undefined);
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ status: 'incomplete' }] });
    const filtered = toResponseObject({ choices: [{ finish_reason: 'content_filter', message: { content: null, refusal: 'No.' } }] }, { createdAt: 1, echo }, undefined);
    expect(filtered).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'content_filter' }, output: [{ content: [{ type: 'refusal', refusal: 'No.' }] }] });
  });
});

const chunk = (delta: JsonObject, finish: string | null = null, extra: JsonObject = {}): JsonObject => ({
  id: 'chatcmpl-s',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...extra,
});

/** Runs the SDK's own accumulator over the events: what `responses.stream()` would build. */
function accumulate(events: ResponsesEvent[]): Response {
  let snapshot: Response | undefined;
  for (const e of events) {
    expect(e.data.type).toBe(e.event);
    snapshot = accumulateResponse(e.data as unknown as ResponseStreamEvent, snapshot);
  }
  if (snapshot === undefined) throw new Error('no events');
  return snapshot;
}

describe('canonical chunks → Responses stream events', () => {
  it('text then two tool calls: items open and close in order, and the SDK accumulator rebuilds the terminal response', () => {
    const enc = new ResponsesStreamEncoder(echo, 7);
    const events = [
      ...enc.chunk(chunk({ role: 'assistant', content: '' })),
      ...enc.chunk(chunk({ content: 'Hel' })),
      ...enc.chunk(chunk({ content: 'lo' })),
      ...enc.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '' } }] })),
      ...enc.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] })),
      ...enc.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
      ...enc.chunk(chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } }] })),
      ...enc.chunk(chunk({}, 'tool_calls')),
      ...enc.chunk({ id: 'chatcmpl-s', choices: [], usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } }),
    ];
    enc.reportUsage({ inputTokens: 5, outputTokens: 6, cachedInputTokens: 1 });
    events.push(...enc.end());
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    const built = accumulate(events);
    const completed = events[events.length - 1]?.data.response as JsonObject;
    expect(completed.output).toEqual([
      { id: 'msg_chatcmpl-s', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }] },
      { id: 'fc_chatcmpl-s_0', type: 'function_call', status: 'completed', call_id: 'call_1', name: 'a', arguments: '{"x":1}' },
      { id: 'fc_chatcmpl-s_1', type: 'function_call', status: 'completed', call_id: 'call_2', name: 'b', arguments: '{}' },
    ]);
    expect(built.output).toEqual(completed.output);
    expect(built.output_text).toBe('Hello');
    expect(completed.usage).toEqual({ input_tokens: 5, input_tokens_details: { cached_tokens: 1 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
    expect(completed).toMatchObject({ id: 'resp_chatcmpl-s', status: 'completed', created_at: 7, model: 'public' });
  });

  it('a refusal streams as refusal deltas; a length stop ends with response.incomplete', () => {
    const enc = new ResponsesStreamEncoder(echo, 1);
    const events = [...enc.chunk(chunk({ refusal: 'I ' })), ...enc.chunk(chunk({ refusal: 'cannot.' })), ...enc.chunk(chunk({}, 'length')), ...enc.end()];
    expect(events.map((e) => e.event)).toContain('response.refusal.delta');
    const last = events[events.length - 1];
    expect(last?.event).toBe('response.incomplete');
    expect(last?.data.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ status: 'incomplete', content: [{ type: 'refusal', refusal: 'I cannot.' }] }] });
    expect(accumulate(events).output).toEqual((last?.data.response as JsonObject).output);
  });

  it('an empty stream still starts and completes a response; a failure closes items and ends with error + response.failed', () => {
    const empty = new ResponsesStreamEncoder(echo, 1).end();
    expect(empty.map((e) => e.event)).toEqual(['response.created', 'response.in_progress', 'response.completed']);
    const enc = new ResponsesStreamEncoder(echo, 1);
    const events = [...enc.chunk(chunk({ content: 'par' })), ...enc.fail('server_error', 'upstream stream failed: reset')];
    expect(events.map((e) => e.event).slice(-5)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'error', 'response.failed']);
    expect(events[events.length - 2]?.data).toMatchObject({ type: 'error', code: 'server_error', message: 'upstream stream failed: reset', param: null });
    expect(events[events.length - 1]?.data.response).toMatchObject({ status: 'failed', error: { code: 'server_error' }, output: [{ status: 'incomplete', content: [{ text: 'par' }] }] });
  });
});
