import type { JsonShapeLimits } from '../../core/json-shape.js';
import type { AdapterTarget, ByteStreamTransformer, ProviderAdapter, StreamTransformer } from '../types.js';
import type { CanonicalRequest, HeaderMap, ParseResult, StreamStep, UpstreamHttpRequest } from '../../core/canonical.js';
import { RequestTranslationError } from '../types.js';
import { toOpenAiEmbeddings } from '../shared/openai-embeddings.js';
import { embeddingsBody, parseEmbeddings } from './bedrock-embeddings.js';
import { classifyBedrockError } from './bedrock-errors.js';
import { bedrockReasonsUnseen, toConverseRequest } from './bedrock-request.js';
import { fromConverseResponse, readingOf } from './bedrock-response.js';
import { BedrockStreamTransformer } from './bedrock-stream.js';
import type { BedrockConverseResponse } from './bedrock-wire.js';
import { signRequest } from '../../config/sigv4.js';
import { randomUUID } from 'node:crypto';

/** Bedrock signs as service "bedrock", also on the bedrock-runtime host. */
export const SIGNING_SERVICE = 'bedrock';

/**
 * A completion id per answer: Bedrock's own request id (what AWS support asks for), or a random one
 * where the upstream sent none. Before, a stream's id was its start second, shared by every stream
 * started in that second, which clients that key answers by id took for one answer.
 */
function completionId(headers: HeaderMap): string {
  const requestId = headers['x-amzn-requestid'];
  return `chatcmpl-${typeof requestId === 'string' && requestId !== '' ? requestId : randomUUID()}`;
}

const NOT_SSE: StreamStep = { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'bedrock streams are AWS event streams, not SSE' } };

function modelOf(req: CanonicalRequest): string {
  return typeof req.body.model === 'string' ? req.body.model : 'bedrock';
}

/**
 * Amazon Bedrock Converse API: `POST {base}/model/{modelId}/converse` (or `/converse-stream`), SigV4
 * signed with the provider's AWS credentials, or a Bedrock API key as a bearer token.
 */
export const bedrockAdapter: ProviderAdapter = {
  buildRequest(req: CanonicalRequest, target: AdapterTarget): UpstreamHttpRequest {
    if (req.op === 'completions') throw new RequestTranslationError('completions is not supported by bedrock providers; use chat completions');
    const bedrock = target.settings?.bedrock;
    if (bedrock === undefined) throw new Error('bedrock provider without a region');
    const embeddings = req.op === 'embeddings';
    const body = JSON.stringify(embeddings ? embeddingsBody(target.model, req.body) : toConverseRequest(req.body, target.model, bedrock.modelFamilies));
    // The model id (it may be an ARN) is one path segment: ':' and '/' are percent-encoded.
    const action = embeddings ? 'invoke' : req.stream ? 'converse-stream' : 'converse';
    const url = `${target.baseUrl}/model/${encodeURIComponent(target.model)}/${action}`;
    const headers: Record<string, string> = {
      ...target.headers,
      'content-type': 'application/json',
      accept: req.stream ? 'application/vnd.amazon.eventstream' : 'application/json',
    };
    if (bedrock.credentials !== undefined) {
      if (target.nowMs === undefined) throw new Error('bedrock request signing needs the attempt clock');
      const c = bedrock.credentials;
      const credentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey.reveal(), ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken.reveal() }) };
      const signed = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body, region: bedrock.region, service: SIGNING_SERVICE }, credentials, target.nowMs);
      Object.assign(headers, signed.headers);
    } else if (target.apiKey !== undefined && target.apiKey !== '') {
      headers.authorization = `Bearer ${target.apiKey}`;
    }
    return { url, method: 'POST', headers, body };
  },

  parseResponse(req: CanonicalRequest, status: number, headers: HeaderMap, bodyText: string): ParseResult {
    if (status < 200 || status >= 300) return { ok: false, failure: classifyBedrockError(status, headers, bodyText) };
    let body: BedrockConverseResponse;
    try {
      body = JSON.parse(bodyText) as BedrockConverseResponse;
    } catch {
      return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned a body that is not JSON' } };
    }
    if (req.op === 'embeddings') {
      const embedded = parseEmbeddings(body, headers);
      if (embedded === undefined) return { ok: false, failure: { kind: 'ServerError', status: 502, message: 'upstream returned something other than embeddings' } };
      return { ok: true, ...toOpenAiEmbeddings(req, embedded.vectors, modelOf(req), embedded.inputTokens) };
    }
    const { body: out, usage } = fromConverseResponse(body, modelOf(req), completionId(headers), req.createdAt ?? 0, readingOf(req.body));
    return { ok: true, body: out, usage };
  },

  classifyError: classifyBedrockError,

  createStreamTransformer(): StreamTransformer {
    return { onEvent: () => NOT_SSE, onEnd: () => NOT_SSE };
  },

  reasonsUnseen: (req, model, settings) => req.op === 'chat' && bedrockReasonsUnseen(req.body, model, settings?.bedrock?.modelFamilies),

  createByteStreamTransformer(req: CanonicalRequest, headers: HeaderMap, shape?: JsonShapeLimits): ByteStreamTransformer {
    return new BedrockStreamTransformer(completionId(headers), modelOf(req), req.clientWantsUsage, req.createdAt ?? 0, readingOf(req.body), shape);
  },
};
