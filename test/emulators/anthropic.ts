import type { ServerResponse } from 'node:http';
import { type Behaviour, type Emulator, header, type ReceivedRequest, slowStream, sse, startEmulator, writeInPieces } from './emulator-server.js';

// Anthropic Messages API emulator: POST /v1/messages, x-api-key + anthropic-version, JSON or named-event SSE.

// 5 cache writes, 2 of them kept for an hour (the API reports the split in cache_creation).
const USAGE = { input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5, cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 2 }, output_tokens: 8 };

function check(req: ReceivedRequest, apiKey: string, problems: string[]): string | undefined {
  const p: string[] = [];
  if (req.method !== 'POST' || req.url !== '/v1/messages') p.push(`unexpected ${req.method} ${req.url}`);
  if (header(req, 'x-api-key') !== apiKey) return 'authentication';
  if (header(req, 'anthropic-version') !== '2023-06-01') p.push(`anthropic-version is ${header(req, 'anthropic-version')}`);
  if (!header(req, 'content-type')?.startsWith('application/json')) p.push('content-type is not JSON');
  const b = req.body;
  if (typeof b.model !== 'string') p.push('model missing');
  if (typeof b.max_tokens !== 'number') p.push('max_tokens missing (required)');
  const messages = Array.isArray(b.messages) ? (b.messages as Record<string, unknown>[]) : [];
  if (messages.length === 0) p.push('messages empty');
  messages.forEach((m, i) => {
    if (m.role !== 'user' && m.role !== 'assistant') p.push(`messages.${i}.role is ${String(m.role)}`);
    if (i > 0 && messages[i - 1]?.role === m.role) p.push(`messages.${i} repeats role ${String(m.role)}`);
    const blocks = Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : [];
    for (const block of blocks) {
      if (block.type === 'tool_result' && m.role !== 'user') p.push('tool_result outside a user message');
      // The API checks a thinking block sent back by its signature, and keeps it to assistant turns.
      if ((block.type === 'thinking' || block.type === 'redacted_thinking') && m.role !== 'assistant') p.push(`${block.type} outside an assistant message`);
      if (block.type === 'thinking' && (typeof block.signature !== 'string' || !block.signature.startsWith(SIGNATURE))) p.push(`messages.${i}: thinking block without a valid signature`);
      if (block.type === 'redacted_thinking' && block.data !== REDACTED) p.push(`messages.${i}: redacted_thinking data altered`);
      if (block.cache_control !== undefined) cacheControl(block.cache_control, `messages.${i} block`, p);
      if (block.type === 'tool_result' && Array.isArray(block.content)) {
        for (const c of block.content as Record<string, unknown>[]) {
          if (c.type !== 'text' && c.type !== 'image' && c.type !== 'document') p.push(`tool_result content of type ${String(c.type)}`);
          if (c.type === 'document') p.push(...documentProblems(c, `messages.${i}.tool_result`, header(req, 'anthropic-beta') ?? ''));
        }
      }
      if (block.type === 'tool_use' && (typeof block.input !== 'object' || block.input === null)) p.push('tool_use.input is not an object');
      if (block.type === 'image' && typeof block.source !== 'object') p.push('image without source');
      if (block.type === 'document') {
        if (m.role !== 'user') p.push(`messages.${i}: document outside a user message`);
        p.push(...documentProblems(block, `messages.${i}`, header(req, 'anthropic-beta') ?? ''));
      }
    }
  });
  if (messages[0]?.role !== 'user') p.push('first message is not from the user');
  for (const t of Array.isArray(b.tools) ? (b.tools as Record<string, unknown>[]) : []) {
    if ((t.input_schema as Record<string, unknown> | undefined)?.type !== 'object') p.push(`tool ${String(t.name)} input_schema is not an object schema`);
  }
  if (b.system !== undefined && typeof b.system !== 'string' && !Array.isArray(b.system)) p.push('system has the wrong shape');
  for (const block of Array.isArray(b.system) ? (b.system as Record<string, unknown>[]) : []) if (block.cache_control !== undefined) cacheControl(block.cache_control, 'system block', p);
  for (const t of Array.isArray(b.tools) ? (b.tools as Record<string, unknown>[]) : []) if (t.cache_control !== undefined) cacheControl(t.cache_control, `tool ${String(t.name)}`, p);
  if (b.thinking !== undefined) {
    const t = b.thinking as { type?: unknown; budget_tokens?: unknown };
    if (t.type === 'enabled' && (typeof t.budget_tokens !== 'number' || t.budget_tokens < 1024 || t.budget_tokens >= Number(b.max_tokens))) p.push('thinking.budget_tokens must be ≥ 1024 and less than max_tokens');
    else if (t.type !== 'enabled' && t.type !== 'disabled') p.push(`thinking.type is ${String(t.type)}`);
  }
  // metadata takes user_id alone, an opaque id of at most 256 characters; service_tier two values.
  if (b.metadata !== undefined) {
    const m = b.metadata as Record<string, unknown>;
    for (const key of Object.keys(m)) if (key !== 'user_id') p.push(`metadata.${key}: Extra inputs are not permitted`);
    if (m.user_id !== undefined && m.user_id !== null && (typeof m.user_id !== 'string' || m.user_id.length > 256)) p.push('metadata.user_id: String should have at most 256 characters');
  }
  if (b.service_tier !== undefined && b.service_tier !== 'auto' && b.service_tier !== 'standard_only') p.push(`service_tier: Input should be 'auto' or 'standard_only'`);
  // The API refuses members it does not know (400 "Extra inputs are not permitted"): an OpenAI-only
  // parameter the translation leaks (stream_options, n, response_format) must show here.
  for (const key of Object.keys(b)) if (!MESSAGES_PARAMS.has(key)) p.push(`${key}: Extra inputs are not permitted`);
  // ... and empty text blocks ("text content blocks must be non-empty"), but in the final assistant turn.
  messages.forEach((m, i) => {
    const blocks = Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : [{ type: 'text', text: m.content }];
    const last = i === messages.length - 1 && m.role === 'assistant';
    if (!last && blocks.some((block) => block.type === 'text' && block.text === '')) p.push(`messages.${i}: text content blocks must be non-empty`);
  });
  problems.push(...p);
  return p.length > 0 ? p.join('; ') : undefined;
}

