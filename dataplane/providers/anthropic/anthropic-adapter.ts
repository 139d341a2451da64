import type { AdapterTarget, ProviderAdapter, StreamTransformer } from '../types.js';
import type { CanonicalRequest, HeaderMap, ParseResult, UpstreamHttpRequest } from '../../core/canonical.js';
import { RequestTranslationError } from '../types.js';
import { jsonToolOf } from '../shared/json-response-tool.js';
import { classifyAnthropicError } from './anthropic-errors.js';
import { toAnthropicRequest } from './anthropic-request.js';
import { claudeReasonsUnseen } from '../shared/reasoning-effort.js';
import { fromAnthropicResponse } from './anthropic-response.js';
import { anthropicTokenCounter } from './anthropic-count-tokens.js';
import { anthropicSettings } from './anthropic-settings.js';
import { AnthropicStreamTransformer } from './anthropic-stream.js';
import type { AnthropicResponse } from './anthropic-wire.js';

/** Anthropic Messages API: POST {base}/v1/messages with x-api-key and anthropic-version. */
export const anthropicAdapter: ProviderAdapter = {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest {
    if (req.op !== 'chat') throw new RequestTranslationError(`${req.op} is not supported by anthropic providers; use chat completions`);
    const settings = anthropicSettings(target.settings);
    const body = toAnthropicRequest(req.body, target.model, req.stream, settings);
    const headers: Record<string, string> = {
      ...target.headers,
      'content-type': 'application/json',
      accept: req.stream ? 'text/event-stream' : 'application/json',
      'anthropic-version': settings.version,
    };
    // The Provider's betas and the client's (its anthropic-beta header on /v1/messages), once each.
    const betas = [...new Set([...(settings.beta ?? []), ...(req.betas ?? [])])];
    if (betas.length > 0) headers['anthropic-beta'] = betas.join(',');
    if (target.apiKey !== undefined && target.apiKey !== '') headers['x-api-key'] = target.apiKey;
    return { url: `${target.baseUrl}/v1/messages`, method: 'POST', headers, body: JSON.stringify(body) };
  },

  parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string): ParseResult {
    if (status < 200 || status >= 300) return { ok: false, failure: classifyAnthropicError(status, headers, bodyText) };
    let body: AnthropicResponse;
    try {
      body = JSON.parse(bodyText) as AnthropicResponse;
    } catch {
      return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a body that is not JSON' } };
    }
    if (typeof body !== 'object' || body === null || body.type !== 'message') {
      return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned something other than a message' } };
    }
    const { body: out, usage } = fromAnthropicResponse(body, req.createdAt ?? 0, jsonToolOf(req.body));
    return { ok: true, body: out, usage };
  },

  classifyError: classifyAnthropicError,

  createStreamTransformer(req: CanonicalRequest): StreamTransformer {
    return new AnthropicStreamTransformer(req.clientWantsUsage, req.createdAt ?? 0, jsonToolOf(req.body));
  },

  reasonsUnseen: (req, model) => claudeReasonsUnseen(req.body, model),

  defaultOutputCap: (settings) => anthropicSettings(settings).defaultMaxTokens,

  countTokens: anthropicTokenCounter,
};
