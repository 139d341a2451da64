import { createVerify, generateKeyPairSync } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type Behaviour, embeddingVector, type Emulator, header, type ReceivedRequest, slowStream, sse, startEmulator, writeInPieces } from './emulator-server.js';

// Gemini generateContent emulator, in two URL/auth shapes: the Gemini API (x-goog-api-key) and
// Vertex AI (Bearer token that its own OAuth token endpoint minted from a service-account JWT).

const USAGE = { promptTokenCount: 20, cachedContentTokenCount: 5, candidatesTokenCount: 6, thoughtsTokenCount: 2, totalTokenCount: 28 };

function rpcError(res: ServerResponse, code: number, status: string, message: string, details?: unknown[]): void {
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } }));
}

/** Gemini 3 models sign their function calls and refuse a call sent back without its signature. */
function signsCalls(model: string): boolean {
  return model.startsWith('gemini-3');
}

/** The signature the emulator gives a call: standard base64 with `+`, `/` and padding, as Gemini's. */
export function thoughtSignatureFor(name: string): string {
  return Buffer.concat([Buffer.from([0xfb, 0xff, 0xbf]), Buffer.from(`sig:${name}`)]).toString('base64');
}

function checkBody(req: ReceivedRequest, model: string, tiers = false): string[] {
  const p: string[] = [];
  const b = req.body;
  const contents = Array.isArray(b.contents) ? (b.contents as Record<string, unknown>[]) : [];
  if (contents.length === 0) p.push('contents empty');
  contents.forEach((c, i) => {
    if (c.role !== 'user' && c.role !== 'model') p.push(`contents.${i}.role is ${String(c.role)}`);
    const parts = Array.isArray(c.parts) ? (c.parts as Record<string, unknown>[]) : [];
    if (parts.length === 0) p.push(`contents.${i} has no parts`);
    for (const part of parts) {
      const fc = part.functionCall as Record<string, unknown> | undefined;
      if (fc !== undefined && signsCalls(model) && part.thoughtSignature !== thoughtSignatureFor(String(fc.name))) {
        p.push(`Function call \`${String(fc.name)}\` in the \`${i}.\` content block is missing a \`thought_signature\`.`);
      }
      const fr = part.functionResponse as Record<string, unknown> | undefined;
      if (fr !== undefined && (typeof fr.name !== 'string' || typeof fr.response !== 'object')) p.push('functionResponse needs name and an object response');
    }
  });
  if (b.model !== undefined || b.messages !== undefined) p.push('OpenAI fields in a Gemini body');
  // generateContent refuses members it does not know (400 "Invalid JSON payload received. Unknown name").
  for (const key of Object.keys(b)) if (!GENERATE_CONTENT_MEMBERS.has(key) && !(tiers && TIER_MEMBERS.has(key))) p.push(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  const tier = b.service_tier ?? b.serviceTier;
  if (tiers && tier !== undefined && !['STANDARD', 'FLEX', 'PRIORITY'].includes(String(tier))) p.push(`Invalid value at 'service_tier' (type.googleapis.com/google.ai.generativelanguage.v1beta.ServiceTier), "${String(tier)}"`);
  p.push(...thinkingProblems(b.generationConfig, model));
  const tools = Array.isArray(b.tools) ? (b.tools as Record<string, unknown>[]) : [];
  for (const t of tools) {
    for (const d of (t.functionDeclarations as Record<string, unknown>[] | undefined) ?? []) {
      const params = JSON.stringify(d.parameters ?? {});
      if (params.includes('additionalProperties') || params.includes('$schema')) p.push(`function ${String(d.name)} parameters use keywords Gemini rejects`);
    }
  }
  return p;
}

/** The Gemini API's tier member (REST takes either spelling); Vertex AI's generateContent has none. */
const TIER_MEMBERS: ReadonlySet<string> = new Set(['service_tier', 'serviceTier']);

/** The tier a Gemini API answer says it ran at (x-gemini-service-tier), for a request that asked for one. */
function tierHeader(req: ReceivedRequest): Record<string, string> {
  const tier = req.body.service_tier ?? req.body.serviceTier;
  return typeof tier === 'string' ? { 'x-gemini-service-tier': tier.toLowerCase() } : {};
}

/** A generateContent request's members (Vertex adds labels). */
const GENERATE_CONTENT_MEMBERS: ReadonlySet<string> = new Set(['contents', 'systemInstruction', 'generationConfig', 'tools', 'toolConfig', 'safetySettings', 'cachedContent', 'labels', 'model', 'messages']);

/**
 * What Gemini refuses in a thinkingConfig: any on models that do not think (before 2.5), a budget
 * outside the model's range (Pro 128–32,768 and never 0, Flash-Lite 512–24,576, Flash 0–24,576;
 * -1 is dynamic everywhere), a field it does not know.
 */
function thinkingProblems(config: unknown, model: string): string[] {
  const t = (config as { thinkingConfig?: Record<string, unknown> } | undefined)?.thinkingConfig;
  if (t === undefined) return [];
  if (/gemini-(1\.|2\.0)/.test(model)) return [`thinking is not supported by ${model}`];
  const p: string[] = [];
  for (const key of Object.keys(t)) if (!['thinkingBudget', 'includeThoughts', 'thinkingLevel'].includes(key)) p.push(`Unknown name "${key}" at 'generation_config.thinking_config'`);
  const budget = t.thinkingBudget;
  if (budget !== undefined) {
    const [min, max] = /-pro/.test(model) ? [128, 32_768] : /flash-lite/.test(model) ? [512, 24_576] : [0, 24_576];
    if (typeof budget !== 'number' || !Number.isInteger(budget) || (budget !== -1 && budget !== 0 && (budget < min || budget > max)) || (budget === 0 && min > 0 && !/flash-lite/.test(model))) {
      p.push(`The thinking budget ${String(budget)} is invalid. Please choose a value between ${min} and ${max}.`);
    }
  }
  if (t.includeThoughts !== undefined && typeof t.includeThoughts !== 'boolean') p.push('includeThoughts must be a boolean');
  return p;
}

/** Thought summaries come back only when the request asks for them (includeThoughts). */
function includesThoughts(req: ReceivedRequest): boolean {
  return (req.body.generationConfig as { thinkingConfig?: { includeThoughts?: unknown } } | undefined)?.thinkingConfig?.includeThoughts === true;
}

function parts(b: Behaviour, model: string): Record<string, unknown>[] {
  if (b.kind === 'thinking') return [{ text: b.thinking, thought: true }, { text: b.text }];
  if (b.kind === 'tool') return [{ functionCall: { name: b.name, args: b.args }, ...(signsCalls(model) ? { thoughtSignature: thoughtSignatureFor(b.name) } : {}) }];
  if (b.kind === 'json') return [{ text: JSON.stringify(b.value) }];
  return [{ text: b.kind === 'text' ? (b.text ?? 'Hello from Gemini') : '' }];
}

function response(b: Behaviour, ps: Record<string, unknown>[], finish: boolean, usage: boolean): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { role: 'model', parts: ps }, index: 0 };
  if (finish) candidate.finishReason = b.kind === 'safety' ? 'SAFETY' : 'STOP';
  const out: Record<string, unknown> = { candidates: [candidate], modelVersion: 'gemini-2.0-flash-001', responseId: 'resp_emulated' };
  if (usage) out.usageMetadata = USAGE;
  return out;
}

