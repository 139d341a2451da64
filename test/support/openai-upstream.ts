import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the emulator does with one request. */
export type Behaviour =
  /**
   * A JSON answer with `n` choices (OpenAI bills completion tokens for every choice: `usage.completion`
   * is per choice). `rawUsage` replaces the usage object as is (`null` = none, as some servers do);
   * `delayMs` answers late (a client may hang up meanwhile).
   */
  | {
      kind: 'ok';
      content?: string;
      /** `reasoning`: of the completion tokens, how many the model spent reasoning (`completion_tokens_details.reasoning_tokens`). */
      usage?: { prompt: number; completion: number; cached?: number; reasoning?: number };
      rawUsage?: unknown;
      delayMs?: number;
      /** The reasoning text some OpenAI-compatible servers return (vLLM, for gpt-oss and R1): `message.reasoning_content`. */
      reasoningContent?: string;
    }
  | { kind: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'reset' }
  /**
   * `truncate`: the body ends cleanly after the chunks, without a finish reason or [DONE] (a cut-off upstream).
   * `reasoningTokens`: the usage chunk's `completion_tokens_details.reasoning_tokens` (counted in its completion tokens).
   * One chunk is one token: the stream stops at the request's output cap with `length`, unless
   * `overrunCap` (an upstream that ignores the cap, which the gateway's budgets must survive).
   * `firstDelayMs`: an opening role chunk at once, then nothing that long before the first token (a
   * reasoning model thinking unseen).
   */
  | { kind: 'stream'; chunks: number; intervalMs: number; content?: string; omitUsage?: boolean; failAfter?: number; truncate?: boolean; reasoningTokens?: number; overrunCap?: boolean; firstDelayMs?: number }
  /** A stream of `chunks` when the request asks to stream, the default JSON answer otherwise. */
  | { kind: 'auto'; chunks: number }
  /** A stream of these chunks' JSON, as they are, then `[DONE]` (a hostile or broken upstream). */
  | { kind: 'events'; events: unknown[] };

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Resolves when the client (the gateway) closed the connection before the response ended. */
  aborted: Promise<void>;
  abortedNow: () => boolean;
}

