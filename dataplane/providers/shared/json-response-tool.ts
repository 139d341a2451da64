import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import { functionTools } from './function-tools.js';
import { isObject } from './json-guards.js';

// `response_format` for providers without a JSON mode (Anthropic Messages, Bedrock Converse): the
// gateway offers one extra tool whose input schema is the requested JSON schema and makes the model
// call it; the call's input, serialised, comes back as the message content and the finish reason
// is `stop`. This is the common gateway practice (LiteLLM's `json_tool_call`), and it works on every
// model that can use tools, unlike the providers' newer native structured-output options.

/** The name of the tool that carries a JSON answer; client tools may not use it. */
export const JSON_RESPONSE_TOOL = 'json_tool_call';

export interface JsonResponseTool {
  name: string;
  description: string;
  /** A JSON Schema whose root is an object (tool inputs are objects). */
  schema: JsonObject;
  /**
   * How the model is made to answer: without client tools the JSON tool is forced; with client
   * tools on offer it must call one of them or the JSON tool (`any`); a client's named tool_choice
   * is kept (then the JSON tool is only on offer).
   */
  choice: { type: 'tool'; name: string } | { type: 'any' } | { type: 'named'; name: string };
  /** Whether the client's tools are sent too (not when tool_choice is none). */
  withClientTools: boolean;
}

function objectSchema(schema: JsonObject): JsonObject | undefined {
  if (schema.type === 'object') return schema;
  if (schema.type === undefined && isObject(schema.properties)) return { ...schema, type: 'object' };
  return undefined;
}

/** The JSON tool a request needs, or undefined (no response_format, or type text). Throws a 400 for what cannot be expressed. */
export function jsonResponseTool(body: JsonObject): JsonResponseTool | undefined {
  const format = body.response_format;
  if (format === undefined || format === null) return undefined;
  if (!isObject(format)) throw new RequestTranslationError('response_format must be an object', 'response_format');
  let schema: JsonObject;
  let description: string;
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      schema = { type: 'object' };
      description = 'Give your answer by calling this tool with a JSON object.';
      break;
    case 'json_schema': {
      const spec = format.json_schema;
      if (!isObject(spec)) throw new RequestTranslationError('response_format.json_schema is required for type json_schema', 'response_format.json_schema');
      const asObject = objectSchema(isObject(spec.schema) ? spec.schema : { type: 'object' });
      if (asObject === undefined) {
        throw new RequestTranslationError('this provider can only return JSON objects: the schema must have type "object"', 'response_format.json_schema.schema');
      }
      schema = asObject;
      const named = typeof spec.name === 'string' ? ` "${spec.name}"` : '';
      const about = typeof spec.description === 'string' && spec.description !== '' ? ` ${spec.description}` : '';
      description = `Give your answer by calling this tool with JSON that matches the schema${named}.${about}`;
      break;
    }
    default:
      throw new RequestTranslationError(`response_format type ${String(format.type)} is not supported`, 'response_format.type');
  }
  const tools = body.tool_choice === 'none' ? [] : functionTools(body.tools);
  if (tools.some((t) => t.name === JSON_RESPONSE_TOOL)) throw new RequestTranslationError(`the tool name ${JSON_RESPONSE_TOOL} is reserved when response_format is set`, 'tools');
  const tc = body.tool_choice;
  const choice: JsonResponseTool['choice'] =
    tools.length === 0
      ? { type: 'tool', name: JSON_RESPONSE_TOOL }
      : isObject(tc) && isObject(tc.function) && typeof tc.function.name === 'string'
        ? { type: 'named', name: tc.function.name }
        : { type: 'any' };
  return { name: JSON_RESPONSE_TOOL, description, schema, choice, withClientTools: tools.length > 0 };
}

/** Response side: the JSON tool's name when the request asked for JSON (its call is the content), else undefined. Never throws. */
export function jsonToolOf(body: JsonObject): string | undefined {
  const format = body.response_format;
  return isObject(format) && (format.type === 'json_object' || format.type === 'json_schema') ? JSON_RESPONSE_TOOL : undefined;
}

/** A call of the JSON tool is an answer, not a tool call: when it was the only call, the finish reason is stop. */
export function finishWithJsonTool<F extends string>(finish: F, clientToolCalls: number): F | 'stop' {
  return finish === 'tool_calls' && clientToolCalls === 0 ? 'stop' : finish;
}
