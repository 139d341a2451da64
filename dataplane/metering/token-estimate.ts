import type { JsonObject } from '../core/canonical.js';
import { pdfPages } from './pdf-pages.js';

/**
 * A cheap, tokenizer-free estimate: about four bytes of UTF-8 per token (English text and code;
 * bytes rather than characters so that CJK text, ~1 token per character, is not under-counted).
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/**
 * Tokens one image part is allowed when the target's model is not one of MODEL_IMAGE_TOKENS, an
 * upper bound of what a current model bills for it (the gateway does not decode images):
 * - OpenAI patch-priced models (gpt-4.1-mini/nano, o4-mini, gpt-5-mini/nano): 32 px patches, at most
 *   1,536, times a per-model multiplier up to 2.46 (gpt-4.1-nano): 3,779; they ignore `detail: low`.
 *   gpt-5.4 and later: 2,500 patches at `high` (× 1.2: 3,000) and 10,000 at `original` (12,000).
 * - OpenAI tile-priced models: gpt-4o 85 + 170 a 512 px tile, 8 tiles at most (1,445; 85 at low);
 *   o1 75 + 150 a tile (1,275); o3 as gpt-4o.
 * - Anthropic: width × height / 750; ~1,600 at the 1.15 MP most models take, ~5,000 at the 3.75 MP
 *   Claude Opus 4.7 takes (its 28 px patches: 4,900 at most); `detail` is not sent.
 * - Gemini: 258 a 768 px tile; 1,120 at `media_resolution` high (Gemini 3).
 * So 5,000 at any detail but `original` (`low` too: only tile-priced OpenAI models honour it), and
 * 12,000 at `original`. Models that bill more are in MODEL_IMAGE_TOKENS, held per target
 * (promptTokensOn). Before, 1,600 (85 at low), under all of these but the tile-priced ones.
 */
export const IMAGE_TOKENS = { other: 5000, original: 12_000 } as const;

/** Tokens one image is billed at most on a model, by its detail (`other`: `high`, `auto` or none). */
export interface ImageBound {
  readonly low: number;
  readonly other: number;
  readonly original: number;
}

/**
 * Models whose images are billed more than IMAGE_TOKENS, by family (the start of the upstream's
 * model name after any `provider/` prefix): a target running one is held its bound for each image
 * (never less than IMAGE_TOKENS). gpt-4o-mini bills an image 33.3× the tokens gpt-4o does, to price
 * it alike: 2,833 + 5,667 a 512 px tile, 8 tiles at most (2,048 × 768 after scaling): 48,169; 2,833
 * at `detail: low`; it has no `original`. Every other model OpenAI publishes a formula for bills at
 * most IMAGE_TOKENS (see there). An Azure target whose model is a deployment name that does not say
 * its model is held IMAGE_TOKENS (docs/governance.md: name the model there, the deployment in
 * `azure.deployment`).
 */
const MODEL_IMAGE_TOKENS: readonly (readonly [family: string, bound: ImageBound])[] = [['gpt-4o-mini', { low: 2833, other: 48_169, original: 48_169 }]];

/** The image bound of a model (MODEL_IMAGE_TOKENS), if it bills more than IMAGE_TOKENS. */
export function modelImageBound(model: string): ImageBound | undefined {
  const name = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  for (const [family, bound] of MODEL_IMAGE_TOKENS) if (name.startsWith(family)) return bound;
  return undefined;
}

/**
 * Tokens one image at `detail` is held at on `model`: IMAGE_TOKENS by its detail, or the model's
 * bound where it bills more (modelImageBound), as promptTokensOn holds an image part. For images
 * counted one by one (a Realtime session's items).
 */
export function imageTokensOn(model: string, detail: unknown): number {
  const base = detail === 'original' ? IMAGE_TOKENS.original : IMAGE_TOKENS.other;
  const bound = modelImageBound(model);
  if (bound === undefined) return base;
  return Math.max(base, detail === 'low' ? bound.low : detail === 'original' ? bound.original : bound.other);
}

