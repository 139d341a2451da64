import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { answerObjects, ObjectStore } from './openai-objects.js';

// The OpenAI endpoints the gateway forwards untranslated (images, audio, files, batches,
// moderations, and the account's objects of openai-objects.ts) and vLLM's rerank, score and
// tokenize, as their wire formats are: JSON bodies, multipart uploads (parsed with the platform's
// own multipart parser) and binary answers.

export interface PassThroughRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Bytes of the body that had arrived when the emulator answered the first byte (uploads stream). */
  form?: FormData;
}

export interface PassThroughEmulator {
  url: string;
  requests: PassThroughRequest[];
  problems: string[];
  /** While set, every request is answered with this status and an OpenAI error (a failing upstream). */
  failWith: number | undefined;
  /**
   * While set, every request is refused with 401 repeating the credential it carried, in the body
   * and the `x-echo-authorization` header (as a proxy before an upstream may), plain or gzipped (whatever was asked).
   */
  echoCredential: 'plain' | 'gzip' | undefined;
  /** While set, requests are read and never answered (a hung upstream). */
  hang: boolean;
  /** While set, requests whose path (and query) it matches are read and never answered: one endpoint hung, the others served. */
  hangOn: RegExp | undefined;
  /**
   * What each `image_generation.completed` event of a streamed images answer with `n` > 1 reports:
   * `per-image` (the default) its own image's usage, the prompt repeated on each; `whole-answer` the
   * whole answer's usage, repeated on each (the shape a gateway that sums the events over-counts).
   */
  imageStreamUsage: 'per-image' | 'whole-answer';
  /** The account's objects (vector stores, uploads, conversations, videos, ...): openai-objects.ts. */
  objects: ObjectStore;
  /**
   * The account's files' contents by id: each upload (the first is `file-abc`, then `file-2`, ...)
   * and what a test puts here. GET /v1/files/{id}/content serves them (a batch's input file); an id
   * not here is a 404, but `file-abc`, which is `{"custom_id":"1"}` until one is uploaded.
   */
  files: Map<string, Buffer>;
  close(): Promise<void>;
}

/** Azure OpenAI's shape of the same endpoints: deployment and resource paths, api-version, the api-key header. */
export interface AzureShape {
  deployment: string;
  apiVersion: string;
}

/** An Azure path (`/openai/deployments/{d}/images/generations?api-version=…`) → the OpenAI one, or a problem. */
function fromAzure(url: string, azure: AzureShape, problems: string[]): string {
  const parsed = new URL(url, 'http://emulator');
  // The v1 API (stored responses, the account's objects) takes no api-version, and OpenAI's paths under /openai/v1.
  if (parsed.pathname.startsWith('/openai/v1/')) {
    if (parsed.searchParams.has('api-version')) problems.push(`${url}: the v1 API takes no api-version`);
    return `/v1/${parsed.pathname.slice('/openai/v1/'.length)}${parsed.search}`;
  }
  if (parsed.searchParams.get('api-version') !== azure.apiVersion) problems.push(`${url}: api-version is not ${azure.apiVersion}`);
  parsed.searchParams.delete('api-version');
  const query = parsed.searchParams.toString();
  const deployment = `/openai/deployments/${encodeURIComponent(azure.deployment)}/`;
  let path: string;
  if (parsed.pathname.startsWith(deployment) && /^(images|audio)\//.test(parsed.pathname.slice(deployment.length))) path = `/v1/${parsed.pathname.slice(deployment.length)}`;
  else if (/^\/openai\/(files|batches)/.test(parsed.pathname)) path = `/v1/${parsed.pathname.slice('/openai/'.length)}`;
  else {
    problems.push(`${url}: not an Azure OpenAI path of deployment ${azure.deployment}`);
    path = parsed.pathname;
  }
  return query === '' ? path : `${path}?${query}`;
}

const FILE = { id: 'file-abc', object: 'file', bytes: 0, created_at: 1_700_000_000, filename: 'batch.jsonl', purpose: 'batch', status: 'processed' };
const BATCH = {
  id: 'batch_abc',
  object: 'batch',
  endpoint: '/v1/chat/completions',
  errors: null,
  input_file_id: 'file-abc',
  completion_window: '24h',
  status: 'validating',
  output_file_id: null,
  error_file_id: null,
  created_at: 1_700_000_000,
  request_counts: { total: 0, completed: 0, failed: 0 },
  metadata: null,
};

/** As OpenAI's API: gzip when the client accepts it (node's fetch, and so the openai client, does). */
function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  if (String(res.req.headers['accept-encoding'] ?? '').includes('gzip')) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_upstream', 'content-encoding': 'gzip' });
    res.end(gzipSync(text));
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_upstream' });
  res.end(text);
}

