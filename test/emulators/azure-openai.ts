import type { ServerResponse } from 'node:http';
import { type Emulator, header, sse, startEmulator, writeInPieces } from './emulator-server.js';

// Azure OpenAI emulator: /openai/deployments/{deployment}/chat/completions?api-version=…, api-key header,
// content-filter annotations in bodies and filter-only chunks in streams.

const USAGE = { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28, prompt_tokens_details: { cached_tokens: 5 } };
const FILTER = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };

/** What the output filter found when it stopped an answer: violence, at medium severity. */
const FILTERED = { ...FILTER, violence: { filtered: true, severity: 'medium' } };

function error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code, message, param: null, type: null, ...extra } }));
}

/** What a reasoning deployment (o-series) reports of its reasoning: 6 of its 8 completion tokens. */
const REASONING_USAGE = { ...USAGE, completion_tokens_details: { reasoning_tokens: 6, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };

export interface AzureDeploymentOptions {
  /**
   * The model the deployment serves (default gpt-4o-2024-08-06). An o-series model is a reasoning
   * deployment, with Azure's rules for one: served only from api-version 2024-12-01-preview, no
   * `max_tokens`, `reasoning_effort` low, medium or high, and reasoning tokens in its usage.
   */
  model?: string;
}

/** Azure's refusal of a request member it does not know or the deployment's model does not take, or undefined. */
function parameterRefusal(body: Record<string, unknown>, model: string, apiVersion: string): { code: string; message: string } | undefined {
  for (const unknown of ['thinking', 'top_k']) if (body[unknown] !== undefined) return { code: 'BadRequest', message: `Unrecognized request argument supplied: ${unknown}` };
  if (!/^o\d/.test(model)) return undefined;
  if (apiVersion < '2024-12-01-preview') return { code: 'BadRequest', message: `Model ${model} is enabled only for api versions 2024-12-01-preview and later` };
  if (body.max_tokens !== undefined) return { code: 'unsupported_parameter', message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead." };
  if (body.reasoning_effort !== undefined && !['low', 'medium', 'high'].includes(String(body.reasoning_effort))) {
    return { code: 'invalid_value', message: `Invalid value: '${String(body.reasoning_effort)}'. Supported values are: 'low', 'medium', and 'high'.` };
  }
  return undefined;
}

export async function startAzureOpenAiEmulator(deployment: string, apiKey = 'azure-test-key', apiVersion = '2024-10-21', options: AzureDeploymentOptions = {}): Promise<Emulator> {
  const model = options.model ?? 'gpt-4o-2024-08-06';
  const usage = /^o\d/.test(model) ? REASONING_USAGE : USAGE;
  return startEmulator(async (req, b, res, problems) => {
    const expected = `/openai/deployments/${deployment}/chat/completions?api-version=${apiVersion}`;
    if (req.url !== expected || req.method !== 'POST') {
      problems.push(`unexpected ${req.method} ${req.url} (wanted ${expected})`);
      return error(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist.');
    }
    if (header(req, 'api-key') !== apiKey) return error(res, 401, '401', 'Access denied due to invalid subscription key.');
    if (header(req, 'authorization') !== undefined) problems.push('both api-key and Authorization sent');
    switch (b.kind) {
      case 'rate-limit':
        return error(res, 429, '429', 'Requests to the ChatCompletions_Create Operation have exceeded call rate limit.', { 'retry-after': '0', 'x-ratelimit-remaining-requests': '0' });
      case 'overloaded':
        return error(res, 503, 'ServiceUnavailable', 'The service is temporarily unable to process your request.');
      case 'server-error':
        return error(res, 500, 'InternalServerError', 'The server had an error while processing your request.');
      case 'bad-request':
        return error(res, 400, 'BadRequest', b.message ?? "Invalid value for 'temperature'.");
      case 'context-length':
        return error(res, 400, 'context_length_exceeded', "This model's maximum context length is 128000 tokens.");
      case 'safety':
        // Azure's prompt filter: which category fired is in innererror.
        return error(res, 400, 'content_filter', "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", {}, {
          param: 'prompt',
          status: 400,
          innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { ...FILTERED, jailbreak: { filtered: false, detected: false } } },
        });
      default:
        break;
    }
    const refusal = parameterRefusal(req.body, model, apiVersion);
    if (refusal !== undefined) return error(res, 400, refusal.code, refusal.message);
    if (b.kind === 'json' && typeof (req.body.response_format as { type?: unknown } | undefined)?.type !== 'string') problems.push('a JSON answer was scripted but the request has no response_format');
    // A stream that breaks does so after some content (before any, the gateway fails it over).
    const text = b.kind === 'text' ? (b.text ?? 'Hello from Azure') : b.kind === 'json' ? JSON.stringify(b.value) : b.kind === 'stream-error' ? 'Partial' : '';
    const toolCalls = b.kind === 'tool' ? [{ id: 'call_az1', type: 'function', function: { name: b.name, arguments: JSON.stringify(b.args) } }] : undefined;
    const finish = toolCalls !== undefined ? 'tool_calls' : b.kind === 'output-filtered' ? 'content_filter' : 'stop';
    // The output filter stopped the answer: its choice says which category fired.
    const lastFilter = b.kind === 'output-filtered' ? FILTERED : FILTER;
    // Azure names the request twice: apim-request-id (its API Management front) and x-ms-request-id.
    const ids: Record<string, string> = b.kind === 'text' && b.msRequestIdOnly === true ? { 'x-ms-request-id': 'ms-emulated' } : { 'apim-request-id': 'emulated', 'x-ms-request-id': 'ms-emulated' };
    if (req.body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', ...ids });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-az', object: 'chat.completion', created: 1, model,
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTER }],
          choices: [{ index: 0, message: { role: 'assistant', content: toolCalls ? null : text, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: finish, logprobs: null, content_filter_results: lastFilter }],
          usage,
        }),
      );
      return;
    }
    const includeUsage = (req.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string => sse(undefined, { id: 'chatcmpl-az', object: 'chat.completion.chunk', created: 1, model, choices, ...extra });
    const events = [
      // Azure's first chunk: prompt filter results only, no choices, empty id and model.
      sse(undefined, { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTER }] }),
      chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null, content_filter_results: {} }]),
    ];
    if (toolCalls !== undefined) {
      const args = toolCalls[0]?.function.arguments ?? '';
      events.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_az1', type: 'function', function: { name: b.kind === 'tool' ? b.name : '', arguments: '' } }] }, finish_reason: null }]));
      events.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(0, 3) } }] }, finish_reason: null }]));
      events.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(3) } }] }, finish_reason: null }]));
    } else {
      events.push(chunk([{ index: 0, delta: { content: text.slice(0, 5) }, finish_reason: null, content_filter_results: FILTER }]));
      events.push(chunk([{ index: 0, delta: { content: text.slice(5) }, finish_reason: null, content_filter_results: FILTER }]));
    }
    if (b.kind === 'stream-error') {
      events.push(sse(undefined, { error: { code: 'server_error', message: 'The server had an error while processing your request.' } }));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await writeInPieces(res, events.join(''));
      res.end();
      return;
    }
    events.push(chunk([{ index: 0, delta: {}, finish_reason: finish, ...(b.kind === 'output-filtered' ? { content_filter_results: lastFilter } : {}) }]));
    // Asynchronous filter mode: a chunk with filter results and no delta.
    events.push(chunk([{ index: 0, finish_reason: null, content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 10 }, content_filter_results: FILTER }]));
    if (includeUsage) events.push(chunk([], { usage }));
    events.push('data: [DONE]\n\n');
    res.writeHead(200, { 'content-type': 'text/event-stream', ...ids });
    await writeInPieces(res, events.join(''));
    res.end();
  });
}
