import { billedOutputTokens } from '../../providers/shared/billed-output.js';
import { count, isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import { withMediaInput, withMediaOutput } from '../../providers/shared/media-usage.js';
import type { BilledUnits } from '../../metering/cost.js';
import { estimatePromptTokens, estimateTokens, type PromptParts } from '../../metering/token-estimate.js';
import { containerMemoryGb } from '../../metering/container-sessions.js';

/**
 * Token usage from a pass-through JSON answer, when it reports some: images and audio with token
 * models (`input_tokens`/`output_tokens`, their image and audio tokens apart), embeddings-like and vLLM score/rerank (`prompt_tokens`
 * or `total_tokens`). Undefined when the answer reports none (moderations, files, batches,
 * duration-priced audio): such requests are logged, not metered. The counts are as reported: the
 * caller checks them (usageProblem) before it prices them.
 */
export function passThroughUsage(body: unknown): Usage | undefined {
  if (!isObject(body) || !isObject(body.usage)) return undefined;
  const u = body.usage;
  const reportedOutput = u.output_tokens ?? u.completion_tokens;
  const outputDetails = firstObject(u.output_tokens_details, u.completion_tokens_details);
  const declaredInput = u.input_tokens ?? u.prompt_tokens;
  // With the input declared, the output is never less than the total less it, nor than reasoning it cannot hold (shared/billed-output.ts).
  const output = declaredInput !== undefined ? (billedOutputTokens(count(declaredInput), reportedOutput, u.total_tokens, outputDetails?.reasoning_tokens) ?? 0) : count(reportedOutput);
  const input = declaredInput !== undefined ? count(declaredInput) : Math.max(0, count(u.total_tokens) - output);
  if (input === 0 && output === 0) return undefined;
  // gpt-image says input_tokens_details, transcriptions input_token_details, chat-shaped answers prompt_tokens_details.
  const details = firstObject(u.input_tokens_details, u.input_token_details, u.prompt_tokens_details) ?? {};
  const usage: Usage = { inputTokens: input, outputTokens: output, cachedInputTokens: Math.min(input, count(details.cached_tokens)) };
  return withMediaOutput(withMediaInput(usage, details), outputDetails);
}

function firstObject(...values: unknown[]): JsonObject | undefined {
  return values.find(isObject);
}

/**
 * Bytes of uploaded audio taken for one second when an answer does not say how long the audio was:
 * 16 kbit/s, below the bitrate of any common upload (MP3 and M4A speech is 32–128 kbit/s, WAV
 * 256 kbit/s and more), so that the estimate is never under the real duration for them. Audio
 * encoded below it (Opus voice at 6–12 kbit/s) is estimated short.
 */
export const ESTIMATED_AUDIO_BYTES_PER_SECOND = 2000;

const TRANSCRIPTION = /^\/v1\/audio\/(transcriptions|translations)$/;

/**
 * The seconds of audio a transcription or translation is estimated at from the bytes uploaded, when
 * its answer says neither its duration nor its usage: whisper-1 translations in the default `json`
 * format (`{text}` only), and `text`, `srt` and `vtt` answers (not JSON: `answer` undefined).
 * Undefined for any other path or an answer that says.
 */
export function estimatedAudioSeconds(path: string, answer: unknown, uploadBytes: number): number | undefined {
  if (!TRANSCRIPTION.test(path) || uploadBytes <= 0) return undefined;
  if (isObject(answer) && (isObject(answer.usage) || answer.duration !== undefined)) return undefined;
  return Math.ceil(uploadBytes / ESTIMATED_AUDIO_BYTES_PER_SECOND);
}

const VECTOR_STORE_SEARCH = /^\/v1\/vector_stores\/[^/]+\/search$/;
/** The requests that make a video (billed by its seconds): a generation, an edit, an extension, a remix. */
const VIDEO_GENERATION = /^\/v1\/videos(\/edits|\/extensions|\/[^/]+\/remix)?$/;
/** Sora's longest clip: what a video request whose length is not read (a form, a remix) may cost. */
export const LONGEST_VIDEO_SECONDS = 12;

/** Whether a request makes a video (retrievals, lists and downloads show one made before: not charged again). */
function makesVideo(method: string, path: string): boolean {
  return method === 'POST' && VIDEO_GENERATION.test(path);
}

/** A video object's `seconds` ("4", "8", "12": a string on OpenAI's wire, a number on some): its length; 0 when it says none. */
function videoSeconds(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * The priced units of a successful answer: images (the entries of an images answer), seconds of
 * audio (a transcription or translation that reports `usage.seconds` or, verbose_json, `duration`),
 * characters of speech input (the request's `input`, the answer being audio), a vector store search,
 * a container made (one session, in GB of its `memory_limit`, the request's or the answer's, the larger), and the seconds of a video a generation answer reports (its `seconds`; an extension's is the
 * whole stitched clip, which is what is charged).
 */
export function answerUnits(path: string, request: unknown, answer: unknown, imagesCounted?: number, method = 'POST'): BilledUnits {
  const units: BilledUnits = { requests: 1, images: 0, audioSeconds: 0, characters: 0 };
  if (path.startsWith('/v1/images/')) units.images = Math.max(0, imagesCounted ?? (isObject(answer) && Array.isArray(answer.data) ? answer.data.length : 0));
  if (TRANSCRIPTION.test(path) && isObject(answer)) {
    const u = answer.usage;
    // Only a finite, non-negative duration is priced: a negative one would have credited the Budgets.
    units.audioSeconds = Math.max(0, isObject(u) && u.type === 'duration' ? count(u.seconds) : count(answer.duration));
  }
  if (path === '/v1/audio/speech' && isObject(request) && typeof request.input === 'string') units.characters = [...request.input].length;
  if (method === 'POST' && VECTOR_STORE_SEARCH.test(path)) units.fileSearches = 1;
  // A container is billed per session of its memory from when it is made, used or not (as POST /v1/responses' auto ones).
  if (method === 'POST' && path === '/v1/containers') units.containerGb = Math.max(containerMemoryGb(isObject(request) ? request.memory_limit : undefined), containerMemoryGb(isObject(answer) ? answer.memory_limit : undefined));
  if (makesVideo(method, path) && isObject(answer)) {
    const seconds = videoSeconds(answer.seconds);
    if (seconds > 0) units.videoSeconds = seconds;
  }
  return units;
}

/**
 * What a pass-through request will be priced by besides tokens, at most, known before it is sent:
 * one request, the images it asks for (`n`, 1 by default; a multipart edit's count is not read: 1),
 * the characters of speech it sends, the seconds of audio it uploads (estimated from its bytes,
 * ESTIMATED_AUDIO_BYTES_PER_SECOND), a vector store search, and the seconds of video it asks for (a
 * JSON body's `seconds`; a form's is not read, nor a remix's source: Sora's longest clip, 12 s).
 * Budgets hold it; a request whose answer never came is charged it.
 */
export function requestUnits(path: string, request: unknown, uploadBytes = 0, method = 'POST'): BilledUnits {
  const units = answerUnits(path, request, undefined, undefined, method);
  if (path.startsWith('/v1/images/')) units.images = isObject(request) && typeof request.n === 'number' && Number.isInteger(request.n) && request.n > 0 ? request.n : 1;
  units.audioSeconds = estimatedAudioSeconds(path, undefined, uploadBytes) ?? 0;
  if (makesVideo(method, path)) units.videoSeconds = (isObject(request) ? videoSeconds(request.seconds) : 0) || LONGEST_VIDEO_SECONDS;
  return units;
}

/**
 * Output tokens one image of a token-priced image model (gpt-image) may be billed, per 1024×1024 of
 * its size, by the request's `quality`: OpenAI's published counts rounded up (gpt-image-1: 272 low,
 * 1,056 medium, 4,160 high for a square image; gpt-image-2 bills 7,024 for a high one, and its
 * low and medium are taken at the same 1.69× of gpt-image-1's). `auto` and an absent quality are
 * high. An upper bound, for an image the upstream made and billed but whose answer never came.
 */
export const IMAGE_OUTPUT_TOKENS_PER_MP = { low: 480, medium: 1800, high: 7100 } as const;
/** The size of an image whose size is `auto` or not said: the largest of the default sizes (1536×1024). */
const AUTO_IMAGE_AREA = 1.5;
/** The largest image billed (3840×3840): a size past it is refused upstream, not billed. */
const MAX_IMAGE_AREA = (3840 * 3840) / (1024 * 1024);
/** Output tokens billed for each partial image a streamed gpt-image request asks for (OpenAI: 100). */
export const PARTIAL_IMAGE_TOKENS = 100;

const IMAGE_SIZE = /^(\d{2,5})x(\d{2,5})$/;

/**
 * Image input tokens one input image of an edit may be billed at most (gpt-image): OpenAI's
 * published counts with `input_fidelity: high` are 4,160 more for a square image and 6,240 more for
 * 1024×1536, besides its low-fidelity tokens (65 + 129 a 512 px tile, two tiles at most): 6,563,
 * rounded up. Before, an edit's input images were neither held nor charged when its answer never came.
 */
export const EDIT_INPUT_IMAGE_TOKENS = 7000;
/** The most input images an edit takes (gpt-image: 16 images and a mask): what a form not yet read is held at. */
export const MAX_EDIT_INPUT_IMAGES = 17;

/**
 * An edit's input images: a JSON body's `images` (and `mask`), else those its form carried
 * (`formImages`, counted as it streamed) or, before it streamed, the most its length allows
 * (form-model formImagesBound), never more than the most an edit takes.
 */
function editInputImages(body: JsonObject, formImages: number | undefined): number {
  if (Array.isArray(body.images)) return Math.min(MAX_EDIT_INPUT_IMAGES, body.images.length + (body.mask === undefined || body.mask === null ? 0 : 1));
  return Math.min(MAX_EDIT_INPUT_IMAGES, formImages ?? MAX_EDIT_INPUT_IMAGES);
}

/**
 * The tokens an images request (generation or edit) may be billed at most when its answer never
 * came: its prompt's text as input, and per image asked for (`n`) IMAGE_OUTPUT_TOKENS_PER_MP of its
 * `size` at its `quality`, plus its partial images, as image output; an edit's input images at
 * EDIT_INPUT_IMAGE_TOKENS each, as image input (`formImages`: those its multipart form carried, once
 * it has streamed; before, the most its length allows, at most the most an edit takes). Undefined for another path. A form's other
 * fields are not read: one image, high, of the auto size.
 */
export function lostImageUsage(path: string, request: unknown, formImages?: number): Usage | undefined {
  if (path !== '/v1/images/generations' && path !== '/v1/images/edits') return undefined;
  const body = isObject(request) ? request : {};
  const images = requestUnits(path, request).images;
  const quality = body.quality === 'low' || body.quality === 'medium' ? body.quality : 'high';
  const size = typeof body.size === 'string' ? IMAGE_SIZE.exec(body.size) : null;
  const area = size === null ? AUTO_IMAGE_AREA : Math.min(MAX_IMAGE_AREA, (Number(size[1]) * Number(size[2])) / (1024 * 1024));
  const partials = typeof body.partial_images === 'number' && Number.isInteger(body.partial_images) ? Math.min(3, Math.max(0, body.partial_images)) : 0;
  const outputTokens = images * (Math.ceil(IMAGE_OUTPUT_TOKENS_PER_MP[quality] * area) + partials * PARTIAL_IMAGE_TOKENS);
  const prompt = typeof body.prompt === 'string' ? estimateTokens(body.prompt) : 0;
  if (path !== '/v1/images/edits') return { inputTokens: prompt, outputTokens, cachedInputTokens: 0, imageOutputTokens: outputTokens };
  const inputImages = editInputImages(body, formImages) * EDIT_INPUT_IMAGE_TOKENS;
  return { inputTokens: prompt + inputImages, outputTokens, cachedInputTokens: 0, imageInputTokens: inputImages, imageOutputTokens: outputTokens };
}

/**
 * The prompt of a request that runs the model (a compaction: a Responses body), estimated before it
 * is sent as the inference path estimates a chat prompt (metering/token-estimate): each `input`
 * item as a message (its values at bytes / 4, 3 tokens of framing), its images at the per-image
 * allowance (URL, data URI or file_id alike) and audio by its bytes, inline file data as its text
 * (a file it names but does not carry is told in `told.media`: Budgets hold it at
 * UNREAD_FILE_TOKENS, metering/token-estimate); and `instructions`, `tools`,
 * `tool_choice`, the `text.format` schema and a stored prompt's `variables`, all rendered into the
 * prompt the upstream bills. Before, images by URL or file_id and named files counted as the few
 * bytes of their reference, and the output schema not at all: holds under-counted them. Of a
 * conversation named by `previous_response_id` or `conversation`, or a stored prompt's own text,
 * only what the body adds is known: the charge is what the answer reports.
 */
export function promptTokensOf(request: unknown, told?: PromptParts): number {
  if (!isObject(request)) return 0;
  const input = request.input;
  const parts: unknown[] = Array.isArray(input) ? input : input === undefined || input === null ? [] : [input];
  const prompt: JsonObject = { messages: parts.map((content) => ({ content: content as JsonObject })) };
  if (request.tools !== undefined && request.tools !== null) prompt.tools = request.tools;
  if (request.tool_choice !== undefined && request.tool_choice !== null) prompt.tool_choice = request.tool_choice;
  if (isObject(request.text) && isObject(request.text.format)) prompt.response_format = request.text.format;
  // A stored prompt's variables are text, images and files substituted into it.
  if (isObject(request.prompt) && isObject(request.prompt.variables)) prompt.messages = [...(prompt.messages as JsonObject[]), { content: Object.values(request.prompt.variables) as JsonObject[] }];
  const instructions = typeof request.instructions === 'string' ? estimateTokens(request.instructions) : 0;
  return estimatePromptTokens(prompt, told) + instructions;
}