/**
 * What the context-window guard and routing rules count an image as: the fewest tokens a common
 * model bills for one (OpenAI's `detail: low`, a small image elsewhere). IMAGE_TOKENS bounds spend
 * from above, but a window check that read it would refuse requests that fit: 26 video frames at
 * `detail: low` (about 2,200 tokens on gpt-4o) would need "130,000" of a 128k window. The guard is
 * there to skip targets that surely cannot take a request, so it counts images from below; one
 * that does not fit after all gets the upstream's own error.
 */
export const IMAGE_WINDOW_TOKENS = 85;

const IMAGE_PART_TYPES = new Set(['image_url', 'input_image', 'image']);
/** The field of each image part type that carries the image (a URL, a data URI, a source with base64). */
const IMAGE_PAYLOAD: Readonly<Record<string, string>> = { image_url: 'image_url', input_image: 'image_url', image: 'source' };
/** Any media part type (IMAGE_PART_TYPES and input_audio) as a JSON string token. */
const MEDIA_TYPE_TOKEN = /"(?:image_url|input_image|image|input_audio)"/;

/**
 * Audio input is billed by duration (OpenAI: about 10 tokens a second), not by its base64 text:
 * one token per 1,600 bytes of audio is 10 a second at 128 kbit/s (compressed audio), and more
 * than that for uncompressed PCM/WAV, so never fewer than billed for common formats.
 */
export const AUDIO_BYTES_PER_TOKEN = 1600;

/** The text of one PDF page a provider may bill beside the page's image (see UNREAD_FILE_TOKENS). */
export const PDF_PAGE_TEXT_TOKENS = 5000;

/**
 * Tokens a file the request names but does not carry (a chat `file` part by `file_id`, a Responses
 * `input_file` by `file_id` or `file_url`) may be billed: its contents are not read. Providers bill
 * a PDF by its pages, each as its text and an image of it: OpenAI up to 100 pages a request, Claude
 * 100 (600 on 1M-token models), Gemini 1,000 at 258 to 560 a page. 100 pages at 10,000 (an image
 * at IMAGE_TOKENS and PDF_PAGE_TEXT_TOKENS of text) is 1,000,000. Budgets hold it clamped to what
 * the target's context window leaves of the prompt (a prompt past the window is refused, not
 * billed); it is not in the prompt estimate itself, which rate limits and the context-window check
 * also read. An inline PDF whose pages cannot be counted (pdf-pages.ts) is held so too.
 */
export const UNREAD_FILE_TOKENS = 1_000_000;

/** A file part's inline data (chat `file.file_data`, Responses `file_data`), if it carries any. */
function inlineFileData(part: JsonObject): string | undefined {
  const data = part.type === 'file' ? (isObject(part.file) ? part.file.file_data : undefined) : part.type === 'input_file' ? part.file_data : undefined;
  return typeof data === 'string' ? data : undefined;
}

/** Whether a part is a file part (chat `file`, Responses `input_file`). */
const isFilePart = (part: JsonObject): boolean => part.type === 'file' || part.type === 'input_file';

/**
 * What an inline PDF is estimated at besides its base64 text (which counts as text, bytes / 4, as
 * every value does): each page's image at IMAGE_TOKENS.other, and its text at PDF_PAGE_TEXT_TOKENS
 * a page where that is more than the base64 text. Before, the base64 text only: a compact page of
 * 3 KB was about 1,000 tokens, and is billed an image of up to 3,779 (OpenAI) or ~1,600 to 5,000
 * (Claude) besides its text. Counted as image tokens: the context-window guard, which counts images
 * from below, reads the base64 text only, as before. A PDF whose pages cannot be counted is told as
 * a file not read (UNREAD_FILE_TOKENS); any other data counts as its text only.
 */
function inlinePdf(data: string, media: MediaTokens): void {
  const pages = pdfPages(data);
  if (pages === undefined) return;
  if (pages === 0) {
    media.files++;
    return;
  }
  const extra = pages * IMAGE_TOKENS.other + Math.max(0, pages * PDF_PAGE_TEXT_TOKENS - Math.ceil(data.length / 4));
  media.tokens += extra;
  media.imageTokens += extra;
  media.pdfTokens += extra;
}