async function answer(req: ReceivedRequest, b: Behaviour, res: ServerResponse, streaming: boolean, model: string, headers: Record<string, string> = {}): Promise<void> {
  switch (b.kind) {
    case 'rate-limit':
      return rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0s' },
      ]);
    case 'overloaded':
      return rpcError(res, 503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 'server-error':
      return rpcError(res, 500, 'INTERNAL', 'An internal error has occurred.');
    case 'bad-request':
      return rpcError(res, 400, 'INVALID_ARGUMENT', b.message ?? 'Invalid value at generation_config.temperature');
    case 'context-length':
      return rpcError(res, 400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).');
    default:
      break;
  }
  const thoughts = includesThoughts(req);
  if (!streaming) {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(response(b, parts(b, model).filter((p) => thoughts || p.thought !== true), true, true)));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', ...headers });
  // Gemini sends nothing while it thinks; then every chunk carries the usage so far.
  if (b.kind === 'slow-stream') return slowStream(res, b, (word) => sse(undefined, response(b, [{ text: word }], false, true)));
  const events: string[] = [];
  if (b.kind === 'stream-error') {
    // As Gemini: every chunk carries the usage so far (thinking included).
    events.push(sse(undefined, response(b, [{ text: 'Partial' }], false, true)));
    events.push(sse(undefined, { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
  } else if (b.kind === 'thinking') {
    // As Gemini: thought summaries in events of their own, before the answer's text.
    if (thoughts) {
      events.push(sse(undefined, response(b, [{ text: b.thinking.slice(0, 5), thought: true }], false, true)));
      events.push(sse(undefined, response(b, [{ text: b.thinking.slice(5), thought: true }], false, true)));
    }
    events.push(sse(undefined, response(b, [{ text: b.text }], true, true)));
  } else if (b.kind === 'text') {
    const text = b.text ?? 'Hello from Gemini';
    events.push(sse(undefined, response(b, [{ text: text.slice(0, 4) }], false, true)));
    events.push(sse(undefined, response(b, [{ text: text.slice(4) }], true, true)));
  } else {
    events.push(sse(undefined, response(b, parts(b, model), true, true)));
  }
  // Gemini separates events with CRLF pairs as often as with LF pairs.
  await writeInPieces(res, events.join('').replaceAll('\n\n', '\r\n\r\n'));
  res.end();
}

function modelCall(path: string, prefix: string): { model: string; method: string; query: string } | undefined {
  if (!path.startsWith(prefix)) return undefined;
  const [rest = '', query = ''] = path.slice(prefix.length).split('?');
  const colon = rest.lastIndexOf(':');
  if (colon === -1) return undefined;
  return { model: decodeURIComponent(rest.slice(0, colon)), method: rest.slice(colon + 1), query };
}

/** Errors first; then the vectors in the endpoint's shape. */
function embed(req: ReceivedRequest, b: Behaviour, res: ServerResponse, problems: string[], model: string, vertex: boolean): void {
  if (b.kind === 'rate-limit') return rpcError(res, 429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).');
  if (b.kind === 'server-error') return rpcError(res, 500, 'INTERNAL', 'An internal error has occurred.');
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
  if (vertex) {
    // Vertex AI text embeddings: :predict with instances [{content}] and parameters.outputDimensionality.
    const instances = Array.isArray(req.body.instances) ? (req.body.instances as { content?: unknown }[]) : [];
    if (instances.length === 0 || instances.some((i) => typeof i.content !== 'string')) problems.push('predict needs instances [{content: string}]');
    const dims = (req.body.parameters as { outputDimensionality?: number } | undefined)?.outputDimensionality;
    const predictions = instances.map((i) => {
      const text = String(i.content);
      return { embeddings: { values: embeddingVector(text, dims), statistics: { truncated: false, token_count: Math.ceil(text.length / 4) } } };
    });
    res.end(JSON.stringify({ predictions, metadata: { billableCharacterCount: instances.reduce((n, i) => n + String(i.content).length, 0) } }));
    return;
  }
  // Gemini API: :batchEmbedContents with requests [{model: "models/{model}", content: {parts: [{text}]}}]; no token counts.
  const requests = Array.isArray(req.body.requests) ? (req.body.requests as { model?: unknown; content?: { parts?: { text?: unknown }[] }; outputDimensionality?: number }[]) : [];
  if (requests.length === 0) problems.push('batchEmbedContents without requests');
  for (const r of requests) {
    if (r.model !== `models/${model}`) problems.push(`batch request model ${String(r.model)} is not models/${model}`);
    if (typeof r.content?.parts?.[0]?.text !== 'string') problems.push('batch request without content.parts[0].text');
  }
  res.end(JSON.stringify({ embeddings: requests.map((r) => ({ values: embeddingVector(String(r.content?.parts?.[0]?.text), r.outputDimensionality) })) }));
}

function route(req: ReceivedRequest, prefix: string, problems: string[]): { streaming: boolean; model: string } | undefined {
  const call = modelCall(req.url, prefix);
  if (call === undefined || req.method !== 'POST') {
    problems.push(`unexpected ${req.method} ${req.url}`);
    return undefined;
  }
  if (call.method === 'streamGenerateContent' && call.query !== 'alt=sse') problems.push(`stream call without alt=sse: ${req.url}`);
  if (!['generateContent', 'streamGenerateContent', 'batchEmbedContents', 'predict'].includes(call.method)) problems.push(`unknown method ${call.method}`);
  return { streaming: call.method === 'streamGenerateContent', model: call.model };
}

function embedCall(req: ReceivedRequest, prefix: string): { model: string; method: string } | undefined {
  const call = modelCall(req.url, prefix);
  return call !== undefined && (call.method === 'batchEmbedContents' || call.method === 'predict') ? call : undefined;
}

export async function startGeminiEmulator(apiKey = 'gemini-test-key'): Promise<Emulator> {
  return startEmulator(async (req, b, res, problems) => {
    const r = route(req, '/v1beta/models/', problems);
    if (r === undefined) return rpcError(res, 404, 'NOT_FOUND', 'not found');
    // As the Gemini API answers: no key at all is 403 PERMISSION_DENIED; a wrong one is 400
    // INVALID_ARGUMENT with an ErrorInfo reason API_KEY_INVALID (not a 401/403).
    const key = header(req, 'x-goog-api-key');
    if (key === undefined) return rpcError(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    if (key !== apiKey) {
      return rpcError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
    }
    const embedding = embedCall(req, '/v1beta/models/');
    if (embedding !== undefined) {
      if (embedding.method !== 'batchEmbedContents') problems.push(`the Gemini API has no ${embedding.method} method for embeddings`);
      return embed(req, b, res, problems, embedding.model, false);
    }
    const p = checkBody(req, r.model, true);
    if (b.kind === 'json' && (req.body.generationConfig as { responseMimeType?: string } | undefined)?.responseMimeType !== 'application/json') p.push('a JSON answer was scripted but responseMimeType is not application/json');
    problems.push(...p);
    if (p.length > 0) return rpcError(res, 400, 'INVALID_ARGUMENT', p.join('; '));
    if (b.kind === 'safety' && !r.streaming) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] }, usageMetadata: { promptTokenCount: 20, totalTokenCount: 20 } }));
      return;
    }
    return answer(req, b, res, r.streaming, r.model, tierHeader(req));
  });
}

