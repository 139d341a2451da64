import type { ServerResponse } from 'node:http';
import { type Behaviour, embeddingVector, type Emulator, header, type ReceivedRequest, sse, startEmulator, writeInPieces } from './emulator-server.js';
import { responsesHandler, type Stored } from './openai-responses.js';

// Azure OpenAI emulator: /openai/deployments/{deployment}/{chat/completions,completions,embeddings}?api-version=…
// and the v1 API's /openai/v1/responses (the deployment as `model`, no api-version), api-key header,
// content-filter annotations in bodies and filter-only chunks in streams, content-filter refusals
// (400 content_filter with innererror.content_filter_result) on every operation that reads a prompt,
// and the headers Azure sends on every answer: apim-request-id, x-ms-request-id,
// x-ratelimit-remaining-requests and -tokens (no reset headers, unlike OpenAI), and on a 429
// retry-after-ms besides retry-after.

const USAGE = { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28, prompt_tokens_details: { cached_tokens: 5 } };
const FILTER = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };

/** What the output filter found when it stopped an answer: violence, at medium severity. */
const FILTERED = { ...FILTER, violence: { filtered: true, severity: 'medium' } };

function error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
  // Azure's front names its refusals too (its support asks for the id).
  res.writeHead(status, { 'content-type': 'application/json', 'apim-request-id': 'emulated-error', ...headers });
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

/** What each deployment operation is called in Azure's messages (its 429s name it). */
const OPERATION_NAMES = { 'chat/completions': 'ChatCompletions_Create', completions: 'Completions_Create', embeddings: 'Embeddings_Create', responses: 'Responses_Create' } as const;
type Operation = keyof typeof OPERATION_NAMES;

/** The prompt filter's refusal, as Azure answers it for every operation that reads a prompt: which category fired is in innererror. */
function promptFiltered(res: ServerResponse): void {
  error(res, 400, 'content_filter', "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.", {}, {
    param: 'prompt',
    status: 400,
    innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { ...FILTERED, jailbreak: { filtered: false, detected: false } } },
  });
}

/** Azure's rate-limit refusal: retry-after-ms and retry-after (whole seconds), the spent limit at 0. */
function rateLimited(res: ServerResponse, op: Operation, apiVersion: string, retryAfterMs: number): void {
  const seconds = Math.ceil(retryAfterMs / 1000);
  error(
    res,
    429,
    '429',
    `Requests to the ${OPERATION_NAMES[op]} Operation under Azure OpenAI API version ${apiVersion} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${seconds} second${seconds === 1 ? '' : 's'}.`,
    { 'retry-after': String(seconds), 'retry-after-ms': String(retryAfterMs), 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '0' },
  );
}

/** An embeddings answer: one vector per input (floats, or float32 base64 as the openai SDK asks by default). */
function embeddings(req: ReceivedRequest, res: ServerResponse, problems: string[]): void {
  const input = req.body.input;
  const inputs = Array.isArray(input) ? input : [input];
  if (inputs.some((i) => typeof i !== 'string')) problems.push('embeddings input is not text');
  const data = inputs.map((text, index) => {
    const vector = embeddingVector(String(text));
    const floats = new Float32Array(vector);
    const embedding = req.body.encoding_format === 'base64' ? Buffer.from(floats.buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  const tokens = inputs.reduce<number>((sum, text) => sum + Math.ceil(String(text).length / 4), 0);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ object: 'list', data, model: 'text-embedding-3-small', usage: { prompt_tokens: tokens, total_tokens: tokens } }));
}