async function formOf(req: PassThroughRequest): Promise<FormData> {
  return new Response(req.body, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
}

async function answer(req: PassThroughRequest, res: ServerResponse, problems: string[], imageStreamUsage: PassThroughEmulator['imageStreamUsage'], objects: ObjectStore, files: Map<string, Buffer>): Promise<void> {
  const content = /^\/v1\/files\/([^/?]+)\/content$/.exec(req.url.split('?')[0] ?? '');
  if (req.method === 'GET' && content !== null) {
    const id = content[1] ?? '';
    const stored = files.get(id) ?? (id === FILE.id ? Buffer.from('{"custom_id":"1"}\n') : undefined);
    if (stored === undefined) return json(res, 404, { error: { message: `No such File object: ${id}`, type: 'invalid_request_error', param: 'id', code: null } });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.length) });
    res.end(stored);
    return;
  }
  const path = req.url.split('?')[0] ?? '';
  const body = (): Record<string, unknown> => JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
  switch (`${req.method} ${path}`) {
    case 'POST /v1/images/generations': {
      const b = body();
      // A real image is hundreds of kilobytes of base64: a prompt asking for "large" ones gets ~600 KB each.
      const image = (): string => Buffer.from(`image for ${String(b.prompt)} by ${String(b.model)}${String(b.prompt).includes('large') ? 'x'.repeat(450_000) : ''}`).toString('base64');
      const n = typeof b.n === 'number' ? b.n : 1;
      // 10 prompt tokens, 100 output tokens an image; the answer's usage counts the prompt once.
      const imageUsage = (images: number): Record<string, unknown> => ({ input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 100 * images, total_tokens: 10 + 100 * images });
      // A prompt asking for "slow" ones makes each image take 400 ms more, as a real upstream makes them in turn.
      const slow = String(b.prompt).includes('slow');
      const made = (): Promise<void> => (slow ? new Promise((r) => setTimeout(r, 400)) : Promise.resolve());
      // A prompt asking for "late" ones is answered 300 ms late, headers and all (a client may leave before).
      if (String(b.prompt).includes('late')) await new Promise((r) => setTimeout(r, 300));
      if (b.stream === true) {
        const usage = imageUsage(imageStreamUsage === 'whole-answer' ? n : 1);
        // gpt-image streaming (openai's ImageGenStreamEvent): `partial_images` previews, then the
        // final image with its usage, written in pieces as a real upstream's frames arrive.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_upstream' });
        const meta = { created_at: 1_700_000_000, size: '1024x1024', quality: 'high', background: 'opaque', output_format: 'png' };
        for (let i = 0; i < n; i++) {
          if (i > 0) await made();
          for (let k = 0; k < (typeof b.partial_images === 'number' ? b.partial_images : 0); k++) {
            res.write(`event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: image(), partial_image_index: k, ...meta })}\n\n`);
          }
          const completed = `event: image_generation.completed\ndata: ${JSON.stringify({ type: 'image_generation.completed', b64_json: image(), ...meta, usage })}\n\n`;
          for (let at = 0; at < completed.length; at += 16_384) res.write(completed.slice(at, at + 16_384));
        }
        res.end();
        return;
      }
      if (slow) {
        // The images first, the usage (last, as OpenAI writes it) once they are all made.
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_upstream' });
        res.write(`{"created":1700000000,"data":[{"b64_json":"${image()}"}`);
        await made();
        res.end(`],"usage":${JSON.stringify(imageUsage(1))}}`);
        return;
      }
      return json(res, 200, {
        created: 1_700_000_000,
        data: Array.from({ length: n }, () => ({ b64_json: image(), revised_prompt: 'a "url": and a "b64_json" in words' })),
        usage: imageUsage(n),
      });
    }
    case 'POST /v1/audio/transcriptions': {
      req.form = await formOf(req);
      const file = req.form.get('file');
      if (!(file instanceof File)) problems.push('transcription without a file part');
      const size = file instanceof File ? file.size : 0;
      const model = String(req.form.get('model'));
      // whisper-1 reports the audio's duration; the token models report tokens. In `text` format, nothing but the text.
      const usage = model.includes('whisper') ? { type: 'duration', seconds: 12 } : { type: 'tokens', input_tokens: 14, output_tokens: 3, total_tokens: 17 };
      if (req.form.get('stream') === 'true' && !model.includes('whisper')) {
        // gpt-4o-transcribe streamed (openai's TranscriptionStreamEvent): text deltas, then
        // transcript.text.done with the whole text and the answer's usage, its audio tokens apart.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_upstream' });
        for (const delta of ['heard ', `${size} bytes `, `with ${model}`]) res.write(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta })}\n\n`);
        const tokens = { type: 'tokens', input_tokens: 14, input_token_details: { text_tokens: 2, audio_tokens: 12 }, output_tokens: 45, total_tokens: 59 };
        res.end(`data: ${JSON.stringify({ type: 'transcript.text.done', text: `heard ${size} bytes with ${model}`, usage: tokens })}\n\n`);
        return;
      }
      if (req.form.get('response_format') === 'text') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`heard ${size} bytes with ${model}\n`);
        return;
      }
      return json(res, 200, { text: `heard ${size} bytes with ${model}`, usage });
    }
    case 'POST /v1/audio/translations': {
      // As OpenAI answers a whisper-1 translation in the default `json` format: the text only, no usage, no duration.
      req.form = await formOf(req);
      return json(res, 200, { text: 'Hello, this is the English translation.' });
    }
    case 'POST /v1/images/edits': {
      req.form = await formOf(req);
      const image = req.form.get('image');
      if (!(image instanceof File)) problems.push('image edit without an image part');
      const model = String(req.form.get('model'));
      // dall-e-2 reports no usage; gpt-image reports tokens.
      const usage = model.startsWith('gpt-image') ? { usage: { input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 100, total_tokens: 110 } } : {};
      return json(res, 200, { created: 1_700_000_000, data: [{ b64_json: Buffer.from(`${String(req.form.get('prompt'))} by ${model}`).toString('base64') }], ...usage });
    }
    case 'POST /v1/audio/speech': {
      const b = body();
      if (b.stream_format === 'sse') {
        // gpt-4o-mini-tts streamed: audio deltas, then speech.audio.done with the answer's usage.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_upstream' });
        for (let i = 0; i < 3; i++) res.write(`data: ${JSON.stringify({ type: 'speech.audio.delta', audio: Buffer.alloc(20_000, i).toString('base64') })}\n\n`);
        res.end(`data: ${JSON.stringify({ type: 'speech.audio.done', usage: { input_tokens: 7, output_tokens: 300, total_tokens: 307 } })}\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.end(Buffer.from(`mp3:${String(b.input)}`));
      return;
    }
    case 'POST /v1/files': {
      req.form = await formOf(req);
      const file = req.form.get('file');
      const id = files.has(FILE.id) ? `file-${files.size + 1}` : FILE.id;
      files.set(id, file instanceof File ? Buffer.from(await file.arrayBuffer()) : Buffer.alloc(0));
      return json(res, 200, { ...FILE, id, bytes: file instanceof File ? file.size : 0, purpose: String(req.form.get('purpose')) });
    }
    case 'GET /v1/files':
      return json(res, 200, { object: 'list', data: [FILE], has_more: false, first_id: FILE.id, last_id: FILE.id });
    case 'GET /v1/files/file-abc':
      return json(res, 200, FILE);
    case 'DELETE /v1/files/file-abc':
      return json(res, 200, { id: FILE.id, object: 'file', deleted: true });
    case 'POST /v1/batches':
      return json(res, 200, { ...BATCH, ...body() });
    case 'GET /v1/batches/batch_abc':
      return json(res, 200, BATCH);
    case 'GET /v1/batches':
      return json(res, 200, { object: 'list', data: [BATCH], has_more: false, first_id: BATCH.id, last_id: BATCH.id });
    case 'POST /v1/batches/batch_abc/cancel':
      return json(res, 200, { ...BATCH, status: 'cancelling' });
    case 'POST /v1/moderations': {
      const b = body();
      return json(res, 200, { id: 'modr-1', model: String(b.model ?? 'omni-moderation-latest'), results: [{ flagged: false, categories: {}, category_scores: {}, category_applied_input_types: {} }] });
    }
    case 'POST /v1/rerank': {
      const b = body();
      const docs = Array.isArray(b.documents) ? (b.documents as string[]) : [];
      return json(res, 200, { id: 'rerank-1', model: b.model, usage: { total_tokens: 12 }, results: docs.map((text, index) => ({ index, document: { text }, relevance_score: 1 / (index + 1) })) });
    }
    case 'POST /v1/score':
      return json(res, 200, { id: 'score-1', object: 'list', created: 1, model: body().model, data: [{ index: 0, object: 'score', score: 0.9 }], usage: { prompt_tokens: 9, total_tokens: 9 } });
    case 'POST /v1/responses/compact': {
      // Compaction runs the model over the conversation and reports a Response's usage.
      const b = body();
      const usage = { input_tokens: 180_000, input_tokens_details: { cached_tokens: 20_000 }, output_tokens: 6_000, output_tokens_details: { reasoning_tokens: 2_000 }, total_tokens: 186_000 };
      return json(res, 200, { id: 'resp_c1', object: 'response.compaction', created_at: 1_700_000_000, model: b.model, output: [{ id: 'cmp_1', type: 'compaction', encrypted_content: 'opaque' }], usage });
    }
    case 'POST /v1/responses/input_tokens':
      return json(res, 200, { object: 'response.input_tokens', input_tokens: 42 });
    case 'POST /tokenize': {
      const b = body();
      return json(res, 200, { count: 3, max_model_len: 4096, tokens: [1, 2, 3], model: b.model });
    }
    default:
      if (await answerObjects(objects, req, res, json)) return;
      problems.push(`unexpected ${req.method} ${req.url}`);
      return json(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', param: null, code: null } });
  }
}

