import { createHash, createHmac } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import { type Behaviour, embeddingVector, type Emulator, header, type ReceivedRequest, startEmulator, writeInPieces } from './emulator-server.js';

// Bedrock Converse / ConverseStream emulator. It recomputes the SigV4 signature from the canonical
// request the way AWS does (its own implementation, not the gateway's) and streams the binary AWS
// event-stream framing with real CRC32s (zlib's).

export interface AwsTestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

// 5 cache writes, 2 of them kept for an hour (cacheDetails, sorted 1h first as Bedrock sends them).
const USAGE = { inputTokens: 10, cacheReadInputTokens: 5, cacheWriteInputTokens: 5, cacheDetails: [{ ttl: '1h', inputTokens: 2 }, { ttl: '5m', inputTokens: 3 }], outputTokens: 8, totalTokens: 28 };

const sha256 = (d: string | Buffer): string => createHash('sha256').update(d).digest('hex');
const hmac = (k: string | Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Returns why the signature is wrong, or undefined when AWS would accept it. */
function verifySigV4(req: ReceivedRequest, creds: AwsTestCredentials, region: string, now: number): string | undefined {
  const auth = header(req, 'authorization') ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (m === null) return `malformed Authorization header: ${auth}`;
  const [, akid, day, signedRegion, service, signedHeaders = '', signature] = m;
  if (akid !== creds.accessKeyId) return 'unknown access key';
  if (signedRegion !== region || service !== 'bedrock') return `credential scope ${signedRegion}/${service} is not ${region}/bedrock`;
  const amzDate = header(req, 'x-amz-date') ?? '';
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(when) || Math.abs(now - when) > 5 * 60_000) return 'x-amz-date missing or skewed by more than 5 minutes';
  if (!amzDate.startsWith(day ?? '-')) return 'credential date does not match x-amz-date';
  const names = signedHeaders.split(';');
  for (const required of ['host', 'x-amz-date']) if (!names.includes(required)) return `${required} is not signed`;
  if (creds.sessionToken !== undefined && (header(req, 'x-amz-security-token') !== creds.sessionToken || !names.includes('x-amz-security-token'))) {
    return 'session token missing or unsigned';
  }
  const [path = '/', query = ''] = req.url.split('?');
  const canonicalUri = path.split('/').map((seg) => rfc3986(seg)).join('/');
  const canonicalQuery = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => p.split('=').map((x) => rfc3986(decodeURIComponent(x))).join('='))
    .sort()
    .join('&');
  const canonicalHeaders = names.map((n) => `${n}:${(header(req, n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256(req.rawBody)].join('\n');
  const scope = `${day}/${region}/bedrock/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day ?? ''), region), 'bedrock'), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  return expected === signature ? undefined : `signature mismatch; canonical request was:\n${canonicalRequest}`;
}

/** One event-stream message: prelude, prelude CRC, string headers, JSON payload, message CRC. */
export function eventStreamMessage(headers: Record<string, string>, payload: unknown): Buffer {
  const headerBytes = Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const n = Buffer.from(name);
      const v = Buffer.from(value);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(v.length);
      return Buffer.concat([Buffer.from([n.length]), n, Buffer.from([7]), len, v]);
    }),
  );
  const body = Buffer.from(JSON.stringify(payload));
  const total = 12 + headerBytes.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, headerBytes, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(withoutCrc));
  return Buffer.concat([withoutCrc, crc]);
}

const event = (type: string, payload: unknown): Buffer =>
  eventStreamMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload);
const exception = (type: string, message: string): Buffer =>
  eventStreamMessage({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, { message });

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'req-emulated' });
  res.end(JSON.stringify({ message }));
}

/** What the emulator signs Claude's reasoning with, and the encrypted reasoning it returns (base64, as Converse's JSON carries bytes). */
const SIGNATURE = 'EqQBbedrockSigned';
const REDACTED = Buffer.from('encrypted reasoning').toString('base64');

/** Claude on Bedrock thinks when additionalModelRequestFields.thinking says so; what Claude refuses in it. */
function thinkingOf(req: ReceivedRequest, modelId: string, p: string[]): boolean {
  const t = (req.body.additionalModelRequestFields as { thinking?: { type?: unknown; budget_tokens?: unknown } } | undefined)?.thinking;
  if (t === undefined) return false;
  if (!/anthropic\.claude-(3-7|sonnet-4|opus-4|haiku-4)/.test(modelId)) {
    p.push(`The model ${modelId} does not support the additional field thinking`);
    return false;
  }
  const max = (req.body.inferenceConfig as { maxTokens?: unknown } | undefined)?.maxTokens;
  if (t.type === 'enabled') {
    if (typeof t.budget_tokens !== 'number' || t.budget_tokens < 1024 || typeof max !== 'number' || t.budget_tokens >= max) p.push('thinking.budget_tokens must be ≥ 1024 and less than max_tokens');
    return true;
  }
  if (t.type === 'adaptive') return true;
  if (t.type !== 'disabled') p.push(`thinking.type is ${String(t.type)}`);
  return false;
}