/** A legacy completions answer with Azure's filter annotations (prompt_filter_results, per-choice content_filter_results), whole or streamed. */
async function completion(req: ReceivedRequest, b: Behaviour, res: ServerResponse, model: string): Promise<void> {
  const text = b.kind === 'text' ? (b.text ?? 'Hello from Azure') : '';
  const finish = b.kind === 'output-filtered' ? 'content_filter' : 'stop';
  const filter = b.kind === 'output-filtered' ? FILTERED : FILTER;
  const base = { id: 'cmpl-az', object: 'text_completion', created: 1, model };
  if (req.body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...base, prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTER }], choices: [{ index: 0, text, finish_reason: finish, logprobs: null, content_filter_results: filter }], usage: USAGE }));
    return;
  }
  const includeUsage = (req.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string => sse(undefined, { ...base, choices, ...extra });
  const events = [
    sse(undefined, { id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTER }] }),
    chunk([{ index: 0, text: text.slice(0, 5), finish_reason: null, logprobs: null, content_filter_results: FILTER }]),
    chunk([{ index: 0, text: text.slice(5), finish_reason: null, logprobs: null, content_filter_results: FILTER }]),
    chunk([{ index: 0, text: '', finish_reason: finish, logprobs: null, content_filter_results: filter }]),
  ];
  if (includeUsage) events.push(chunk([], { usage: USAGE }));
  events.push('data: [DONE]\n\n');
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeInPieces(res, events.join(''));
  res.end();
}

/** The operation a request names at this deployment and api-version (or, for the v1 API, at its responses path), else undefined. */
function operationOf(req: ReceivedRequest, deployment: string, apiVersion: string): Operation | undefined {
  if (req.method !== 'POST') return undefined;
  if (req.url === '/openai/v1/responses') return 'responses';
  for (const op of ['chat/completions', 'completions', 'embeddings'] as const) {
    if (req.url === `/openai/deployments/${deployment}/${op}?api-version=${apiVersion}`) return op;
  }
  return undefined;
}

export async function startAzureOpenAiEmulator(deployment: string, apiKey = 'azure-test-key', apiVersion = '2024-10-21', options: AzureDeploymentOptions = {}): Promise<Emulator> {
  const model = options.model ?? 'gpt-4o-2024-08-06';
  const usage = /^o\d/.test(model) ? REASONING_USAGE : USAGE;
  const stored = new Map<string, Stored>();
  const responses = responsesHandler('azure', apiKey, stored);
  let served = 0;
  return startEmulator(async (req, b, res, problems) => {
    // Every answer, errors included: Azure's limits left after this request (none spent here but by a 429).
    res.setHeader('x-ratelimit-remaining-requests', String(Math.max(0, 1000 - ++served)));
    res.setHeader('x-ratelimit-remaining-tokens', String(Math.max(0, 450_000 - served * 30)));
    const stateful = req.url.startsWith('/openai/v1/responses/');
    const op = stateful ? 'responses' : operationOf(req, deployment, apiVersion);
    if (op === undefined) {
      problems.push(`unexpected ${req.method} ${req.url} (wanted POST /openai/deployments/${deployment}/{chat/completions,completions,embeddings}?api-version=${apiVersion} or /openai/v1/responses)`);
      return error(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist.');
    }
    if (op === 'responses') {
      // The v1 API names the deployment as the model.
      if (!stateful && req.body.model !== deployment) {
        problems.push(`responses request for model ${String(req.body.model)} (wanted the deployment ${deployment})`);
        return error(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist.');
      }
      if (!stateful && header(req, 'api-key') === apiKey) {
        if (b.kind === 'rate-limit') return rateLimited(res, op, 'v1', b.retryAfterMs ?? 0);
        if (b.kind === 'safety') return promptFiltered(res);
      }
      return responses(req, b, res, problems);
    }
    if (header(req, 'api-key') !== apiKey) return error(res, 401, '401', 'Access denied due to invalid subscription key.');
    if (header(req, 'authorization') !== undefined) problems.push('both api-key and Authorization sent');
    if (b.kind === 'rate-limit') return rateLimited(res, op, apiVersion, b.retryAfterMs ?? 0);
    if (b.kind === 'safety') return promptFiltered(res);
    if (op === 'embeddings') return embeddings(req, res, problems);
    if (op === 'completions') return completion(req, b, res, model);
    switch (b.kind) {
      case 'overloaded':
        return error(res, 503, 'ServiceUnavailable', 'The service is temporarily unable to process your request.');
      case 'server-error':
        return error(res, 500, 'InternalServerError', 'The server had an error while processing your request.');
      case 'bad-request':
        return error(res, 400, 'BadRequest', b.message ?? "Invalid value for 'temperature'.");
      case 'context-length':
        return error(res, 400, 'context_length_exceeded', "This model's maximum context length is 128000 tokens.");
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