/**
 * Starts the emulator on a free loopback port; every request must carry `Bearer <apiKey>` (OpenAI),
 * or with `azure` the `api-key` header and Azure's paths (recorded as received, answered as OpenAI's).
 */
export async function startPassThroughEmulator(apiKey: string, azure?: AzureShape): Promise<PassThroughEmulator> {
  const requests: PassThroughRequest[] = [];
  const problems: string[] = [];
  const emulator = { failWith: undefined as number | undefined, echoCredential: undefined as 'plain' | 'gzip' | undefined, hang: false, hangOn: undefined as RegExp | undefined, imageStreamUsage: 'per-image' as PassThroughEmulator['imageStreamUsage'], objects: new ObjectStore(), files: new Map<string, Buffer>() };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const received: PassThroughRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts) };
      requests.push(received);
      const authorized = azure === undefined ? req.headers.authorization === `Bearer ${apiKey}` : req.headers['api-key'] === apiKey && req.headers.authorization === undefined;
      if (!authorized) {
        json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
        return;
      }
      if (emulator.echoCredential !== undefined) {
        const body = Buffer.from(JSON.stringify({ error: { message: `Incorrect API key provided: ${String(req.headers.authorization)}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
        // A proxy in front of an upstream may compress whatever the gateway asked for.
        const gzip = emulator.echoCredential === 'gzip';
        res.writeHead(401, { 'content-type': 'application/json', 'x-echo-authorization': String(req.headers.authorization), ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(gzip ? gzipSync(body) : body);
        return;
      }
      if (emulator.hang || emulator.hangOn?.test(req.url ?? '') === true) return;
      if (emulator.failWith !== undefined) {
        json(res, emulator.failWith, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
        return;
      }
      if (azure !== undefined) received.url = fromAzure(received.url, azure, problems);
      // Azure fine-tunes a base model (`gpt-4o-mini-2024-07-18`), deployed after: a deployment's name is not one.
      if (azure !== undefined && received.method === 'POST' && received.url === '/v1/fine_tuning/jobs') {
        const model = (JSON.parse(received.body.toString('utf8')) as { model?: unknown }).model;
        if (model === azure.deployment) {
          problems.push(`a fine-tuning job names deployment ${azure.deployment} as its model, not a base model`);
          json(res, 400, { error: { message: `The specified base model does not support fine-tuning: ${String(model)}`, type: 'invalid_request_error', param: 'model', code: 'invalidPayload' } });
          return;
        }
      }
      answer(received, res, problems, emulator.imageStreamUsage, emulator.objects, emulator.files).catch((err: unknown) => {
        problems.push(String(err));
        if (!res.headersSent) json(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } });
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(emulator, {
    url: `http://127.0.0.1:${port}`,
    requests,
    problems,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