/**
 * The keys each model family's native request takes from additionalModelRequestFields (Converse
 * merges them into it), as its Bedrock model-parameters page documents; `thinking` is thinkingOf's.
 * Ids the emulator does not place (a provisioned throughput's ARN, say) are not checked.
 */
function additionalKeys(modelId: string): { top: string[]; nested?: Record<string, string[]>; openai?: true } | undefined {
  if (/anthropic\.|claude/.test(modelId)) return { top: ['top_k', 'anthropic_beta'] };
  // Nova 2 thinks when asked (reasoningConfig); the first Nova models have no such field.
  if (/amazon\.nova-2/.test(modelId)) return { top: ['inferenceConfig', 'reasoningConfig'], nested: { inferenceConfig: ['topK'], reasoningConfig: ['type', 'maxReasoningEffort'] } };
  if (/amazon\.nova/.test(modelId)) return { top: ['inferenceConfig'], nested: { inferenceConfig: ['topK'] } };
  if (/cohere\.command-r/.test(modelId)) return { top: ['k', 'p', 'frequency_penalty', 'presence_penalty', 'seed', 'preamble', 'documents'] };
  if (/mistral\.(mistral-7b|mixtral-8x7b|mistral-small-2402|mistral-large-2402)/.test(modelId)) return { top: ['top_k'] };
  if (/openai\.gpt-oss/.test(modelId)) return { top: ['frequency_penalty', 'presence_penalty', 'seed', 'reasoning_effort', 'logit_bias', 'n', 'user', 'service_tier'] };
  // OpenAI's own models (GPT-5 and later) take Responses-style fields, and refuse others in OpenAI's words.
  if (/openai\./.test(modelId)) return { top: ['reasoning'], openai: true };
  if (/meta\.llama|deepseek\.|ai21\.|mistral\.|amazon\.titan|qwen\./.test(modelId)) return { top: [] };
  return undefined;
}

/** Converse's 400 for a key the model's request does not know, in its words. */
const extraneous = (path: string, key: string): string =>
  `The model returned the following errors: Malformed input request: ${path}: extraneous key [${key}] is not permitted, please reformat your input and try again.`;

/** Converse's 400 for a field an OpenAI model does not know: OpenAI's own error, inside Converse's message. */
const unknownParameter = (key: string): string =>
  `The model returned the following errors: ${JSON.stringify({ error: { code: 'unknown_parameter', message: `Unknown parameter: '${key}'.`, param: key, type: 'invalid_request_error' } })}`;

function checkAdditionalFields(req: ReceivedRequest, modelId: string, p: string[]): void {
  const fields = req.body.additionalModelRequestFields;
  const allowed = additionalKeys(modelId);
  if (fields === undefined || allowed === undefined) return;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return void p.push('additionalModelRequestFields is not an object');
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'thinking') continue;
    if (!allowed.top.includes(key)) {
      p.push(allowed.openai === true ? unknownParameter(key) : extraneous('#', key));
      continue;
    }
    if (key === 'reasoningConfig') {
      const r = value as { type?: unknown; maxReasoningEffort?: unknown };
      if (r.type !== 'enabled' && r.type !== 'disabled') p.push(`reasoningConfig.type is ${String(r.type)}`);
      if (r.maxReasoningEffort !== undefined && !['low', 'medium', 'high'].includes(String(r.maxReasoningEffort))) p.push(`reasoningConfig.maxReasoningEffort is ${String(r.maxReasoningEffort)}`);
      if (r.type === 'enabled' && r.maxReasoningEffort === undefined) p.push('reasoningConfig.maxReasoningEffort is required when reasoning is enabled');
    }
    if (key === 'reasoning_effort' && !['low', 'medium', 'high'].includes(String(value))) {
      p.push(`The model returned the following errors: ${JSON.stringify({ error: { code: 'invalid_value', message: `Invalid value: '${String(value)}'. Supported values are: 'low', 'medium', and 'high'.`, param: key, type: 'invalid_request_error' } })}`);
    }
    const nested = allowed.nested?.[key];
    if (nested !== undefined && typeof value === 'object' && value !== null) for (const k of Object.keys(value)) if (!nested.includes(k)) p.push(extraneous(`#/${key}`, k));
  }
}

