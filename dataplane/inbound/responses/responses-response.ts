import { count, isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import type { ResponsesEcho } from './responses-request.js';

/** Usage the Responses way (`ResponseUsage`): cached input inside input, reasoning inside output. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * The canonical usage the adapter reported is preferred (it is what was metered); the chat body's
 * usage object only adds the reasoning tokens, which canonical usage does not keep apart.
 */
export function responsesUsage(chatUsage: unknown, canonical: Usage | undefined): ResponsesUsage {
  const u = isObject(chatUsage) ? chatUsage : {};
  const details = isObject(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const input = canonical?.inputTokens ?? count(u.prompt_tokens);
  const output = canonical?.outputTokens ?? count(u.completion_tokens);
  const cached = canonical?.cachedInputTokens ?? count(isObject(u.prompt_tokens_details) ? u.prompt_tokens_details.cached_tokens : 0);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: count(details.reasoning_tokens) },
    total_tokens: input + output,
  };
}

/** A Responses id (`resp_…`, `msg_…`, `fc_…`) derived from the upstream's id, so one answer keeps one id. */
export function responsesId(prefix: 'resp' | 'msg' | 'fc', upstreamId: unknown, suffix = ''): string {
  const base = typeof upstreamId === 'string' && upstreamId !== '' ? upstreamId.replace(/[^A-Za-z0-9_-]/g, '') : 'gateway';
  return `${prefix}_${base}${suffix}`;
}

export type ResponseStatus = 'completed' | 'incomplete' | 'in_progress' | 'failed';

/** How a chat choice ended, as a Response status: length and content filters make it incomplete. */
export function statusOf(finishReason: unknown): { status: ResponseStatus; incomplete_details: { reason: string } | null } {
  if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export interface ResponseShell {
  id: string;
  createdAt: number;
  echo: ResponsesEcho;
}

/** The Response object around some output: every field the SDK's `Response` type requires. */
export function responseObject(shell: ResponseShell, fields: { status: ResponseStatus; output: JsonObject[]; incomplete_details?: JsonObject | null; usage?: ResponsesUsage | null; error?: JsonObject | null }): JsonObject {
  const { echo } = shell;
  return {
    id: shell.id,
    object: 'response',
    created_at: shell.createdAt,
    status: fields.status,
    background: false,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete_details ?? null,
    instructions: echo.instructions,
    max_output_tokens: echo.max_output_tokens,
    metadata: echo.metadata,
    model: echo.model,
    output: fields.output,
    parallel_tool_calls: echo.parallel_tool_calls,
    previous_response_id: null,
    reasoning: echo.reasoning,
    store: false,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.tool_choice,
    tools: echo.tools,
    top_p: echo.top_p,
    truncation: echo.truncation,
    usage: fields.usage ?? null,
    ...(echo.user === undefined ? {} : { user: echo.user }),
  };
}

export function messageItem(id: string, status: 'in_progress' | 'completed' | 'incomplete', content: JsonObject[]): JsonObject {
  return { id, type: 'message', status, role: 'assistant', content };
}

export function outputTextPart(text: string): JsonObject {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: 'in_progress' | 'completed'): JsonObject {
  return { id, type: 'function_call', status, call_id: callId, name, arguments: args };
}

/** OpenAI chat.completion (first choice) → Response object. */
export function toResponseObject(body: JsonObject, shell: Omit<ResponseShell, 'id'>, usage: Usage | undefined): JsonObject {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const choice = isObject(choices[0]) ? choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const { status, incomplete_details } = statusOf(choice.finish_reason);
  const itemStatus = status === 'incomplete' ? 'incomplete' : 'completed';
  const output: JsonObject[] = [];
  const content: JsonObject[] = [];
  if (typeof message.content === 'string' && message.content !== '') content.push(outputTextPart(message.content));
  if (typeof message.refusal === 'string' && message.refusal !== '') content.push({ type: 'refusal', refusal: message.refusal });
  if (content.length > 0) output.push(messageItem(responsesId('msg', body.id), itemStatus, content));
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  calls.forEach((call, i) => {
    if (!isObject(call) || !isObject(call.function)) return;
    const callId = typeof call.id === 'string' && call.id !== '' ? call.id : `call_${i}`;
    output.push(functionCallItem(responsesId('fc', body.id, `_${i}`), callId, String(call.function.name ?? ''), typeof call.function.arguments === 'string' ? call.function.arguments : '', 'completed'));
  });
  return responseObject({ ...shell, id: responsesId('resp', body.id) }, { status, output, incomplete_details, usage: responsesUsage(body.usage, usage) });
}