export interface VertexEmulator extends Emulator {
  /** Service-account JSON key whose token_uri points at this emulator. */
  serviceAccountKey: string;
  tokensIssued: () => number;
}

export async function startVertexEmulator(project = 'my-project', location = 'us-central1'): Promise<VertexEmulator> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = new Set<string>();
  let url = '';
  const clientEmail = 'tollgate@my-project.iam.gserviceaccount.com';
  const tokenProblems: string[] = [];
  const tokenEndpoint = (req: ReceivedRequest, res: ServerResponse): boolean => {
    if (req.url !== '/token') return false;
    const form = new URLSearchParams(req.rawBody.toString('utf8'));
    const jwt = form.get('assertion') ?? '';
    const [h = '', c = '', s = ''] = jwt.split('.');
    const verified = createVerify('RSA-SHA256').update(`${h}.${c}`).verify(publicKey, Buffer.from(s, 'base64url'));
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8') || '{}') as Record<string, unknown>;
    const head = JSON.parse(Buffer.from(h, 'base64url').toString('utf8') || '{}') as Record<string, unknown>;
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') tokenProblems.push('wrong grant_type');
    if (!verified) tokenProblems.push('JWT signature does not verify');
    if (head.alg !== 'RS256') tokenProblems.push('JWT alg is not RS256');
    if (claims.iss !== clientEmail) tokenProblems.push('JWT iss is not the client email');
    if (claims.aud !== `${url}/token`) tokenProblems.push(`JWT aud is ${String(claims.aud)}`);
    if (claims.scope !== 'https://www.googleapis.com/auth/cloud-platform') tokenProblems.push('JWT scope is not cloud-platform');
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp - claims.iat > 3600) tokenProblems.push('JWT lifetime wrong');
    if (tokenProblems.length > 0) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: tokenProblems.join('; ') }));
      return true;
    }
    const token = `ya29.emulated-${issued.size + 1}`;
    issued.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
    return true;
  };
  const emulator = await startEmulator(async (req, b, res, problems) => {
    problems.push(...tokenProblems.splice(0));
    const r = route(req, `/v1/projects/${project}/locations/${location}/publishers/google/models/`, problems);
    if (r === undefined) return rpcError(res, 404, 'NOT_FOUND', 'not found');
    const auth = header(req, 'authorization') ?? '';
    if (!auth.startsWith('Bearer ') || !issued.has(auth.slice('Bearer '.length))) {
      problems.push('request without a token minted by the token endpoint');
      return rpcError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    const embedding = embedCall(req, `/v1/projects/${project}/locations/${location}/publishers/google/models/`);
    if (embedding !== undefined) {
      if (embedding.method !== 'predict') problems.push(`Vertex AI text embeddings use :predict, not ${embedding.method}`);
      return embed(req, b, res, problems, embedding.model, true);
    }
    const p = checkBody(req, r.model);
    problems.push(...p);
    if (p.length > 0) return rpcError(res, 400, 'INVALID_ARGUMENT', p.join('; '));
    return answer(req, b, res, r.streaming, r.model);
  }, tokenEndpoint);
  url = emulator.url;
  const serviceAccountKey = JSON.stringify({
    type: 'service_account',
    project_id: project,
    private_key_id: 'key-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    token_uri: `${url}/token`,
  });
  return { ...emulator, serviceAccountKey, tokensIssued: () => issued.size };
}