function checkBody(req: ReceivedRequest, modelId: string): string[] {
  const p: string[] = [];
  const thinking = thinkingOf(req, modelId, p);
  checkAdditionalFields(req, modelId, p);
  const messages = Array.isArray(req.body.messages) ? (req.body.messages as Record<string, unknown>[]) : [];
  if (messages.length === 0) p.push('messages empty');
  messages.forEach((m, i) => {
    if (m.role !== 'user' && m.role !== 'assistant') p.push(`messages.${i}.role is ${String(m.role)}`);
    if (i > 0 && messages[i - 1]?.role === m.role) p.push(`messages.${i} repeats role`);
    for (const block of (m.content as Record<string, unknown>[] | undefined) ?? []) {
      if (Object.keys(block).length !== 1) p.push('a content block must have exactly one member');
      const image = block.image as { format?: string; source?: { bytes?: unknown } } | undefined;
      if (image !== undefined && (typeof image.source?.bytes !== 'string' || !['png', 'jpeg', 'gif', 'webp'].includes(image.format ?? ''))) p.push('bad image block');
      // Converse: a document has a known format, bytes, and a name of letters, digits, single spaces, hyphens, parentheses and brackets.
      const document = block.document as { format?: string; name?: unknown; source?: { bytes?: unknown } } | undefined;
      if (document !== undefined) {
        if (typeof document.source?.bytes !== 'string' || !['pdf', 'csv', 'doc', 'docx', 'xls', 'xlsx', 'html', 'txt', 'md'].includes(document.format ?? '')) p.push('bad document block');
        if (typeof document.name !== 'string' || !/^[A-Za-z0-9\-()[\] ]+$/.test(document.name) || /\s\s/.test(document.name)) p.push(`document name ${String(document.name)} has characters Converse refuses`);
        if (m.role !== 'user') p.push(`messages.${i}: document outside a user message`);
      }
      // Claude checks its reasoning sent back by its signature, and keeps it to assistant turns.
      const r = block.reasoningContent as { reasoningText?: { signature?: unknown }; redactedContent?: unknown } | undefined;
      if (r !== undefined && m.role !== 'assistant') p.push(`messages.${i}: reasoningContent outside an assistant message`);
      if (r?.reasoningText !== undefined && r.reasoningText.signature !== SIGNATURE) p.push(`messages.${i}: reasoning without a valid signature`);
      if (r !== undefined && r.reasoningText === undefined && r.redactedContent !== REDACTED) p.push(`messages.${i}: redactedContent altered`);
    }
  });
  // With thinking on, Claude wants the last assistant turn of a tool loop to start with its reasoning.
  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
  const lastBlocks = (lastAssistant?.content as Record<string, unknown>[] | undefined) ?? [];
  if (thinking && lastBlocks.some((b) => b.toolUse !== undefined) && lastBlocks[0]?.reasoningContent === undefined) {
    p.push('Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.');
  }
  if (req.body.model !== undefined) p.push('model in the body (it belongs in the URL)');
  const toolBlocks = messages.some((m) => ((m.content as Record<string, unknown>[] | undefined) ?? []).some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
  if (toolBlocks && req.body.toolConfig === undefined) p.push('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  if (req.body.requestMetadata !== undefined) requestMetadata(req.body.requestMetadata, p);
  const tier = req.body.serviceTier as { type?: unknown } | undefined;
  if (tier !== undefined && (typeof tier !== 'object' || tier === null || !['priority', 'default', 'flex', 'reserved'].includes(String(tier.type)))) {
    p.push(`serviceTier ${JSON.stringify(tier)} is not one of {type: priority | default | flex | reserved}`);
  }
  return p;
}

/**
 * Provisioned throughputs and application inference profiles the emulated account has, by ARN, with
 * the model each serves: their ARNs name no model, but Bedrock knows it and refuses what that model does.
 */
export const PROVISIONED_MODELS: Readonly<Record<string, string>> = {
  'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-nova1': 'amazon.nova-pro-v1:0',
  'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-nova2': 'amazon.nova-2-lite-v1:0',
  'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pt-llama': 'meta.llama3-1-70b-instruct-v1:0',
  'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/app-claude': 'anthropic.claude-3-5-haiku-20241022-v1:0',
};

/** Converse's constraints on requestMetadata: at most 16 string pairs, keys 1–256 and values 0–256 characters of its set. */
function requestMetadata(value: unknown, p: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return void p.push('requestMetadata is not a map');
  const entries = Object.entries(value);
  if (entries.length > 16) p.push(`requestMetadata has ${entries.length} entries (at most 16)`);
  for (const [key, v] of entries) {
    if (!/^[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}$/.test(key)) p.push(`requestMetadata key ${JSON.stringify(key)} fails the key pattern`);
    if (typeof v !== 'string' || !/^[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}$/.test(v)) p.push(`requestMetadata.${key} value fails the value pattern`);
  }
}

/** InvokeModel for embedding models: Titan (`inputText`, one text) or Cohere (`texts`, `input_type`); token count also in a header. */
function invokeEmbeddings(req: ReceivedRequest, modelId: string, b: Behaviour, res: ServerResponse, problems: string[]): void {
  if (b.kind === 'rate-limit') return error(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
  const body = req.body;
  let payload: Record<string, unknown>;
  let tokens: number;
  if (modelId.includes('amazon.titan-embed-text')) {
    if (typeof body.inputText !== 'string') problems.push('Titan embeddings need inputText');
    if (body.texts !== undefined || body.input !== undefined) problems.push('Titan embeddings take inputText only');
    const text = String(body.inputText);
    tokens = Math.ceil(text.length / 4);
    payload = { embedding: embeddingVector(text, typeof body.dimensions === 'number' ? body.dimensions : 8), inputTextTokenCount: tokens };
  } else if (modelId.includes('cohere.embed')) {
    const texts = Array.isArray(body.texts) ? (body.texts as unknown[]) : [];
    if (texts.length === 0 || texts.some((t) => typeof t !== 'string')) problems.push('Cohere embeddings need texts: string[]');
    if (!['search_document', 'search_query', 'classification', 'clustering'].includes(String(body.input_type))) problems.push(`Cohere input_type ${String(body.input_type)} is not valid`);
    tokens = texts.reduce((n: number, t) => n + Math.ceil(String(t).length / 4), 0);
    payload = { id: 'emb-emulated', embeddings: texts.map((t) => embeddingVector(String(t))), response_type: 'embeddings_floats', texts };
  } else {
    return error(res, 400, 'ValidationException', `model ${modelId} does not support this request`);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'req-emulated', 'x-amzn-bedrock-input-token-count': String(tokens) });
  res.end(JSON.stringify(payload));
}

export async function startBedrockEmulator(creds: AwsTestCredentials, region = 'us-east-1'): Promise<Emulator> {
  return startEmulator(async (req, b, res, problems) => {
    const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(req.url);
    if (m === null || req.method !== 'POST') {
      problems.push(`unexpected ${req.method} ${req.url}`);
      return error(res, 404, 'ResourceNotFoundException', 'not found');
    }
    const why = verifySigV4(req, creds, region, Date.now());
    if (why !== undefined) {
      problems.push(why);
      return error(res, 403, 'InvalidSignatureException', why);
    }
    if (m[2] === 'invoke') return invokeEmbeddings(req, decodeURIComponent(m[1] ?? ''), b, res, problems);
    const named = decodeURIComponent(m[1] ?? '');
    const modelId = PROVISIONED_MODELS[named] ?? named;
    const p = checkBody(req, modelId);
    const thinks = b.kind === 'thinking' && thinkingOf(req, modelId, []);
    problems.push(...p);
    if (p.length > 0) return error(res, 400, 'ValidationException', p.join('; '));
    switch (b.kind) {
      case 'rate-limit':
        return error(res, 429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
      case 'overloaded':
        return error(res, 503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.');
      case 'server-error':
        return error(res, 500, 'InternalServerException', 'The server encountered an error processing your request.');
      case 'bad-request':
        return error(res, 400, 'ValidationException', b.message ?? 'The provided inference configurations are invalid');
      case 'context-length':
        return error(res, 400, 'ValidationException', 'Input is too long for requested model.');
      default:
        break;
    }
    // A JSON answer is a call of the tool the request forces (toolChoice.tool, or with toolChoice.any the last tool).
    const toolConfig = req.body.toolConfig as { tools?: { toolSpec?: { name?: string } }[]; toolChoice?: { tool?: { name?: string }; any?: unknown } } | undefined;
    const offered = (toolConfig?.tools ?? []).map((t) => t.toolSpec?.name);
    const forced = toolConfig?.toolChoice?.tool?.name ?? (toolConfig?.toolChoice?.any !== undefined ? offered[offered.length - 1] : undefined);
    if (b.kind === 'json' && (forced === undefined || !offered.includes(forced))) problems.push('a JSON answer was scripted but the request forces no tool it offers');
    const call = b.kind === 'tool' ? { name: b.name, args: b.args } : b.kind === 'json' ? { name: forced ?? 'unknown', args: b.value } : undefined;
    if (b.kind === 'text' && b.stop !== undefined && !((req.body.inferenceConfig as { stopSequences?: string[] } | undefined)?.stopSequences ?? []).includes(b.stop)) {
      problems.push(`scripted stop sequence ${b.stop} is not in inferenceConfig.stopSequences`);
    }
    const stopReason = b.kind === 'text' && b.stop !== undefined ? 'stop_sequence' : call !== undefined ? 'tool_use' : b.kind === 'safety' ? 'guardrail_intervened' : 'end_turn';
    // A stream that breaks does so after some content (before any, the gateway fails it over).
    const text = b.kind === 'text' ? (b.text ?? 'Hello from Bedrock') : b.kind === 'thinking' ? b.text : b.kind === 'tool' ? 'Let me check.' : b.kind === 'stream-error' ? 'Partial' : '';
    // Reasoning (when the request turned thinking on) first, as Claude answers: signed, then the encrypted block.
    const reasoning: Record<string, unknown>[] = [];
    if (thinks && b.kind === 'thinking') {
      reasoning.push({ reasoningContent: { reasoningText: { text: b.thinking, signature: SIGNATURE } } });
      if (b.redacted === true) reasoning.push({ reasoningContent: { redactedContent: REDACTED } });
    }
    if (m[2] === 'converse') {
      const content: unknown[] = [...reasoning, ...(text === '' ? [] : [{ text }])];
      if (call !== undefined) content.push({ toolUse: { toolUseId: 'tooluse_01', name: call.name, input: call.args } });
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'req-emulated' });
      // Converse's answer names the tier that served it (serviceTier); the emulator names it for a request that asked for one.
      const served = req.body.serviceTier === undefined ? {} : { serviceTier: req.body.serviceTier };
      res.end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason, usage: USAGE, metrics: { latencyMs: 42 }, ...served }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'req-emulated' });
    const frames: Buffer[] = [event('messageStart', { role: 'assistant' })];
    reasoning.forEach((r, contentBlockIndex) => {
      const block = r.reasoningContent as { reasoningText?: { text: string; signature: string }; redactedContent?: string };
      if (block.reasoningText !== undefined) {
        const { text: thought, signature } = block.reasoningText;
        frames.push(event('contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { text: thought.slice(0, 6) } } }));
        frames.push(event('contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { text: thought.slice(6) } } }));
        frames.push(event('contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { signature } } }));
      } else frames.push(event('contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { redactedContent: block.redactedContent } } }));
      frames.push(event('contentBlockStop', { contentBlockIndex }));
    });
    const textIndex = reasoning.length;
    if (text !== '') {
      frames.push(event('contentBlockDelta', { contentBlockIndex: textIndex, delta: { text: text.slice(0, 5) } }));
      frames.push(event('contentBlockDelta', { contentBlockIndex: textIndex, delta: { text: text.slice(5) } }));
      frames.push(event('contentBlockStop', { contentBlockIndex: textIndex }));
    }
    if (b.kind === 'stream-error') {
      frames.push(exception('throttlingException', 'Too many tokens, please wait before trying again.'));
      await writeInPieces(res, Buffer.concat(frames));
      res.end();
      return;
    }
    if (call !== undefined) {
      const json = JSON.stringify(call.args);
      const toolIndex = textIndex + 1;
      frames.push(event('contentBlockStart', { contentBlockIndex: toolIndex, start: { toolUse: { toolUseId: 'tooluse_01', name: call.name } } }));
      frames.push(event('contentBlockDelta', { contentBlockIndex: toolIndex, delta: { toolUse: { input: json.slice(0, 4) } } }));
      frames.push(event('contentBlockDelta', { contentBlockIndex: toolIndex, delta: { toolUse: { input: json.slice(4) } } }));
      frames.push(event('contentBlockStop', { contentBlockIndex: toolIndex }));
    }
    frames.push(event('messageStop', { stopReason }));
    frames.push(event('metadata', { usage: USAGE, metrics: { latencyMs: 42 } }));
    await writeInPieces(res, Buffer.concat(frames));
    res.end();
  });
}

export type { Behaviour };
