import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type Behaviour, type Emulator, type Handler, header, type ReceivedRequest, slowStream, sse, writeInPieces } from './emulator-server.js';
import { startEmulator } from './emulator-server.js';

// OpenAI's Responses API as OpenAI (POST /v1/responses, Bearer key) or Azure OpenAI's v1 API
// (POST /openai/v1/responses, api-key header) serve it: Response objects, the typed stream events
// with their sequence numbers, stored responses that previous_response_id continues, and the
// errors (missing input, unknown previous response, bad key, 429/500) in the API's own shape.
// The OpenAI flavour also serves POST /v1/chat/completions, as OpenAI does on the same base URL,
// for what the gateway translates to chat even on an OpenAI target (e.g. a guardrail masked it).

/** What the emulator keeps of a stored response: the conversation up to and including its output. */
export interface Stored {
  response: Record<string, unknown>;
  /** User turns of the conversation so far (texts), oldest first. */
  turns: string[];
}

export interface ResponsesEmulator extends Emulator {
  /** Responses kept (store was not false), by id. */
  stored: Map<string, Stored>;
}

type Flavour = 'openai' | 'azure';

const USAGE = { input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 8, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 28 };
/** The same usage as chat completions report it. */
const CHAT_USAGE = { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28, prompt_tokens_details: { cached_tokens: 5, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

function error(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: body }));
}

const invalid = (res: ServerResponse, message: string, param: string | null, code: string | null): void =>
  error(res, 400, { message, type: 'invalid_request_error', param, code });

/** The last user text of the input or chat messages (a string, or the text parts of the last user message). */
function userText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i] as Record<string, unknown>;
    if (item.role !== 'user') continue;
    if (typeof item.content === 'string') return item.content;
    if (Array.isArray(item.content)) return item.content.map((p: Record<string, unknown>) => (typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

function responseObject(body: Record<string, unknown>, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: fields.id,
    object: 'response',
    created_at: 1_741_476_542,
    status: 'completed',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: body.model,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: body.store !== false,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: USAGE,
    user: null,
    ...fields,
  };
}

function checkAuth(flavour: Flavour, req: ReceivedRequest, apiKey: string, res: ServerResponse, problems: string[]): boolean {
  if (flavour === 'azure') {
    if (header(req, 'authorization') !== undefined) problems.push('both api-key and Authorization sent');
    if (header(req, 'api-key') === apiKey) return true;
    error(res, 401, { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' });
    return false;
  }
  if (header(req, 'authorization') === `Bearer ${apiKey}`) return true;
  error(res, 401, { message: 'Incorrect API key provided: sk-****. You can find your API key at the provider.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
  return false;
}

/** GET /responses/{id} (the stored Response), GET …/input_items (what it was asked), DELETE /responses/{id}; 404 for an id not stored. */
function storedResponse(req: ReceivedRequest, res: ServerResponse, stored: Map<string, Stored>, path: string): void {
  const [id = '', sub] = (req.url.split('?')[0] ?? '').slice(path.length + 1).split('/');
  const kept = stored.get(id);
  if (kept === undefined) return error(res, 404, { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null });
  const ok = (body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && sub === undefined) return ok(kept.response);
  if (req.method === 'DELETE' && sub === undefined) {
    stored.delete(id);
    return ok({ id, object: 'response.deleted', deleted: true });
  }
  if (req.method === 'GET' && sub === 'input_items') {
    const data = [{ id: `msg_in_${id}`, type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: kept.turns.at(-1) ?? '' }] }];
    return ok({ object: 'list', data, first_id: data[0]?.id, last_id: data[0]?.id, has_more: false });
  }
  return error(res, 404, { message: `Invalid URL (${req.method} ${req.url})`, type: 'invalid_request_error', param: null, code: null });
}

/** POST /v1/chat/completions: the answer says it came over chat and repeats the last user text. */
async function chatCompletion(req: ReceivedRequest, b: Behaviour, res: ServerResponse, problems: string[]): Promise<void> {
  const body = req.body;
  if (!Array.isArray(body.messages)) return invalid(res, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  for (const field of ['input', 'instructions', 'max_output_tokens', 'previous_response_id', 'store', 'text']) {
    if (field in body) problems.push(`chat completion request has the Responses field ${field}`);
  }
  const text = b.kind === 'text' && b.text !== undefined ? b.text : `chat: ${userText(body.messages)}`;
  const completionId = id('chatcmpl');
  const base = { id: completionId, created: 1_741_476_542, model: body.model, system_fingerprint: 'fp_emulated' };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': id('req') });
    res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }], usage: CHAT_USAGE, service_tier: 'default' }));
    return;
  }
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string => sse(undefined, { ...base, object: 'chat.completion.chunk', choices, ...extra });
  const events = [
    chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
    chunk([{ index: 0, delta: { content: text.slice(0, 6) }, logprobs: null, finish_reason: null }]),
    chunk([{ index: 0, delta: { content: text.slice(6) }, logprobs: null, finish_reason: null }]),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
  ];
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true) events.push(chunk([], { usage: CHAT_USAGE }));
  events.push('data: [DONE]\n\n');
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeInPieces(res, events.join(''));
  res.end();
}

