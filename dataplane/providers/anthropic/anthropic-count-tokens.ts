import type { HeaderMap, JsonObject, UpstreamHttpRequest } from '../../core/canonical.js';
import type { AdapterTarget, TokenCounter } from '../types.js';
import { classifyAnthropicError } from './anthropic-errors.js';
import { anthropicSettings } from './anthropic-settings.js';

/**
 * The members POST /v1/messages/count_tokens accepts: it refuses any other (`max_tokens`, `stream`,
 * `temperature`, …), which a client counting the request it is about to send may well include.
 */
const COUNTED = ['messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers'] as const;

/** Anthropic's own token count: the same headers as /v1/messages, the target's model. */
export const anthropicTokenCounter: TokenCounter = {
  buildRequest(body: JsonObject, target: AdapterTarget, clientBetas: readonly string[] = []): UpstreamHttpRequest {
    const settings = anthropicSettings(target.settings);
    const counted: JsonObject = { model: target.model };
    for (const key of COUNTED) if (body[key] !== undefined) counted[key] = body[key];
    const headers: Record<string, string> = { ...target.headers, 'content-type': 'application/json', accept: 'application/json', 'anthropic-version': settings.version };
    // As for /v1/messages: a beta changes what is counted (new content types, tools), so the client's go too.
    const betas = [...new Set([...(settings.beta ?? []), ...clientBetas])];
    if (betas.length > 0) headers['anthropic-beta'] = betas.join(',');
    if (target.apiKey !== undefined && target.apiKey !== '') headers['x-api-key'] = target.apiKey;
    return { url: `${target.baseUrl}/v1/messages/count_tokens`, method: 'POST', headers, body: JSON.stringify(counted) };
  },

  parseResponse(status: number, headers: HeaderMap, bodyText: string) {
    if (status < 200 || status >= 300) return { ok: false, failure: classifyAnthropicError(status, headers, bodyText) };
    try {
      const body = JSON.parse(bodyText) as { input_tokens?: unknown };
      if (typeof body.input_tokens === 'number' && Number.isSafeInteger(body.input_tokens) && body.input_tokens >= 0) return { ok: true, inputTokens: body.input_tokens };
    } catch {
      // Below.
    }
    return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream answered count_tokens without a whole input_tokens' } };
  },
};
