import { describe, expect, it } from 'vitest';
import { anthropicAdapter } from '../anthropic/anthropic-adapter.js';
import { fromAnthropicResponse } from '../anthropic/anthropic-response.js';
import { AnthropicStreamTransformer } from '../anthropic/anthropic-stream.js';
import { fromConverseResponse } from '../bedrock/bedrock-response.js';
import { toConverseRequest } from '../bedrock/bedrock-request.js';
import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { JSON_RESPONSE_TOOL, jsonResponseTool, jsonToolOf } from './json-response-tool.js';

const SCHEMA = { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] };
const FN = { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };
const asSchema = { type: 'json_schema', json_schema: { name: 'answer', description: 'The answer.', schema: SCHEMA } };

const anthropicBody = (body: JsonObject): JsonObject => {
  const req: CanonicalRequest = { op: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'q' }], ...body }, stream: false, clientWantsUsage: false };
  return JSON.parse(anthropicAdapter.buildRequest(req, { baseUrl: 'http://a', model: 'c', headers: {} }).body) as JsonObject;
};

describe('response_format as a forced tool', () => {
  it('json_object and json_schema become an object-schema tool; text and absent need none', () => {
    expect(jsonResponseTool({})).toBeUndefined();
    expect(jsonResponseTool({ response_format: { type: 'text' } })).toBeUndefined();
    expect(jsonResponseTool({ response_format: { type: 'json_object' } })).toMatchObject({ name: JSON_RESPONSE_TOOL, schema: { type: 'object' }, choice: { type: 'tool', name: JSON_RESPONSE_TOOL }, withClientTools: false });
    const t = jsonResponseTool({ response_format: asSchema });
    expect(t?.schema).toEqual(SCHEMA);
    expect(t?.description).toContain('"answer"');
    expect(t?.description).toContain('The answer.');
    // A schema with properties but no type is an object schema.
    expect(jsonResponseTool({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { properties: {} } } } })?.schema).toEqual({ properties: {}, type: 'object' });
  });

  it('what a tool input cannot be is a 400 with the param', () => {
    expect(() => jsonResponseTool({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'array' } } } })).toThrow(/type "object"/);
    expect(() => jsonResponseTool({ response_format: { type: 'json_schema' } })).toThrow(/json_schema is required/);
    expect(() => jsonResponseTool({ response_format: { type: 'xml' } })).toThrow(/not supported/);
    expect(() => jsonResponseTool({ response_format: { type: 'json_object' }, tools: [{ type: 'function', function: { name: JSON_RESPONSE_TOOL } }] })).toThrow(/reserved/);
  });

  it('with client tools the model must call one of them or the JSON tool; a named choice is kept; none drops them', () => {
    expect(jsonResponseTool({ response_format: asSchema, tools: [FN] })).toMatchObject({ choice: { type: 'any' }, withClientTools: true });
    expect(jsonResponseTool({ response_format: asSchema, tools: [FN], tool_choice: { type: 'function', function: { name: 'lookup' } } })?.choice).toEqual({ type: 'named', name: 'lookup' });
    expect(jsonResponseTool({ response_format: asSchema, tools: [FN], tool_choice: 'none' })).toMatchObject({ choice: { type: 'tool' }, withClientTools: false });
  });

  it('anthropic request: the tool and tool_choice; parallel_tool_calls false carries over', () => {
    expect(anthropicBody({ response_format: asSchema })).toMatchObject({ tools: [{ name: JSON_RESPONSE_TOOL, input_schema: SCHEMA }], tool_choice: { type: 'tool', name: JSON_RESPONSE_TOOL } });
    const both = anthropicBody({ response_format: asSchema, tools: [FN], parallel_tool_calls: false });
    expect((both.tools as { name: string }[]).map((t) => t.name)).toEqual(['lookup', JSON_RESPONSE_TOOL]);
    expect(both.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
  });

  it('bedrock request: toolConfig with the tool forced, or any beside client tools', () => {
    const body = { messages: [{ role: 'user', content: 'q' }], response_format: { type: 'json_object' } };
    expect(toConverseRequest(body).toolConfig).toEqual({ tools: [{ toolSpec: { name: JSON_RESPONSE_TOOL, description: expect.any(String) as unknown, inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: JSON_RESPONSE_TOOL } } });
    expect(toConverseRequest({ ...body, tools: [FN] }).toolConfig?.toolChoice).toEqual({ any: {} });
  });

  it('response: the JSON tool call is content; a client tool call beside it stays a tool call', () => {
    const usage = { input_tokens: 1, output_tokens: 1 };
    const base = { id: 'msg_1', type: 'message' as const, role: 'assistant' as const, model: 'c', stop_reason: 'tool_use' as const, stop_sequence: null, usage };
    const only = fromAnthropicResponse({ ...base, content: [{ type: 'tool_use', id: 't1', name: JSON_RESPONSE_TOOL, input: { a: 1 } }] }, 0, JSON_RESPONSE_TOOL).body;
    expect(only.choices).toMatchObject([{ message: { content: '{"a":1}' }, finish_reason: 'stop' }]);
    const mixed = fromAnthropicResponse(
      { ...base, content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: {} }, { type: 'tool_use', id: 't2', name: JSON_RESPONSE_TOOL, input: { a: 2 } }] },
      0,
      JSON_RESPONSE_TOOL,
    ).body;
    expect(mixed.choices).toMatchObject([{ message: { content: '{"a":2}', tool_calls: [{ id: 't1' }] }, finish_reason: 'tool_calls' }]);
    // Without response_format a tool named like the JSON tool is an ordinary tool call.
    expect(fromAnthropicResponse({ ...base, content: [{ type: 'tool_use', id: 't1', name: JSON_RESPONSE_TOOL, input: {} }] }, 0).body.choices).toMatchObject([{ finish_reason: 'tool_calls' }]);
    const converse = fromConverseResponse({ output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'x', name: JSON_RESPONSE_TOOL, input: { a: 3 } } }] } }, stopReason: 'tool_use' }, 'm', 'id', 0, { jsonTool: JSON_RESPONSE_TOOL }).body;
    expect(converse.choices).toMatchObject([{ message: { content: '{"a":3}' }, finish_reason: 'stop' }]);
    expect(jsonToolOf({ response_format: { type: 'text' } })).toBeUndefined();
    expect(jsonToolOf({ response_format: 'garbage' })).toBeUndefined();
  });

  it('anthropic stream: the JSON tool input streams as content', () => {
    const t = new AnthropicStreamTransformer(false, 0, JSON_RESPONSE_TOOL);
    const ev = (data: JsonObject) => ({ event: String(data.type), data: JSON.stringify(data) });
    t.onEvent(ev({ type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', model: 'c', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 0 } } }));
    expect(t.onEvent(ev({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: JSON_RESPONSE_TOOL, input: {} } })).chunks).toEqual([]);
    expect(t.onEvent(ev({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":' } })).chunks[0]).toMatchObject({ choices: [{ delta: { content: '{"a":' } }] });
    expect(t.onEvent(ev({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 3 } })).chunks[0]).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
  });
});
