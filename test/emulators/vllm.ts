import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A vLLM pod: the OpenAI API it serves (chat completions, JSON and SSE with usage), /health, and
 * /metrics in vLLM's Prometheus exposition (prometheus_client text format: HELP/TYPE lines, labels
 * engine and model_name, `_total` counters, the LoRA info gauge whose value is the update time).
 * Load is set from the test: queue depth, KV-cache usage, LoRA adapters, latency, health.
 */
export interface VllmPodControls {
  /** Reported vllm:num_requests_waiting (requests in flight show up as running). */
  queue: number;
  /** Reported KV-cache usage, 0..1. */
  kvCacheUsage: number;
  /** With --enable-lora: adapters running and waiting, and max_lora. */
  lora?: { running: string[]; waiting: string[]; maxLora: number };
  /** Time before the answer (before the first chunk of a stream). */
  latencyMs: number;
  /** Status of GET /health. */
  health: 200 | 503;
  /** GET /metrics: served, failing with 500, or never answering. */
  metrics: 'ok' | 'error' | 'hang';
  /** Answer chat requests with this error instead (vLLM's 503 when overloaded, a 429 from a proxy in front, a 500 from a broken engine). */
  reject?: { status: 429 | 500 | 503; retryAfter?: string };
  /** Report KV usage only under the name deprecated in vLLM 0.9 (vllm:gpu_cache_usage_perc). */
  legacyKvMetric: boolean;
  /**
   * Engine model, for benchmarks (all off by default): at most `maxRunning` requests run at once and
   * the rest wait in arrival order, counted in vllm:num_requests_waiting on top of `queue`.
   */
  maxRunning?: number;
  /** Extra time for a request whose system prompt is not in this pod's prefix cache (prefill). */
  prefixMissMs?: number;
  /** The prefix cache keeps this many system prompts, least recently used evicted (unbounded when absent). */
  prefixCacheSize?: number;
  /** Extra time for a request for an adapter not in `lora.running`; it is loaded when a slot is free. */
  loraMissMs?: number;
}

export interface ServedRequest {
  model: string;
  stream: boolean;
  system?: string;
  /** Time spent waiting for an engine slot (0 without `maxRunning`). */
  queuedMs?: number;
  prefixHit?: boolean;
  /** The adapter was not running on this pod (with `loraMissMs`). */
  loraLoad?: boolean;
}

export interface VllmEmulator {
  /** Origin, e.g. http://127.0.0.2:8000 */
  url: string;
  /** Base URL as the gateway calls it (…/v1). */
  baseUrl: string;
  host: string;
  port: number;
  controls: VllmPodControls;
  set(patch: Partial<VllmPodControls>): void;
  served: ServedRequest[];
  scrapes: number;
  healthChecks: number;
  inflight: number;
  /** Requests waiting for an engine slot (with `maxRunning`). */
  waiting: number;
  /** Emulated prefix cache: a request hits when its system prompt was seen on this pod before (counted in tokens). */
  prefixCache: { queries: number; hits: number };
  /** Why each request vLLM's request model would refuse was refused (400), in order. */
  refused: string[];
  close(): Promise<void>;
}

