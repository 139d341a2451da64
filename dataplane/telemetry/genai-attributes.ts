import type { JsonObject, Operation } from '../core/canonical.js';
import type { PassThroughEndpoint } from '../config/pass-through-endpoints.js';

/**
 * OpenTelemetry GenAI semantic conventions as of semantic-conventions v1.41 (the last version kept
 * in the main repository; `gen_ai.provider.name`, not the pre-1.37 `gen_ai.system`).
 */
export const GENAI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreationTokens: 'gen_ai.usage.cache_creation.input_tokens',
} as const;

/** Path of a public inference endpoint → gen_ai.operation.name. */
export const OPERATION_BY_PATH: ReadonlyMap<string, string> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/v1/messages', 'chat'],
  ['/v1/responses', 'chat'],
  ['/v1/completions', 'text_completion'],
  ['/v1/embeddings', 'embeddings'],
]);

/**
 * gen_ai.operation.name of a pass-through endpoint: the convention's `generate_content` for images,
 * audio and videos (multimodal generation), else the endpoint's own name (the convention allows names of
 * an operation it does not list). The metrics' `operation` label is the endpoint name in every case.
 */
export const PASS_THROUGH_OPERATION: Record<PassThroughEndpoint, string> = {
  images: 'generate_content',
  audio: 'generate_content',
  files: 'files',
  batches: 'batches',
  moderations: 'moderations',
  rerank: 'rerank',
  score: 'score',
  tokenize: 'tokenize',
  realtime: 'realtime',
  responses: 'responses',
  vector_stores: 'vector_stores',
  uploads: 'uploads',
  conversations: 'conversations',
  videos: 'generate_content',
  containers: 'containers',
  fine_tuning: 'fine_tuning',
  evals: 'evals',
};

export const OPERATION_NAME: Record<Operation, string> = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings' };

/** server.address and server.port of a base URL, parsed once per distinct URL. */
export class ServerAddresses {
  private readonly cache = new Map<string, { address: string; port: number } | undefined>();

  of(baseUrl: string): { address: string; port: number } | undefined {
    if (this.cache.has(baseUrl)) return this.cache.get(baseUrl);
    let parsed: { address: string; port: number } | undefined;
    try {
      const url = new URL(baseUrl);
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
        parsed = { address: url.hostname.replace(/^\[|\]$/g, ''), port };
      }
    } catch {
      parsed = undefined;
    }
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(baseUrl, parsed);
    return parsed;
  }
}

/** Finish reasons kept per answer: as many as it may have choices (routing/stream-bounds.ts). */
const MAX_FINISH_REASONS = 128;

/**
 * Characters kept of each string the upstream names itself by (id, model, finish reason): they go
 * onto spans, held in the export queue, and an upstream may send megabytes of one.
 */
const MAX_FACT_CHARS = 256;

const fact = (value: string): string => (value.length <= MAX_FACT_CHARS ? value : value.slice(0, MAX_FACT_CHARS));

/**
 * What a (canonical, OpenAI-shaped) response or stream chunk says about itself: id, model, finish
 * reasons. Reads no content.
 */
export class ResponseFacts {
  id: string | undefined;
  model: string | undefined;
  /** Finish reason per choice index: a stream may repeat one on several chunks, and the last one said is the choice's. */
  private readonly reasons = new Map<number, string>();

  /** One finish reason per choice, in choice order. */
  get finishReasons(): string[] {
    if (this.reasons.size === 0) return [];
    return [...this.reasons.entries()].sort(([a], [b]) => a - b).map(([, reason]) => reason);
  }

  observe(body: JsonObject): void {
    if (this.id === undefined && typeof body.id === 'string') this.id = fact(body.id);
    if (this.model === undefined && typeof body.model === 'string') this.model = fact(body.model);
    const choices = body.choices;
    if (!Array.isArray(choices)) return;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i] as JsonObject | null;
      const reason = choice?.finish_reason;
      if (typeof reason !== 'string') continue;
      // A choice without its index is the position it came at (a non-streamed answer lists them in order).
      const index = typeof choice?.index === 'number' && Number.isInteger(choice.index) ? choice.index : i;
      // At most as many choices as an answer may have: an upstream may send any number of indexes.
      if (this.reasons.has(index) || this.reasons.size < MAX_FINISH_REASONS) this.reasons.set(index, fact(reason));
    }
  }
}