const DOCUMENT_MEMBERS: ReadonlySet<string> = new Set(['type', 'source', 'title', 'context', 'citations', 'cache_control']);

/**
 * A document block as the API checks it: a base64 PDF (`application/pdf` only), plain text
 * (`text/plain`), content (a string, or text and image blocks), a URL, or a Files API id (only
 * with the files-api beta); `title` and `context`
 * strings, `citations: {enabled}`, and no other members.
 */
function documentProblems(block: Record<string, unknown>, where: string, betas: string): string[] {
  const p: string[] = [];
  for (const key of Object.keys(block)) if (!DOCUMENT_MEMBERS.has(key)) p.push(`${where}.document.${key}: Extra inputs are not permitted`);
  const s = (typeof block.source === 'object' && block.source !== null ? block.source : {}) as Record<string, unknown>;
  const fields = (...names: string[]): void => {
    for (const key of Object.keys(s)) if (key !== 'type' && !names.includes(key)) p.push(`${where}.document.source.${key}: Extra inputs are not permitted`);
    for (const name of names) if (typeof s[name] !== 'string' || s[name] === '') p.push(`${where}.document.source.${name}: Field required`);
  };
  if (s.type === 'base64') {
    fields('media_type', 'data');
    if (s.media_type !== 'application/pdf') p.push(`${where}.document.source.base64.media_type: Input should be 'application/pdf'`);
  } else if (s.type === 'text') {
    fields('media_type', 'data');
    if (s.media_type !== 'text/plain') p.push(`${where}.document.source.text.media_type: Input should be 'text/plain'`);
  } else if (s.type === 'content') {
    for (const key of Object.keys(s)) if (key !== 'type' && key !== 'content') p.push(`${where}.document.source.${key}: Extra inputs are not permitted`);
    const c = s.content;
    if (typeof c === 'string') {
      if (c === '') p.push(`${where}.document.source.content: Field required`);
    } else if (!Array.isArray(c) || c.length === 0) p.push(`${where}.document.source.content: Input should be a valid list`);
    else for (const b of c as Record<string, unknown>[]) if (b.type !== 'text' && b.type !== 'image') p.push(`${where}.document.source.content: block of type ${String(b.type)}`);
  } else if (s.type === 'url') fields('url');
  else if (s.type === 'file') {
    fields('file_id');
    if (!betas.includes('files-api-')) p.push(`${where}.document.source.file: the Files API beta header is required`);
  } else p.push(`${where}.document.source.type: Input tag '${String(s.type)}' is not one of the expected tags`);
  for (const name of ['title', 'context']) if (block[name] !== undefined && block[name] !== null && typeof block[name] !== 'string') p.push(`${where}.document.${name}: Input should be a valid string`);
  const c = block.citations as Record<string, unknown> | null | undefined;
  if (c !== undefined && c !== null && (typeof c !== 'object' || typeof c.enabled !== 'boolean')) p.push(`${where}.document.citations.enabled: Input should be a valid boolean`);
  return p;
}

