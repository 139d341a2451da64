import type { SseEvent } from '../../sse/sse-parser.js';
import { openAiAdapter } from '../openai/openai-adapter.js';
import { forOpenAiPlatform } from '../openai/openai-platform.js';
import { isObject } from '../shared/json-guards.js';
import { withNativeResponses } from '../shared/native-responses.js';
import type { AdapterTarget, ProviderAdapter, StreamTransformer } from '../types.js';
import type { CanonicalRequest, JsonObject, Operation, StreamStep, UpstreamHttpRequest } from '../../core/canonical.js';

const PATHS: Record<Operation, string> = {
  chat: 'chat/completions',
  completions: 'completions',
  embeddings: 'embeddings',
};

export const DEFAULT_API_VERSION = '2024-10-21';

/**
 * The first api-version that takes `max_completion_tokens` (2024-09-01-preview, with the o1 models):
 * older versions refuse it, so their requests keep `max_tokens`. Dated versions compare as strings.
 */
const COMPLETION_CAP_SINCE = '2024-09-01';

/**
 * A choice without Azure's content-filter annotations, which OpenAI clients do not expect on every
 * answer; but a choice the output filter stopped (finish_reason content_filter) keeps its
 * `content_filter_results`: the only place that says which category fired.
 */
function withoutFilterAnnotations(c: JsonObject): JsonObject {
  const { content_filter_results: results, content_filter_offsets: _o, ...choice } = c;
  return c.finish_reason === 'content_filter' && results !== undefined ? { ...choice, content_filter_results: results } : choice;
}

/** A stream choice with something for the client: a chat delta, a legacy completion's text, or a finish reason. */
function carriesContent(c: unknown): boolean {
  return isObject(c) && (isObject(c.delta) || typeof c.text === 'string' || (c.finish_reason !== null && c.finish_reason !== undefined));
}

/**
 * Azure's content-filter annotations: chunks that carry only those are dropped, the rest is stripped
 * of them. Before, a legacy completions chunk (its text in `text`, no `delta`) counted as an
 * annotation: a streamed completion reached the client without its text.
 */
function withoutFilterResults(chunk: JsonObject): JsonObject | undefined {
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  const kept = choices.filter(carriesContent);
  if (kept.length === 0 && chunk.usage === undefined) return undefined;
  const { prompt_filter_results: _p, ...rest } = chunk;
  rest.choices = kept.map((c: unknown) => withoutFilterAnnotations(c as JsonObject));
  return rest;
}

class AzureStreamTransformer implements StreamTransformer {
  constructor(private readonly inner: StreamTransformer) {}

  onEvent(event: SseEvent): StreamStep {
    // Without `raw`: the chunks are rebuilt, and the upstream's text of them (with every annotation)
    // must not be what the client is sent. Before, it was: the annotations reached OpenAI clients.
    const { raw: _raw, ...step } = this.inner.onEvent(event);
    const chunks: JsonObject[] = [];
    for (const c of step.chunks) {
      const kept = withoutFilterResults(c);
      if (kept !== undefined) chunks.push(kept);
    }
    return { ...step, chunks };
  }

  onEnd(): StreamStep {
    return this.inner.onEnd();
  }
}

/** The deployment a target names: the Provider's azure.deployment, else the target's model. */
export function azureDeployment(target: AdapterTarget): string {
  return target.settings?.azure?.deployment ?? target.model;
}

/** Azure's credential header: `api-key`, or `Authorization: Bearer` for a Microsoft Entra token. */
export function azureAuthHeaders(target: AdapterTarget): Record<string, string> {
  const token = target.accessToken ?? target.apiKey;
  if (token === undefined || token === '') return {};
  return target.settings?.azure?.auth === 'bearer' || target.accessToken !== undefined ? { authorization: `Bearer ${token}` } : { 'api-key': token };
}

/**
 * Azure OpenAI: the OpenAI mappers, with deployment URLs
 * (`{base}/openai/deployments/{deployment}/{op}?api-version=…`) and the `api-key` header (or a bearer token).
 */
const chatAdapter: ProviderAdapter = {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest {
    const azure = target.settings?.azure;
    const { apiKey: _key, ...withoutKey } = target;
    const version = azure?.apiVersion ?? DEFAULT_API_VERSION;
    const built = openAiAdapter.buildRequest(forOpenAiPlatform(req, version >= COMPLETION_CAP_SINCE, target.model), withoutKey);
    const deployment = encodeURIComponent(azureDeployment(target));
    const apiVersion = encodeURIComponent(version);
    return { ...built, headers: { ...built.headers, ...azureAuthHeaders(target) }, url: `${target.baseUrl}/openai/deployments/${deployment}/${PATHS[req.op]}?api-version=${apiVersion}` };
  },
  parseResponse(req, status, headers, bodyText) {
    const parsed = openAiAdapter.parseResponse(req, status, headers, bodyText);
    if (!parsed.ok) return parsed;
    const { prompt_filter_results: _p, ...body } = parsed.body;
    if (Array.isArray(body.choices)) {
      body.choices = body.choices.map((c: unknown) => (isObject(c) ? withoutFilterAnnotations(c) : c));
    }
    return { ...parsed, body };
  },
  classifyError: openAiAdapter.classifyError,
  createStreamTransformer(req: CanonicalRequest): StreamTransformer {
    return new AzureStreamTransformer(openAiAdapter.createStreamTransformer(req));
  },
  // The deployment's name (the target's model) may not be the model's: a deployment named for
  // something else is known to reason only by the request's effort or its pricing.
  reasonsUnseen: openAiAdapter.reasonsUnseen,
};

/**
 * Azure OpenAI with POST /responses forwarded natively to the resource's v1 API
 * (`{base}/openai/v1/responses`, the deployment as `model`), where Azure keeps the responses.
 */
export const azureOpenAiAdapter: ProviderAdapter = withNativeResponses(chatAdapter, (target) => ({
  url: `${target.baseUrl}/openai/v1/responses`,
  model: azureDeployment(target),
  headers: { ...target.headers, ...azureAuthHeaders(target) },
}));