function audioTokens(part: JsonObject): number | undefined {
  if (part.type !== 'input_audio' || !isObject(part.input_audio) || typeof part.input_audio.data !== 'string') return undefined;
  return Math.ceil((part.input_audio.data.length * 3) / 4 / AUDIO_BYTES_PER_TOKEN);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Counts an image part at IMAGE_TOKENS by its detail (`image_url.detail` in chat, `detail` in
 * Responses), and by detail for the models that bill more (promptTokensOn).
 */
function countImage(part: JsonObject, media: MediaTokens): void {
  const detail = isObject(part.image_url) ? part.image_url.detail : part.detail;
  const tokens = detail === 'original' ? IMAGE_TOKENS.original : IMAGE_TOKENS.other;
  media.tokens += tokens;
  media.imageTokens += tokens;
  media.images++;
  if (detail === 'original') media.originalImages++;
  else if (detail === 'low') media.lowImages++;
}

/**
 * Serialises a billed part with every image and audio part replaced by a placeholder: they are
 * counted at IMAGE_TOKENS and by AUDIO_BYTES_PER_TOKEN instead of as their base64 text (which
 * providers do not bill as text). Other binary parts (file data) count as text.
 */
function billedJson(value: unknown, media: MediaTokens): string {
  // Without a media type anywhere in it (JSON.stringify writes each string one way only), the
  // replacer below would change nothing: the plain JSON is the same text, several times faster.
  const plain = JSON.stringify(value);
  if (!MEDIA_TYPE_TOKEN.test(plain)) return plain;
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isObject(v) || typeof v.type !== 'string') return v;
    const audio = audioTokens(v);
    if (audio !== undefined) {
      media.tokens += audio;
      media.audio += audio;
    }
    // Counted as message images are, in the window estimate too (IMAGE_WINDOW_TOKENS): before, an
    // image in a schema field stayed at IMAGE_TOKENS there.
    else if (IMAGE_PART_TYPES.has(v.type)) countImage(v, media);
    else return v;
    return { type: v.type };
  });
}

/** MEDIA_TYPE_TOKEN and file parts: what estimateValueTokens replaces. */
const MEDIA_OR_FILE_TYPE_TOKEN = /"(?:image_url|input_image|image|input_audio|file|input_file)"/;

/**
 * The tokens of a JSON value a prompt is made from as it is (keys included: an eval run's item,
 * which its template substitutes as text or whose messages it references; its template): its JSON
 * text at bytes / 4, with each image part at IMAGE_TOKENS and audio by AUDIO_BYTES_PER_TOKEN
 * instead of its payload, an inline PDF's pages added (inlinePdf), and a file part that carries no
 * data (by id or URL) told in `told.media.files` (UNREAD_FILE_TOKENS, not in the estimate); what
 * depends on the target is told in `told.media` for promptTokensOn. A value without media parts is
 * estimateTokens of its JSON. Its depth must have been bounded (the replacer recurses).
 */
export function estimateValueTokens(value: unknown, told: PromptParts): number {
  const plain = JSON.stringify(value) ?? '';
  if (!MEDIA_OR_FILE_TYPE_TOKEN.test(plain)) return estimateTokens(plain);
  const media: MediaTokens = { tokens: 0, audio: 0, files: 0, imageTokens: 0, images: 0, lowImages: 0, originalImages: 0, pdfTokens: 0 };
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (!isObject(v) || typeof v.type !== 'string') return v;
    const audio = audioTokens(v);
    if (audio !== undefined) {
      media.tokens += audio;
      media.audio += audio;
    } else if (IMAGE_PART_TYPES.has(v.type)) countImage(v, media);
    else if (isFilePart(v)) {
      const data = inlineFileData(v);
      if (data === undefined) media.files++;
      else inlinePdf(data, media);
      return v;
    } else return v;
    return { type: v.type };
  });
  told.tokens = media.audio;
  if (media.files > 0 || media.imageTokens > 0) told.media = media;
  return estimateTokens(text) + media.tokens;
}

/**
 * The media of a prompt made of `a` and `times` copies of `b` (an eval run's template and its item
 * substituted `times` times), for promptTokensOn; undefined when neither has any.
 */