/** The Messages API's request members (betas included: the gateway may send them with their header). */
const MESSAGES_PARAMS: ReadonlySet<string> = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream', 'temperature', 'top_k', 'top_p',
  'tools', 'tool_choice', 'thinking', 'service_tier', 'container', 'mcp_servers', 'context_management', 'output_config', 'output_format',
]);

/** What the emulator signs its thinking blocks with, and the encrypted reasoning it returns. */
const SIGNATURE = 'EqQBCkYIBxgCKkBemulated';
const REDACTED = 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj';

function cacheControl(value: unknown, where: string, p: string[]): void {
  const c = value as { type?: unknown; ttl?: unknown } | null;
  if (c?.type !== 'ephemeral' || (c.ttl !== undefined && c.ttl !== '5m' && c.ttl !== '1h')) p.push(`${where}: cache_control ${JSON.stringify(value)} is not {type: ephemeral, ttl?: 5m|1h}`);
}

function error(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_emulated', ...headers });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_emulated' }));
}

/** The tool a request makes the model call: tool_choice {type: tool} names it; with {type: any} the last tool offered. */
function forcedTool(req: ReceivedRequest, problems: string[]): string {
  const tools = Array.isArray(req.body.tools) ? (req.body.tools as { name?: unknown }[]) : [];
  const choice = req.body.tool_choice as { type?: string; name?: string } | undefined;
  const name = choice?.type === 'tool' ? choice.name : choice?.type === 'any' ? tools[tools.length - 1]?.name : undefined;
  if (typeof name !== 'string' || !tools.some((t) => t.name === name)) {
    problems.push(`a JSON answer was scripted but the request forces no tool it offers (tool_choice ${JSON.stringify(choice)})`);
    return 'unknown';
  }
  return name;
}

