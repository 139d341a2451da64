import type { JsonObject, Operation } from '../../core/canonical.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { invalidRequest } from '../../core/request-issue.js';
import { type RequestFields, commonChat } from './common-chat.js';
import { REQUEST_SCHEMAS } from './request-schemas.js';
import { SSE_DONE, sseData } from '../../sse/sse-writer.js';
import type { InboundDialect, InboundRequest, StreamEncoder } from '../inbound-dialect.js';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** OpenAI streaming: data-only SSE, `[DONE]` at the end, `{"error":…}` in band. Stateless, so shared. */
const OPENAI_STREAM: StreamEncoder = {
  chunk: (chunk, raw) => (raw === undefined ? sseData(chunk) : `data: ${raw}\n\n`),
  end: () => SSE_DONE,
  // A GatewayError is the gateway's own verdict (a guardrail's block): written as it is.
  failure: (failure) =>
    sseData((failure instanceof GatewayError ? failure : new GatewayError(502, 'upstream_stream_error', 'server_error', `upstream stream failed: ${failure.message}`)).toBody()),
  cut: (reason) => sseData(new GatewayError(429, 'budget_exceeded', 'insufficient_quota', reason).toBody()),
};

/** The request schema's verdict: its fields, or its messages as a 400. */
function validated(op: Operation, body: JsonObject): RequestFields {
  const parsed = REQUEST_SCHEMAS[op].safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error, body);
  return parsed.data;
}

const passThrough = (body: JsonObject): JsonObject => body;
const openAiStream = (): StreamEncoder => OPENAI_STREAM;

/** POST /v1/chat/completions, /v1/completions and /v1/embeddings: the canonical form is OpenAI's own. */
export function openAiDialect(op: Operation): InboundDialect {
  return {
    name: `openai-${op}`,
    cacheable: true,
    parse(body, receivedAtSeconds): InboundRequest {
      if (!isObject(body)) throw errors.badRequest('request body must be a JSON object');
      // Anthropic's top-level system prompt: every provider would drop it without a word, and the
      // model would answer without its instructions.
      if (op === 'chat' && body.system !== undefined) {
        throw errors.badRequest('`system` is not a chat completions field (it is the Anthropic Messages API\'s): send it as a message with role "system", or POST /v1/messages', 'system');
      }
      const data = (op === 'chat' ? commonChat(body) : undefined) ?? validated(op, body);
      const stream = op !== 'embeddings' && data.stream === true;
      const request = { op, body, stream, clientWantsUsage: stream && data.stream_options?.include_usage === true, createdAt: receivedAtSeconds };
      return { request, responseBody: passThrough, streamEncoder: openAiStream };
    },
    errorBody: (err) => err.toBody(),
  };
}