export function combinedMedia(a: PromptMedia | undefined, b: PromptMedia | undefined, times: number): PromptMedia | undefined {
  if (b === undefined || times === 0) return a;
  const sum = (k: keyof PromptMedia): number => (a?.[k] ?? 0) + times * b[k];
  return { files: sum('files'), images: sum('images'), lowImages: sum('lowImages'), originalImages: sum('originalImages'), pdfTokens: sum('pdfTokens'), imageTokens: sum('imageTokens') };
}

/**
 * What of a prompt estimate depends on the target it goes to (promptTokensOn): the files it names
 * but does not carry, its images (in the estimate at IMAGE_TOKENS) by detail, and its inline PDFs'
 * pages (in the estimate: inlinePdf).
 */
export interface PromptMedia {
  readonly files: number;
  /** Images, of them those at `detail: low` and at `detail: original`. */
  readonly images: number;
  readonly lowImages: number;
  readonly originalImages: number;
  /** Of the estimate, what inline PDFs' pages add to their base64 text. */
  readonly pdfTokens: number;
  /** Of the estimate, what images (IMAGE_TOKENS) and inline PDFs' pages were allowed. */
  readonly imageTokens: number;
}

/** Tokens counted for media parts rather than as text, of them the audio ones, and PromptMedia. */
interface MediaTokens extends PromptMedia {
  tokens: number;
  audio: number;
  files: number;
  imageTokens: number;
  images: number;
  lowImages: number;
  originalImages: number;
  pdfTokens: number;
}

/** What estimatePromptTokens tells besides the estimate: the audio tokens in it, its estimate for the window guard, and its media. */
export interface PromptParts {
  tokens: number;
  /** The estimate with each image at IMAGE_WINDOW_TOKENS instead of IMAGE_TOKENS (set only when there are images): what the context-window guard reads. */
  windowTokens?: number;
  /** Set only when the prompt has files, images or inline PDFs: what promptTokensOn reads. */
  media?: PromptMedia;
}

/**
 * The prompt a request is held and charged on `target` when the upstream reports no usage (Budgets,
 * a lost attempt): the estimate with each image at what the target's model bills at most
 * (modelImageBound, else IMAGE_TOKENS as in the estimate), plus UNREAD_FILE_TOKENS for each file
 * named but not carried; what images, inline PDFs' pages and such files add is at most what the
 * target's context window leaves of the rest (a prompt past its window is refused, not billed).
 * Before, a file by id was clamped so but an inline PDF was not, and images were at IMAGE_TOKENS
 * on every model (gpt-4o-mini bills up to 48,169).
 */
export function promptTokensOn(target: { readonly model: string; readonly contextWindow?: number | undefined }, promptTokens: number, media: PromptMedia | undefined): number {
  if (media === undefined) return promptTokens;
  const bound = media.images === 0 ? undefined : modelImageBound(target.model);
  let images = media.imageTokens - media.pdfTokens;
  if (bound !== undefined) {
    const other = media.images - media.lowImages - media.originalImages;
    const low = media.lowImages * Math.max(IMAGE_TOKENS.other, bound.low);
    images = low + other * Math.max(IMAGE_TOKENS.other, bound.other) + media.originalImages * Math.max(IMAGE_TOKENS.original, bound.original);
  }
  const rest = promptTokens - media.imageTokens;
  const added = images + media.pdfTokens + media.files * UNREAD_FILE_TOKENS;
  return rest + (target.contextWindow === undefined ? added : Math.min(added, Math.max(0, target.contextWindow - rest)));
}

/** Text prompts, or token ids (counted exactly: one per id) for completions and embeddings. */
function textOrTokenIds(value: unknown): number {
  if (typeof value === 'string') return estimateTokens(value);
  if (typeof value === 'number') return 1;
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + textOrTokenIds(v), 0);
  return value === undefined || value === null ? 0 : estimateTokens(JSON.stringify(value));
}

/** Per message and per reply, what chat formats add around the text (OpenAI's published accounting). */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/**
 * Chat fields rendered into the prompt as JSON (keys included): tool definitions and output schemas,
 * `output_config` too (a /v1/messages client's structured-output schema, a canonical extension,
 * which every target turns into prompt: Anthropic's output_config, others' response_format). Before,
 * output_config was not counted, and a large schema's tokens passed a budget's hold.
 */
