/**
 * An emulator of the OpenAI moderation API (POST /v1/moderations) as its own process, speaking its
 * wire format exactly: the request as the API takes it (model, input as a string, a list of strings
 * or a list of text/image_url parts), the answer with every category, score and applied input type
 * of the current API, and OpenAI's error shape.
 *
 *   node --import tsx test/guardrail-services/moderation-emulator.ts
 *
 * Listens on 127.0.0.1 (PORT, default any free port) and prints `listening <url>` once ready.
 * MODERATION_API_KEY (default sk-moderation-test) is the only key it accepts.
 * A text is flagged for a category when it contains one of that category's trigger words below.
 * GET /received → {"requests": [...bodies...], "problems": [...what was wrong with them...]}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json as send, serve } from './serve.js';

const CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/instructions',
  'self-harm/intent',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;
type Category = (typeof CATEGORIES)[number];

/** Categories that also apply to images (the API's category_applied_input_types). */
const IMAGE_CATEGORIES = new Set<Category>(['self-harm', 'self-harm/instructions', 'self-harm/intent', 'sexual', 'violence', 'violence/graphic']);

const TRIGGERS: Partial<Record<Category, string[]>> = {
  violence: ['attack them', 'kill'],
  'self-harm/intent': ['hurt myself'],
  harassment: ['you idiot'],
};

const MODELS = new Set(['omni-moderation-latest', 'omni-moderation-2024-09-26', 'text-moderation-latest', 'text-moderation-stable']);
const key = process.env.MODERATION_API_KEY ?? 'sk-moderation-test';
const requests: unknown[] = [];
const problems: string[] = [];
let counter = 0;

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, value, { 'x-request-id': `req_${counter}` });
}

function error(res: ServerResponse, status: number, message: string, type: string, param: string | null = null, code: string | null = null): void {
  problems.push(message);
  json(res, status, { error: { message, type, param, code } });
}

/** The texts of `input` (string, string[], or multimodal parts), or why it is not valid. */
function inputTexts(input: unknown): { texts: string[]; images: boolean[] } | string {
  if (typeof input === 'string') return { texts: [input], images: [false] };
  if (!Array.isArray(input) || input.length === 0) return "'input' must be a string, an array of strings or an array of content parts";
  if (input.every((i) => typeof i === 'string')) return { texts: input as string[], images: input.map(() => false) };
  // Multimodal: one result for the whole list of parts.
  let text = '';
  let image = false;
  for (const part of input as unknown[]) {
    const p = part as { type?: unknown; text?: unknown; image_url?: { url?: unknown } } | null;
    if (p?.type === 'text' && typeof p.text === 'string') text += p.text;
    else if (p?.type === 'image_url' && typeof p.image_url?.url === 'string') image = true;
    else return 'each content part must be {type: text, text} or {type: image_url, image_url: {url}}';
  }
  return { texts: [text], images: [image] };
}

function result(text: string, image: boolean) {
  const lower = text.toLowerCase();
  const categories = {} as Record<Category, boolean>;
  const scores = {} as Record<Category, number>;
  const applied = {} as Record<Category, string[]>;
  for (const c of CATEGORIES) {
    const hit = (TRIGGERS[c] ?? []).some((t) => lower.includes(t));
    categories[c] = hit;
    scores[c] = hit ? 0.97 : 0.0001;
    applied[c] = image && IMAGE_CATEGORIES.has(c) ? ['text', 'image'] : ['text'];
  }
  return { flagged: Object.values(categories).some(Boolean), categories, category_scores: scores, category_applied_input_types: applied };
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  if (req.method === 'GET' && req.url === '/received') return json(res, 200, { requests, problems });
  if (req.url !== '/v1/moderations') return error(res, 404, `Invalid URL (${req.method} ${req.url})`, 'invalid_request_error');
  if (req.method !== 'POST') return error(res, 405, `Invalid method (${req.method})`, 'invalid_request_error');
  if (req.headers.authorization !== `Bearer ${key}`) return error(res, 401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return error(res, 400, 'Content-Type must be application/json', 'invalid_request_error');
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
  }
  requests.push(body);
  const unknown = Object.keys(body).filter((k) => k !== 'model' && k !== 'input');
  if (unknown.length > 0) return error(res, 400, `Unrecognized request argument supplied: ${unknown.join(', ')}`, 'invalid_request_error');
  const model = body.model ?? 'omni-moderation-latest';
  if (typeof model !== 'string' || !MODELS.has(model)) return error(res, 400, `Invalid value for 'model' = ${String(model)}.`, 'invalid_request_error', 'model');
  const input = inputTexts(body.input);
  if (typeof input === 'string') return error(res, 400, input, 'invalid_request_error', 'input');
  counter++;
  json(res, 200, { id: `modr-${counter}`, model: model === 'omni-moderation-latest' ? 'omni-moderation-2024-09-26' : model, results: input.texts.map((t, i) => result(t, input.images[i] ?? false)) });
}

serve(handle);