/** Python's repr(float) as prometheus_client's floatToGoString turns it into Go style. */
export function goFloat(d: number): string {
  if (d === Number.POSITIVE_INFINITY) return '+Inf';
  if (d === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(d)) return 'NaN';
  const s = Number.isInteger(d) && Math.abs(d) < 1e16 ? `${d}.0` : String(d);
  const dot = s.indexOf('.');
  if (d > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

function metricsText(model: string, c: VllmPodControls, running: number, waiting: number, prefix: { queries: number; hits: number }, loraUpdatedAt: number): string {
  const labels = `engine="0",model_name="${model}"`;
  const out: string[] = [];
  const family = (name: string, type: string, help: string, lines: string[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  if (c.lora !== undefined) {
    // Two series, as vLLM leaves behind: an older empty one and the current one (larger timestamp value).
    family('vllm:lora_requests_info', 'gauge', 'Running stats on lora requests.', [
      `vllm:lora_requests_info{max_lora="${c.lora.maxLora}",running_lora_adapters="",waiting_lora_adapters=""} ${goFloat(loraUpdatedAt - 30.5)}`,
      `vllm:lora_requests_info{max_lora="${c.lora.maxLora}",running_lora_adapters="${c.lora.running.join(',')}",waiting_lora_adapters="${c.lora.waiting.join(',')}"} ${goFloat(loraUpdatedAt)}`,
    ]);
  }
  family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', [`vllm:num_requests_running{${labels}} ${goFloat(running)}`]);
  family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', [`vllm:num_requests_waiting{${labels}} ${goFloat(c.queue + waiting)}`]);
  if (c.legacyKvMetric) {
    family('vllm:gpu_cache_usage_perc', 'gauge', 'GPU KV-cache usage. 1 means 100 percent usage.', [`vllm:gpu_cache_usage_perc{${labels}} ${goFloat(c.kvCacheUsage)}`]);
  } else {
    family('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', [`vllm:kv_cache_usage_perc{${labels}} ${goFloat(c.kvCacheUsage)}`]);
  }
  family('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', [
    `vllm:prefix_cache_queries_total{${labels}} ${goFloat(prefix.queries)}`,
  ]);
  family('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', [`vllm:prefix_cache_hits_total{${labels}} ${goFloat(prefix.hits)}`]);
  family('vllm:num_preemptions_total', 'counter', 'Cumulative number of preemption from the engine.', [`vllm:num_preemptions_total{${labels}} 0.0`]);
  family('vllm:e2e_request_latency_seconds', 'histogram', 'Histogram of e2e request latency in seconds.', [
    `vllm:e2e_request_latency_seconds_bucket{${labels},le="0.3"} 0.0`,
    `vllm:e2e_request_latency_seconds_bucket{${labels},le="+Inf"} 0.0`,
    `vllm:e2e_request_latency_seconds_count{${labels}} 0.0`,
    `vllm:e2e_request_latency_seconds_sum{${labels}} 0.0`,
  ]);
  return `${out.join('\n')}\n`;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const PART_TYPES = new Set(['text', 'image_url', 'input_audio', 'audio_url', 'video_url', 'file', 'image_embeds', 'refusal', 'thinking', 'input_text', 'input_image']);
const NUMBERS = ['temperature', 'top_p', 'frequency_penalty', 'presence_penalty', 'repetition_penalty', 'min_p'];
const INTEGERS = ['max_tokens', 'max_completion_tokens', 'n', 'top_k', 'seed', 'top_logprobs', 'min_tokens'];
const BOOLEANS = ['stream', 'logprobs', 'echo', 'ignore_eos', 'skip_special_tokens', 'add_generation_prompt', 'parallel_tool_calls'];

/**
 * Why vLLM's ChatCompletionRequest (pydantic, vllm/entrypoints/openai/protocol.py) refuses a body,
 * else undefined. Unknown top-level fields are not refused (its models allow extra fields and log
 * them as ignored); wrong types, messages that are not role-tagged objects, content parts of a type
 * it does not know, stream_options without stream, tool_choice without tools and top_logprobs
 * without logprobs are.
 */
function chatProblem(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'Input should be a valid dictionary or object to extract fields from';
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.messages)) return "messages: Field required (a list)";
  for (const [i, m] of b.messages.entries()) {
    if (typeof m !== 'object' || m === null || !ROLES.has(String((m as { role?: unknown }).role))) return `messages.${i}: each message is an object with a role of ${[...ROLES].join(', ')}`;
    const content = (m as { content?: unknown }).content;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) return `messages.${i}.content: Input should be a valid string or list`;
    if (Array.isArray(content)) for (const part of content) {
      const type = (part as { type?: unknown } | null)?.type;
      if (typeof type !== 'string' || !PART_TYPES.has(type)) return `Unknown part type: ${String(type)}`;
    }
  }
  if (b.model !== undefined && b.model !== null && typeof b.model !== 'string') return 'model: Input should be a valid string';
  for (const f of NUMBERS) if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'number') return `${f}: Input should be a valid number`;
  for (const f of INTEGERS) if (b[f] !== undefined && b[f] !== null && !Number.isInteger(b[f])) return `${f}: Input should be a valid integer`;
  for (const f of BOOLEANS) if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'boolean') return `${f}: Input should be a valid boolean`;
  if (b.stop !== undefined && b.stop !== null && typeof b.stop !== 'string' && !(Array.isArray(b.stop) && b.stop.every((x) => typeof x === 'string'))) return 'stop: Input should be a valid string or list of strings';
  if (b.stream_options !== undefined && b.stream_options !== null && b.stream !== true) return 'Stream options can only be defined when `stream=True`.';
  if (b.tool_choice !== undefined && b.tool_choice !== null && b.tool_choice !== 'none' && (b.tools === undefined || b.tools === null)) return 'When using `tool_choice`, `tools` must be set.';
  if (b.top_logprobs !== undefined && b.top_logprobs !== null && b.logprobs !== true) return 'when using `top_logprobs`, `logprobs` must be set to true.';
  if (b.response_format !== undefined && b.response_format !== null) {
    const type = (b.response_format as { type?: unknown }).type;
    if (!['text', 'json_object', 'json_schema', 'structural_tag'].includes(String(type))) return `response_format.type: Input should be 'text', 'json_object', 'json_schema' or 'structural_tag'`;
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function textOfMessage(m: unknown): string {
  if (typeof m !== 'object' || m === null) return '';
  const content = (m as { content?: unknown }).content;
  return typeof content === 'string' ? content : '';
}

/** Starts one emulated vLLM pod; `host` may be any 127.0.0.x address so that pods share a port, as in a cluster. */
export async function startVllmEmulator(opts: { model?: string; host?: string; port?: number; controls?: Partial<VllmPodControls> } = {}): Promise<VllmEmulator> {
  const model = opts.model ?? 'meta-llama/Llama-3.1-8B-Instruct';
  const controls: VllmPodControls = { queue: 0, kvCacheUsage: 0.1, latencyMs: 0, health: 200, metrics: 'ok', legacyKvMetric: false, ...opts.controls };
  const seenPrefixes = new Set<string>();
  let counter = 0;
  const slotWaiters: (() => void)[] = [];
  const emu: Omit<VllmEmulator, 'url' | 'baseUrl' | 'host' | 'port' | 'close'> = {
    controls,
    set: (patch) => Object.assign(controls, patch),
    served: [],
    scrapes: 0,
    healthChecks: 0,
    inflight: 0,
    waiting: 0,
    prefixCache: { queries: 0, hits: 0 },
    refused: [],
  };

  const chat = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      const problem = chatProblem(parsed);
      if (problem !== undefined) throw new Error(problem);
      body = parsed as Record<string, unknown>;
    } catch (err) {
      // vLLM answers a body its request model refuses with 400 BadRequestError (its RequestValidationError handler).
      emu.refused.push((err as Error).message);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'error', message: (err as Error).message, type: 'BadRequestError', param: null, code: 400 }));
      return;
    }
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const first = messages[0] as { role?: unknown } | undefined;
    const system = first?.role === 'system' ? textOfMessage(first) : undefined;
    const requested = typeof body.model === 'string' ? body.model : model;
    const stream = body.stream === true;
    if (controls.reject !== undefined) {
      const { status, retryAfter } = controls.reject;
      res.writeHead(status, { 'content-type': 'application/json', ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }) });
      const [message, type] = status === 429 ? ['Too many requests', 'TooManyRequests'] : status === 500 ? ['Internal Server Error', 'InternalServerError'] : ['Service Unavailable', 'ServiceUnavailable'];
      res.end(JSON.stringify({ object: 'error', message, type, param: null, code: status }));
      return;
    }
    const served: ServedRequest = system === undefined ? { model: requested, stream } : { model: requested, stream, system };
    emu.served.push(served);
    const promptTokens = messages.reduce((n: number, m) => n + tokens(textOfMessage(m)), 0);
    emu.prefixCache.queries += promptTokens;
    let extraMs = 0;
    if (system !== undefined) {
      served.prefixHit = seenPrefixes.delete(system);
      if (served.prefixHit) emu.prefixCache.hits += tokens(system);
      else extraMs += controls.prefixMissMs ?? 0;
      seenPrefixes.add(system); // most recently used last
      const cap = controls.prefixCacheSize;
      while (cap !== undefined && seenPrefixes.size > cap) seenPrefixes.delete(seenPrefixes.values().next().value ?? '');
    }
    const lora = controls.lora;
    if (controls.loraMissMs !== undefined && lora !== undefined && requested !== model && !lora.running.includes(requested)) {
      served.loraLoad = true;
      extraMs += controls.loraMissMs;
      if (lora.running.length < lora.maxLora) lora.running.push(requested);
    }
    const queuedAt = Date.now();
    if (controls.maxRunning !== undefined && (emu.inflight >= controls.maxRunning || slotWaiters.length > 0)) {
      emu.waiting++;
      await new Promise<void>((r) => slotWaiters.push(r)); // the finishing request hands its slot over (inflight unchanged)
      emu.waiting--;
    } else {
      emu.inflight++;
    }
    served.queuedMs = Date.now() - queuedAt;
    try {
      const latency = controls.latencyMs + extraMs;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const id = `chatcmpl-${(++counter).toString(16).padStart(8, '0')}`;
      const created = Math.floor(Date.now() / 1000);
      const words = ['Hello', ' from', ' vLLM'];
      const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens + words.length, completion_tokens: words.length, prompt_tokens_details: null };
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id, object: 'chat.completion', created, model: requested,
            choices: [{ index: 0, message: { role: 'assistant', reasoning_content: null, content: words.join(''), tool_calls: [] }, logprobs: null, finish_reason: 'stop', stop_reason: null }],
            usage, prompt_logprobs: null,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: requested, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
      res.write(chunk({ role: 'assistant', content: '' }, null));
      for (const w of words) res.write(chunk({ content: w }, null));
      res.write(chunk({ content: '' }, 'stop'));
      const opts2 = body.stream_options as { include_usage?: boolean } | undefined;
      if (opts2?.include_usage === true) {
        res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: requested, choices: [], usage })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    } finally {
      const next = controls.maxRunning === undefined || emu.inflight <= controls.maxRunning ? slotWaiters.shift() : undefined;
      if (next === undefined) emu.inflight--;
      else next();
    }
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      emu.scrapes++;
      if (controls.metrics === 'hang') return;
      if (controls.metrics === 'error') {
        res.writeHead(500).end('Internal Server Error');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metricsText(model, controls, emu.inflight, emu.waiting, emu.prefixCache, Date.now() / 1000));
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      emu.healthChecks++;
      res.writeHead(controls.health).end();
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      chat(req, res).catch(() => res.destroy());
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'Not Found' }));
  });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address}:${port}`;
  return Object.assign(emu, {
    url,
    baseUrl: `${url}/v1`,
    host: address,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}