const BILLED_SCHEMA_FIELDS = ['tools', 'functions', 'tool_choice', 'response_format', 'output_config'] as const;

/** Bytes of the values in a message (text, names, tool call ids and arguments; not the JSON keys), media counted aside. */
function valueBytes(value: unknown, media: MediaTokens): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + valueBytes(v, media), 0);
  if (!isObject(value)) return 0;
  // A media part's payload is counted as media, not as base64 text; its other fields still count,
  // or a message of any length with "type": "image_url" added would be estimated as one image.
  let payload: string | undefined;
  if (typeof value.type === 'string') {
    const audio = audioTokens(value);
    if (audio !== undefined) {
      media.tokens += audio;
      media.audio += audio;
      payload = 'input_audio';
    } else if (IMAGE_PART_TYPES.has(value.type)) {
      countImage(value, media);
      payload = IMAGE_PAYLOAD[value.type];
    } else if (isFilePart(value)) {
      const data = inlineFileData(value);
      if (data === undefined) media.files++;
      else inlinePdf(data, media);
    }
  }
  let bytes = 0;
  for (const key in value) if (key !== payload && (payload === undefined || key !== 'type')) bytes += valueBytes(value[key], media);
  return bytes;
}

/**
 * The prompt tokens a request will be billed for, estimated before it is sent (budgets, rate
 * limits, the context-window guard, and usage when the upstream reports none). Chat: bytes / 4 of
 * every value in every message (text, roles, names, tool calls and their arguments, tool results)
 * plus 3 tokens a message and 3 for the reply, plus bytes / 4 of the JSON of tool definitions,
 * tool_choice, response_format and output_config schemas; each image at IMAGE_TOKENS and audio by
 * AUDIO_BYTES_PER_TOKEN, never as base64 text; an inline PDF as its base64 text and its pages
 * (inlinePdf). Completions and embeddings: text at bytes / 4,
 * token-id arrays one token per id. Anthropic requests are estimated in their canonical form,
 * where the system prompt is a message. `audio`, when given, is told how many of them are audio
 * (input_audio parts): an estimate charged for them prices those at the audio price; and how many
 * files the messages name but do not carry (`media.files`, not in the estimate: UNREAD_FILE_TOKENS).
 */
export function estimatePromptTokens(body: JsonObject, audio?: PromptParts): number {
  if (Array.isArray(body.messages)) {
    const media: MediaTokens = { tokens: 0, audio: 0, files: 0, imageTokens: 0, images: 0, lowImages: 0, originalImages: 0, pdfTokens: 0 };
    let bytes = valueBytes(body.messages, media);
    for (const field of BILLED_SCHEMA_FIELDS) {
      const value = body[field];
      if (value !== undefined && value !== null) bytes += Buffer.byteLength(billedJson(value, media), 'utf8');
    }
    const tokens = Math.ceil(bytes / 4) + media.tokens + TOKENS_PER_MESSAGE * body.messages.length + TOKENS_PER_REPLY;
    if (audio !== undefined) {
      audio.tokens = media.audio;
      if (media.imageTokens > 0) audio.windowTokens = tokens - media.imageTokens + media.images * IMAGE_WINDOW_TOKENS;
      // The same object: an estimate with media allocates nothing more for it.
      if (media.files > 0 || media.imageTokens > 0) audio.media = media;
    }
    return tokens;
  }
  if (body.prompt !== undefined) return textOrTokenIds(body.prompt) + textOrTokenIds(body.suffix);
  return textOrTokenIds(body.input);
}

function outputText(choice: JsonObject, parts: string[]): void {
  const message = isObject(choice.message) ? choice.message : isObject(choice.delta) ? choice.delta : undefined;
  if (typeof choice.text === 'string') parts.push(choice.text);
  if (message === undefined) return;
  for (const field of ['content', 'refusal', 'reasoning_content', 'reasoning']) {
    const v = message[field];
    if (typeof v === 'string') parts.push(v);
  }
  // thinking_blocks: an Anthropic answer's reasoning (a canonical extension), billed as output.
  for (const field of ['tool_calls', 'function_call', 'audio', 'thinking_blocks']) {
    const v = message[field];
    if (v !== undefined && v !== null) parts.push(JSON.stringify(v));
  }
}

