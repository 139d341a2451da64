import type { CanonicalRequest, JsonObject } from '../../core/canonical.js';
import { refusesSampling } from '../shared/openai-reasoning.js';

/**
 * Canonical sampling fields that OpenAI's own API (and Azure OpenAI's) does not take: the gateway
 * reads them for the providers that do (Anthropic, Gemini, Bedrock), and OpenAI answers 400
 * "Unrecognized request argument supplied" to them. Self-hosted OpenAI-compatible servers (vLLM)
 * accept them, so only these two provider types drop them.
 */
const NOT_ON_OPENAI = ['top_k'] as const;

/** Sampling parameters OpenAI's reasoning models refuse (shared/openai-reasoning.ts). */
const NOT_ON_REASONING = ['temperature', 'top_p'] as const;

/**
 * A /v1/messages request's sampling parameters are dropped for a reasoning `model`: its client
 * cannot know the route ends at one, and Claude's clients send temperature as a matter of course,
 * so the request would be OpenAI's 400. A request from an OpenAI API (chat, or Responses translated
 * to chat, whose body may be `extended` too) keeps them and gets OpenAI's error, which names the
 * parameter, as it would from OpenAI. Before, any extended body lost them, a Responses request with
 * images in a tool result included.
 */
function dropsSampling(req: CanonicalRequest, model: string): boolean {
  const body = req.body;
  return req.translatedFrom === 'messages' && req.op === 'chat' && (body.temperature !== undefined || body.top_p !== undefined) && refusesSampling(model);
}

/**
 * The canonical request as OpenAI's platform takes it: non-OpenAI sampling fields dropped (and, for
 * a translated request to a reasoning `model`, temperature and top_p, see dropsSampling) and, on
 * chat, the output cap sent as `max_completion_tokens` (`max_tokens` is deprecated there and refused
 * by reasoning models: "Unsupported parameter: 'max_tokens' … Use 'max_completion_tokens'"). A client's
 * own `max_completion_tokens` wins over its `max_tokens`, as every adapter reads them. Legacy
 * completions keep `max_tokens`, the only cap that endpoint has.
 */
export function forOpenAiPlatform(req: CanonicalRequest, completionCap: boolean, model: string): CanonicalRequest {
  const body = req.body;
  const renameCap = completionCap && req.op === 'chat' && body.max_tokens !== undefined;
  const noSampling = dropsSampling(req, model);
  if (!renameCap && !noSampling && !NOT_ON_OPENAI.some((field) => body[field] !== undefined)) return req;
  // Copied key by key rather than spread and `delete`d: a deleted property turns the object into a
  // dictionary, slower for every later spread and for JSON.stringify, on every OpenAI request.
  const out: JsonObject = {};
  for (const key of Object.keys(body)) {
    if ((renameCap && key === 'max_tokens') || (NOT_ON_OPENAI as readonly string[]).includes(key)) continue;
    if (noSampling && (NOT_ON_REASONING as readonly string[]).includes(key)) continue;
    out[key] = body[key];
  }
  if (renameCap && (out.max_completion_tokens === undefined || out.max_completion_tokens === null)) out.max_completion_tokens = body.max_tokens;
  return { ...req, body: out };
}