function content(b: Behaviour, forced = ''): Record<string, unknown>[] {
  if (b.kind === 'json') return [{ type: 'tool_use', id: 'toolu_json', name: forced, input: b.value }];
  if (b.kind === 'tool') return [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_01', name: b.name, input: b.args }];
  if (b.kind === 'safety') return [];
  if (b.kind === 'thinking') {
    const thinking = { type: 'thinking', thinking: b.thinking, signature: `${SIGNATURE}${b.thinking.length}` };
    return [thinking, ...(b.redacted === true ? [{ type: 'redacted_thinking', data: REDACTED }] : []), { type: 'text', text: b.text }];
  }
  return [{ type: 'text', text: b.kind === 'text' ? (b.text ?? 'Hello from Claude') : '' }];
}

function stopReason(b: Behaviour): string {
  if (b.kind === 'text' && b.stop !== undefined) return 'stop_sequence';
  return b.kind === 'tool' || b.kind === 'json' ? 'tool_use' : b.kind === 'safety' ? 'refusal' : 'end_turn';
}

/** The stop sequence that ended the message; it must be one the request sent. */
function stopSequence(req: ReceivedRequest, b: Behaviour, problems: string[]): string | null {
  if (b.kind !== 'text' || b.stop === undefined) return null;
  const sent = Array.isArray(req.body.stop_sequences) ? (req.body.stop_sequences as unknown[]) : [];
  if (!sent.includes(b.stop)) problems.push(`scripted stop sequence ${b.stop} is not in the request's stop_sequences ${JSON.stringify(sent)}`);
  return b.stop;
}

async function stream(res: ServerResponse, model: string, b: Behaviour, forced: string, stop: string | null): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_emulated' });
  const out: string[] = [];
  out.push(sse('message_start', { type: 'message_start', message: { id: 'msg_emulated', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...USAGE, output_tokens: 1 } } }));
  out.push(sse('ping', { type: 'ping' }));
  if (b.kind === 'stream-overloaded') {
    out.push(sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    await writeInPieces(res, out.join(''));
    res.end();
    return;
  }
  if (b.kind === 'slow-stream') {
    // Claude reasoning unseen (its thinking redacted): the block opens with nothing to read.
    out.push(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' } }));
    out.push(sse('content_block_stop', { type: 'content_block_stop', index: 0 }));
    res.write(out.join(''));
    await slowStream(res, b, (word, i) =>
      (i === 0 ? sse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }) : '') +
      sse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: word } }),
    );
    return;
  }
  if (b.kind === 'stream-error') {
    out.push(sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    out.push(sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partial' } }));
    out.push(sse('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    await writeInPieces(res, out.join(''));
    res.end();
    return;
  }
  content(b, forced).forEach((block, index) => {
    if (block.type === 'text') {
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      const text = String(block.text);
      for (const piece of [text.slice(0, 3), text.slice(3)]) {
        if (piece !== '') out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }));
      }
    } else if (block.type === 'thinking') {
      // As the API streams it: an empty block, the reasoning in deltas, then its signature.
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      const thinking = String(block.thinking);
      for (const piece of [thinking.slice(0, 4), thinking.slice(4)]) {
        if (piece !== '') out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }));
      }
      out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } }));
    } else if (block.type === 'redacted_thinking') {
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: block }));
    } else {
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }));
      const json = JSON.stringify(block.input);
      const cut = Math.floor(json.length / 2);
      for (const piece of ['', json.slice(0, cut), json.slice(cut)]) {
        out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }));
      }
    }
    out.push(sse('content_block_stop', { type: 'content_block_stop', index }));
  });
  out.push(sse('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason(b), stop_sequence: stop }, usage: { output_tokens: USAGE.output_tokens } }));
  out.push(sse('message_stop', { type: 'message_stop' }));
  await writeInPieces(res, out.join(''));
  res.end();
}

/** Members POST /v1/messages/count_tokens accepts; any other is refused, as the API does. */
const COUNT_MEMBERS = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers']);

/**
 * POST /v1/messages/count_tokens: a count the tests can predict (3 + 4 a message + 10 for a
 * system prompt + 20 a tool), or the scripted failure.
 */
function countTokens(req: ReceivedRequest, b: Behaviour, res: ServerResponse, apiKey: string): void {
  if (header(req, 'x-api-key') !== apiKey) return error(res, 401, 'authentication_error', 'invalid x-api-key');
  if (header(req, 'anthropic-version') !== '2023-06-01') return error(res, 400, 'invalid_request_error', 'anthropic-version: required');
  const extra = Object.keys(req.body).find((k) => !COUNT_MEMBERS.has(k));
  if (extra !== undefined) return error(res, 400, 'invalid_request_error', `${extra}: Extra inputs are not permitted`);
  if (b.kind === 'server-error') return error(res, 500, 'api_error', 'Internal server error');
  if (b.kind === 'bad-request') return error(res, 400, 'invalid_request_error', b.message ?? 'messages: Field required');
  const messages = Array.isArray(req.body.messages) ? req.body.messages.length : 0;
  const tools = Array.isArray(req.body.tools) ? req.body.tools.length : 0;
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_emulated' });
  res.end(JSON.stringify({ input_tokens: 3 + 4 * messages + (req.body.system === undefined ? 0 : 10) + 20 * tools }));
}

export async function startAnthropicEmulator(apiKey = 'sk-ant-test'): Promise<Emulator> {
  return startEmulator(async (req, b, res, problems) => {
    if (req.method === 'POST' && req.url === '/v1/messages/count_tokens') return countTokens(req, b, res, apiKey);
    const invalid = check(req, apiKey, problems);
    if (invalid === 'authentication') return error(res, 401, 'authentication_error', 'invalid x-api-key');
    if (invalid !== undefined) return error(res, 400, 'invalid_request_error', invalid);
    const model = String(req.body.model);
    switch (b.kind) {
      case 'rate-limit':
        return error(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', {
          'retry-after': '0',
          'anthropic-ratelimit-requests-limit': '50',
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:00Z',
          'anthropic-ratelimit-tokens-remaining': '0',
        });
      case 'overloaded':
        return error(res, 529, 'overloaded_error', 'Overloaded');
      case 'server-error':
        return error(res, 500, 'api_error', 'Internal server error');
      case 'bad-request':
        return error(res, 400, 'invalid_request_error', b.message ?? 'temperature: range: 0..1');
      case 'context-length':
        return error(res, 400, 'invalid_request_error', 'prompt is too long: 208310 tokens > 200000 maximum');
      default:
        break;
    }
    const forced = b.kind === 'json' ? forcedTool(req, problems) : '';
    const stop = stopSequence(req, b, problems);
    if (req.body.stream === true) return stream(res, model, b, forced, stop);
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_emulated' });
    res.end(JSON.stringify({ id: 'msg_emulated', type: 'message', role: 'assistant', model, content: content(b, forced), stop_reason: stopReason(b), stop_sequence: stop, usage: USAGE }));
  });
}