/**
 * Delta events of a Responses stream whose `delta` is output the model produced and the upstream
 * bills: text, refusal, reasoning (its text and its summary), and the input of every kind of call.
 * Before, a cut stream of a reasoning model was estimated without its reasoning: most of its output.
 */
const RESPONSES_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.mcp_call_arguments.delta',
  'response.code_interpreter_call_code.delta',
  'response.audio.transcript.delta',
]);

/** Of RESPONSES_DELTAS, those that are the answer rather than its reasoning. */
const RESPONSES_ANSWER_DELTAS = new Set([...RESPONSES_DELTAS].filter((type) => !type.startsWith('response.reasoning')));

const hasText = (v: unknown): boolean => typeof v === 'string' && v !== '';

/**
 * Whether a stream chunk (or Responses event) with output carries some of the answer (text, a
 * refusal, a call, audio) rather than only reasoning (reasoning_content, thinking blocks, a
 * Response's reasoning text or summary): what a model shows after it has reasoned.
 */
export function carriesAnswer(chunk: JsonObject): boolean {
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return typeof chunk.type === 'string' && RESPONSES_ANSWER_DELTAS.has(chunk.type);
  for (let i = 0; i < choices.length; i++) {
    const c: unknown = choices[i];
    if (!isObject(c)) continue;
    if (hasText(c.text)) return true;
    const m = isObject(c.delta) ? c.delta : isObject(c.message) ? c.message : undefined;
    if (m === undefined) continue;
    if (hasText(m.content) || hasText(m.refusal) || (m.tool_calls ?? m.function_call ?? m.audio ?? null) !== null) return true;
  }
  return false;
}

/** A Responses stream event that opens a reasoning item (whose reasoning may show nothing, not even a summary). */
export function startsReasoning(chunk: JsonObject): boolean {
  return chunk.type === 'response.output_item.added' && isObject(chunk.item) && chunk.item.type === 'reasoning';
}

/** The output of a Responses API answer (served natively): a Response's output items, or one stream event's delta. */
function responsesOutputText(body: JsonObject): string {
  if (typeof body.type === 'string') return RESPONSES_DELTAS.has(body.type) && typeof body.delta === 'string' ? body.delta : '';
  if (body.object !== 'response' || !Array.isArray(body.output)) return '';
  const parts: string[] = [];
  for (const item of body.output) {
    if (!isObject(item)) continue;
    // Call inputs: function and MCP arguments, a custom tool's input, code interpreter's code.
    for (const field of ['arguments', 'input', 'code']) {
      const v = item[field];
      if (typeof v === 'string') parts.push(v);
    }
    // A reasoning item's summary (its text, when shown, is in content).
    for (const c of [...(Array.isArray(item.summary) ? item.summary : []), ...(Array.isArray(item.content) ? item.content : [])]) {
      if (!isObject(c)) continue;
      if (typeof c.text === 'string') parts.push(c.text);
      if (typeof c.refusal === 'string') parts.push(c.refusal);
    }
  }
  return parts.join('');
}

/**
 * The output text of an OpenAI-shaped response or stream chunk (every choice: content, refusal,
 * reasoning, tool calls; completions text), for estimating output tokens when no usage is reported.
 */
export function outputTextOf(body: JsonObject): string {
  const choices = body.choices;
  if (!Array.isArray(choices)) return responsesOutputText(body);
  const parts: string[] = [];
  for (const c of choices) if (isObject(c)) outputText(c, parts);
  return parts.join('');
}

/** Output tokens of a response body that came without usage (0 for embeddings). */
export function estimateOutputTokens(body: JsonObject): number {
  return estimateTokens(outputTextOf(body));
}

function collect(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (typeof value === 'object' && value !== null) {
    const o = value as JsonObject;
    if (typeof o.text === 'string') out.push(o.text);
    if (o.content !== undefined) collect(o.content, out);
  }
}

/** The prompt text of a chat, completions or embeddings request (for content, not for metering). */
export function promptText(body: JsonObject): string {
  const parts: string[] = [];
  collect(body.messages ?? body.prompt ?? body.input, parts);
  return parts.join('\n');
}