export interface OpenAiUpstream {
  url: string;
  /** Base URL as a Provider's `url` expects it. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Behaviours used in order; the last one repeats. */
  script(...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

function chunk(id: string, model: string, delta: Record<string, unknown>, finish: string | null, index = 0): string {
  return `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
}

/** A legacy completions stream chunk, as OpenAI and vLLM send it: `text` on the choice, no delta. */
function textChunk(id: string, model: string, text: string, finish: string | null, index = 0): string {
  return `data: ${JSON.stringify({ id, object: 'text_completion', created: 1, model, choices: [{ text, index, logprobs: null, finish_reason: finish }] })}\n\n`;
}

/**
 * A vector as OpenAI sends it: floats, or with `encoding_format: 'base64'` (the openai SDK's default,
 * which decodes it) the little-endian float32 bytes in base64.
 */
function embeddingOf(vector: number[], encoding: unknown): number[] | string {
  if (encoding !== 'base64') return vector;
  const floats = new Float32Array(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

/**
 * The request's output cap per choice, as OpenAI applies it: `max_completion_tokens`, else
 * `max_tokens` (the only one legacy completions have); undefined when it sets none.
 */
function outputCapOf(body: Record<string, unknown>): number | undefined {
  const cap = body.max_completion_tokens ?? body.max_tokens;
  return typeof cap === 'number' && cap > 0 ? cap : undefined;
}

/** Text cut to `tokens` words (the emulator's tokens), as a model stopped at its cap. */
function cutTo(text: string, tokens: number): string {
  return text.split(' ').slice(0, tokens).join(' ');
}

/** Whether a request path is the legacy completions endpoint (not chat completions). */
const isLegacyCompletions = (path: string): boolean => path.endsWith('/completions') && !path.endsWith('/chat/completions');

async function handle(b: Behaviour, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const model = String(body.model ?? 'unknown');
  const path = req.url ?? '';
  switch (b.kind) {
    case 'auto':
      return handle(body.stream === true ? { kind: 'stream', chunks: b.chunks, intervalMs: 0 } : { kind: 'ok' }, req, res, body);
    case 'hang':
      return; // never answers; the gateway must time out
    case 'reset':
      req.socket.destroy();
      return;
    case 'error':
      res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
      res.end(JSON.stringify(b.body ?? { error: { message: `emulated ${b.status}`, type: 'server_error', param: null, code: null } }));
      return;
    case 'ok': {
      if (b.delayMs !== undefined) await new Promise((r) => setTimeout(r, b.delayMs));
      const scripted = b.usage ?? { prompt: 10, completion: 5 };
      // A model stops at the request's cap: no more completion tokens than it (reasoning included),
      // finish_reason `length` and the text cut. Before, the cap was ignored and every answer was `stop`.
      const cap = outputCapOf(body);
      const capped = cap !== undefined && cap < scripted.completion;
      const usage = capped ? { ...scripted, completion: cap, ...(scripted.reasoning !== undefined ? { reasoning: Math.min(scripted.reasoning, cap) } : {}) } : scripted;
      const finish = capped ? 'length' : 'stop';
      const text = (content: string): string => (capped ? cutTo(content, Math.max(0, usage.completion - (usage.reasoning ?? 0))) : content);
      const n = typeof body.n === 'number' ? body.n : 1;
      const u =
        b.rawUsage !== undefined
          ? b.rawUsage
          : {
              prompt_tokens: usage.prompt,
              completion_tokens: usage.completion * n,
              total_tokens: usage.prompt + usage.completion * n,
              prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
              ...(usage.reasoning !== undefined ? { completion_tokens_details: { reasoning_tokens: usage.reasoning * n, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } } : {}),
            };
      let response: unknown;
      if (path.endsWith('/embeddings')) {
        const inputs = Array.isArray(body.input) ? body.input : [body.input];
        response = { object: 'list', model, data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: embeddingOf([0.1, 0.2, 0.3], body.encoding_format) })), usage: { prompt_tokens: usage.prompt, total_tokens: usage.prompt } };
      } else if (isLegacyCompletions(path)) {
        response = { id: 'cmpl-1', object: 'text_completion', created: 1, model, choices: [{ index: 0, text: text(b.content ?? 'hi'), logprobs: null, finish_reason: finish }], usage: u };
      } else {
        response = {
          id: 'chatcmpl-1', object: 'chat.completion', created: 1, model,
          choices: Array.from({ length: n }, (_, index) => ({ index, message: { role: 'assistant', content: text(b.content ?? 'hello from upstream'), refusal: null, ...(b.reasoningContent !== undefined ? { reasoning_content: b.reasoningContent } : {}) }, logprobs: null, finish_reason: finish })),
          usage: u,
        };
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_upstream' });
      res.end(JSON.stringify(response));
      return;
    }
    case 'events': {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of b.events) res.write(`data: ${JSON.stringify(event)}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    case 'stream': {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_upstream_stream' });
      const legacy = isLegacyCompletions(path);
      const id = legacy ? 'cmpl-s' : 'chatcmpl-s';
      const word = b.content ?? 'tok';
      // `n` choices stream side by side, one chunk each per step, as OpenAI interleaves them.
      const n = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
      // One token a chunk (reasoning tokens first, unseen): the stream stops at the request's cap with `length`.
      const cap = b.overrunCap === true ? undefined : outputCapOf(body);
      const reasoning = Math.min(b.reasoningTokens ?? 0, cap ?? Infinity);
      const chunks = cap === undefined ? b.chunks : Math.min(b.chunks, cap - reasoning);
      const finish = chunks < b.chunks ? 'length' : 'stop';
      if (b.firstDelayMs !== undefined && !legacy) {
        for (let c = 0; c < n; c++) res.write(chunk(id, model, { role: 'assistant', content: '' }, null, c));
        await new Promise((r) => setTimeout(r, b.firstDelayMs));
      }
      for (let i = 0; i < chunks; i++) {
        if (b.failAfter !== undefined && i === b.failAfter) {
          req.socket.destroy();
          return;
        }
        if (res.destroyed) return;
        for (let c = 0; c < n; c++) {
          if (legacy) res.write(textChunk(id, model, i === 0 ? word : ` ${word}`, null, c));
          else res.write(chunk(id, model, i === 0 ? { role: 'assistant', content: word } : { content: ` ${word}` }, null, c));
        }
        if (b.intervalMs > 0) await new Promise((r) => setTimeout(r, b.intervalMs));
      }
      if (b.truncate === true) {
        res.end();
        return;
      }
      for (let c = 0; c < n; c++) res.write(legacy ? textChunk(id, model, '', finish, c) : chunk(id, model, {}, finish, c));
      const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
      if (streamOptions?.include_usage === true && b.omitUsage !== true) {
        const completion = (chunks + reasoning) * n;
        const usage = { prompt_tokens: 7, completion_tokens: completion, total_tokens: 7 + completion, ...(b.reasoningTokens !== undefined ? { completion_tokens_details: { reasoning_tokens: reasoning * n } } : {}) };
        res.write(`data: ${JSON.stringify({ id, object: legacy ? 'text_completion' : 'chat.completion.chunk', created: 1, model, choices: [], usage })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
      return;
    }
  }
}

/** The emulator's own list of OpenAI reasoning models (they take reasoning_effort and refuse max_tokens). */
const REASONING_MODELS: ReadonlySet<string> = new Set(['o1', 'o3', 'o3-mini', 'o4-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano']);
/** gpt-oss, as OpenAI-compatible servers (vLLM) serve it: reasoning_effort, and max_tokens too. */
const OPEN_WEIGHT_REASONING: ReadonlySet<string> = new Set(['gpt-oss-120b', 'gpt-oss-20b']);

const SERVICE_TIERS: ReadonlySet<string> = new Set(['auto', 'default', 'flex', 'scale', 'priority']);

/**
 * OpenAI's own checks of a chat request's parameters, with its error bodies: unknown members
 * (`thinking`, `top_k`, `output_config`) are refused, reasoning models refuse `max_tokens`, a
 * `temperature` other than 1, `top_p`, and a `reasoning_effort`
 * they do not know, other models refuse `reasoning_effort`; a `service_tier` it does not know is refused. Undefined when the request passes.
 */
function platformRefusal(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const refuse = (message: string, param: string | null, code: string | null): Record<string, unknown> => ({ error: { message, type: 'invalid_request_error', param, code } });
  for (const unknown of ['thinking', 'top_k', 'output_config']) if (body[unknown] !== undefined) return refuse(`Unrecognized request argument supplied: ${unknown}`, null, null);
  if (body.service_tier !== undefined && body.service_tier !== null && !SERVICE_TIERS.has(String(body.service_tier))) {
    return refuse(`Invalid value: '${String(body.service_tier)}'. Supported values are: 'auto', 'default', 'flex', 'scale', and 'priority'.`, 'service_tier', 'invalid_value');
  }
  const reasoning = REASONING_MODELS.has(String(body.model));
  if (reasoning && body.max_tokens !== undefined) return refuse("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", 'max_tokens', 'unsupported_parameter');
  if (reasoning && body.temperature !== undefined && body.temperature !== 1) {
    return refuse(`Unsupported value: 'temperature' does not support ${String(body.temperature)} with this model. Only the default (1) value is supported.`, 'temperature', 'unsupported_value');
  }
  if (reasoning && body.top_p !== undefined) return refuse("Unsupported parameter: 'top_p' is not supported with this model.", 'top_p', 'unsupported_parameter');
  if (body.reasoning_effort === undefined) return undefined;
  if (!reasoning && !OPEN_WEIGHT_REASONING.has(String(body.model))) return refuse("Unsupported parameter: 'reasoning_effort' is not supported with this model.", 'reasoning_effort', 'unsupported_parameter');
  if (!['minimal', 'low', 'medium', 'high'].includes(String(body.reasoning_effort))) {
    return refuse(`Invalid value: '${String(body.reasoning_effort)}'. Supported values are: 'low', 'medium', and 'high'.`, 'reasoning_effort', 'invalid_value');
  }
  return undefined;
}

export interface OpenAiUpstreamOptions {
  /** Refuse chat requests OpenAI's own API would refuse (platformRefusal), as it does: a 400 before any behaviour. */
  platformChecks?: boolean;
}

/** A local server that speaks the OpenAI wire format, scripted per request. */
export async function startOpenAiUpstream(options: OpenAiUpstreamOptions = {}): Promise<OpenAiUpstream> {
  let behaviours: Behaviour[] = [{ kind: 'ok' }];
  let next = 0;
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = {};
      }
      let aborted = false;
      const abortedP = new Promise<void>((resolve) =>
        res.on('close', () => {
          if (!res.writableFinished) {
            aborted = true;
            resolve();
          }
        }),
      );
      requests.push({ path: req.url ?? '', headers: req.headers, body, aborted: abortedP, abortedNow: () => aborted });
      const b = behaviours[Math.min(next, behaviours.length - 1)] ?? { kind: 'ok' };
      next++;
      const refusal = options.platformChecks === true && new URL(req.url ?? '/', 'http://emulator').pathname.endsWith('/chat/completions') ? platformRefusal(body) : undefined;
      void handle(refusal !== undefined ? { kind: 'error', status: 400, body: refusal } : b, req, res, body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    script: (...b: Behaviour[]) => {
      behaviours = b.length > 0 ? b : [{ kind: 'ok' }];
      next = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