/** A Response that failed (HTTP 200, status failed), its error repeating the credential received; streamed: created, in_progress, failed. */
async function failedResponse(req: ReceivedRequest, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
  const credential = header(req, 'authorization') ?? header(req, 'api-key');
  const error = { code: 'server_error', message: `upstream proxy rejected ${String(credential)}` };
  const failed = responseObject(body, { id: id('resp'), status: 'failed', output: [], usage: null, error });
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(failed));
    return;
  }
  const started = { ...failed, status: 'in_progress', error: null };
  const events = [
    sse('response.created', { type: 'response.created', sequence_number: 0, response: started }),
    sse('response.in_progress', { type: 'response.in_progress', sequence_number: 1, response: started }),
    sse('response.failed', { type: 'response.failed', sequence_number: 2, response: failed }),
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  await writeInPieces(res, events.join(''));
  res.end();
}

/** The handler of one flavour's Responses API (and OpenAI's chat beside it), keeping responses in `stored`. */
export function responsesHandler(flavour: Flavour, apiKey: string, stored: Map<string, Stored>): Handler {
  const path = flavour === 'azure' ? '/openai/v1/responses' : '/v1/responses';
  return async (req, b, res, problems) => {
    if (flavour === 'openai' && req.method === 'POST' && req.url === '/v1/chat/completions') {
      if (!checkAuth(flavour, req, apiKey, res, problems)) return;
      return chatCompletion(req, b, res, problems);
    }
    if (req.url.startsWith(`${path}/`)) {
      if (!checkAuth(flavour, req, apiKey, res, problems)) return;
      return storedResponse(req, res, stored, path);
    }
    if (req.method !== 'POST' || req.url !== path) {
      problems.push(`unexpected ${req.method} ${req.url} (wanted POST ${path})`);
      return error(res, 404, { message: `Invalid URL (${req.method} ${req.url})`, type: 'invalid_request_error', param: null, code: null });
    }
    if (!checkAuth(flavour, req, apiKey, res, problems)) return;
    const body = req.body;
    if (typeof body.model !== 'string' || body.model === '') return invalid(res, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
    // A stored prompt or a conversation can stand for the input, as on OpenAI.
    const standsForInput = (body.prompt !== undefined && body.prompt !== null) || (body.conversation !== undefined && body.conversation !== null);
    if (typeof body.input !== 'string' && !Array.isArray(body.input) && !standsForInput) return invalid(res, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
    let turns: string[] = [];
    if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
      const previous = stored.get(String(body.previous_response_id));
      if (previous === undefined) return invalid(res, `Previous response with id '${String(body.previous_response_id)}' not found.`, 'previous_response_id', 'previous_response_not_found');
      turns = [...previous.turns];
    }
    switch (b.kind) {
      case 'rate-limit':
        return error(res, 429, { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' }, { 'retry-after': '0' });
      case 'server-error':
      case 'overloaded':
        return error(res, 500, { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: 'server_error' });
      case 'bad-request':
        return invalid(res, b.message ?? "Invalid value for 'temperature'.", 'temperature', 'invalid_value');
      case 'response-failed':
        return failedResponse(req, body, res);
      default:
        break;
    }
    turns.push(userText(body.input));
    const responseId = id('resp');
    const itemId = id('msg');
    // The answer says what the emulator remembers: the turn number and every user text so far.
    const text = b.kind === 'text' && b.text !== undefined ? b.text : `turn ${turns.length}: ${turns.join(' | ')}`;
    const call = b.kind === 'tool' ? { id: id('fc'), type: 'function_call', status: 'completed', arguments: JSON.stringify(b.args), call_id: id('call'), name: b.name } : undefined;
    const message = { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
    // A request with a web search tool has OpenAI search first (one web_search_call item before the answer).
    const searches = Array.isArray(body.tools) && body.tools.some((t) => typeof t === 'object' && t !== null && String((t as { type?: unknown }).type).startsWith('web_search'));
    const search = searches ? { id: id('ws'), type: 'web_search_call', status: 'completed', action: { type: 'search', query: userText(body.input) } } : undefined;
    // A code_interpreter tool has the model run code in a container: the one the tool names, else
    // (`container: {type: "auto"}`) one OpenAI makes for the Response; the call item names it.
    const interpreter = Array.isArray(body.tools) ? body.tools.find((t) => typeof t === 'object' && t !== null && (t as { type?: unknown }).type === 'code_interpreter') : undefined;
    const named = typeof interpreter === 'object' && interpreter !== null ? (interpreter as { container?: unknown }).container : undefined;
    const ran =
      interpreter === undefined ? undefined : { id: id('ci'), type: 'code_interpreter_call', status: 'completed', code: 'print(6 * 7)', container_id: typeof named === 'string' ? named : id('cntr'), outputs: null };
    const tooling = [search, ran].filter((item) => item !== undefined);
    const answer = call === undefined ? message : call;
    const output = [...tooling, answer];
    const final = responseObject(body, { id: responseId, output });
    if (body.store !== false) stored.set(responseId, { response: final, turns });
    if (body.background === true && body.stream !== true) {
      // As OpenAI: answered at once, queued, without usage; the finished Response is retrieved later.
      stored.set(responseId, { response: { ...final, background: true }, turns });
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': id('req') });
      res.end(JSON.stringify(responseObject(body, { id: responseId, status: 'queued', background: true, output: [], usage: null })));
      return;
    }

    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': id('req') });
      res.end(JSON.stringify(final));
      return;
    }
    let sequence = 0;
    const events: string[] = [];
    const emit = (type: string, fields: Record<string, unknown>): void => {
      events.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`);
    };
    const started = responseObject(body, { id: responseId, status: 'in_progress', output: [], usage: null });
    emit('response.created', { response: started });
    emit('response.in_progress', { response: started });
    if (b.kind === 'slow-stream') {
      // The model reasons unseen (a reasoning item without a summary), then answers word by word.
      const reasoning = { id: id('rs'), type: 'reasoning', summary: [] };
      emit('response.output_item.added', { output_index: 0, item: reasoning });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(events.join(''));
      const at = { item_id: itemId, output_index: 1, content_index: 0 };
      await slowStream(res, b, (word, i) => {
        events.length = 0;
        if (i === 0) {
          emit('response.output_item.done', { output_index: 0, item: reasoning });
          emit('response.output_item.added', { output_index: 1, item: { ...message, status: 'in_progress', content: [] } });
          emit('response.content_part.added', { ...at, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
        }
        emit('response.output_text.delta', { ...at, delta: word, logprobs: [] });
        return events.join('');
      });
      return;
    }
    if (search !== undefined) {
      emit('response.output_item.added', { output_index: 0, item: { ...search, status: 'in_progress' } });
      emit('response.web_search_call.in_progress', { output_index: 0, item_id: search.id });
      emit('response.web_search_call.searching', { output_index: 0, item_id: search.id });
      emit('response.web_search_call.completed', { output_index: 0, item_id: search.id });
      emit('response.output_item.done', { output_index: 0, item: search });
    }
    if (ran !== undefined) {
      const at = { output_index: tooling.indexOf(ran), item_id: ran.id };
      emit('response.output_item.added', { output_index: at.output_index, item: { ...ran, status: 'in_progress', code: '' } });
      emit('response.code_interpreter_call.in_progress', at);
      emit('response.code_interpreter_call_code.delta', { ...at, delta: ran.code });
      emit('response.code_interpreter_call_code.done', { ...at, code: ran.code });
      emit('response.code_interpreter_call.interpreting', at);
      emit('response.code_interpreter_call.completed', at);
      emit('response.output_item.done', { output_index: at.output_index, item: ran });
    }
    const answerIndex = tooling.length;
    if (call !== undefined) {
      emit('response.output_item.added', { output_index: answerIndex, item: { ...call, status: 'in_progress', arguments: '' } });
      emit('response.function_call_arguments.delta', { item_id: call.id, output_index: answerIndex, delta: call.arguments.slice(0, 4) });
      emit('response.function_call_arguments.delta', { item_id: call.id, output_index: answerIndex, delta: call.arguments.slice(4) });
      emit('response.function_call_arguments.done', { item_id: call.id, output_index: answerIndex, name: call.name, arguments: call.arguments });
      emit('response.output_item.done', { output_index: answerIndex, item: call });
    } else {
      const at = { item_id: itemId, output_index: answerIndex, content_index: 0 };
      emit('response.output_item.added', { output_index: answerIndex, item: { ...message, status: 'in_progress', content: [] } });
      emit('response.content_part.added', { ...at, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
      emit('response.output_text.delta', { ...at, delta: text.slice(0, 6), logprobs: [] });
      if (b.kind === 'stream-error') {
        emit('error', { code: 'server_error', message: 'The server had an error while processing your request.', param: null });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        await writeInPieces(res, events.join(''));
        res.end();
        return;
      }
      emit('response.output_text.delta', { ...at, delta: text.slice(6), logprobs: [] });
      emit('response.output_text.done', { ...at, text, logprobs: [] });
      emit('response.content_part.done', { ...at, part: message.content[0] });
      emit('response.output_item.done', { output_index: answerIndex, item: message });
    }
    emit('response.completed', { response: final });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    await writeInPieces(res, events.join(''));
    res.end();
  };
}

export async function startResponsesEmulator(flavour: Flavour, apiKey: string): Promise<ResponsesEmulator> {
  const stored = new Map<string, Stored>();
  const emulator = await startEmulator(responsesHandler(flavour, apiKey, stored));
  return { ...emulator, stored };
}
