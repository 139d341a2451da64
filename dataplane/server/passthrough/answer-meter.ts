import type { IncomingMessage } from 'node:http';
import type { Usage } from '../../core/canonical.js';
import type { RouteConfig } from '../../config/snapshot.js';
import { type BilledUnits, costUsd, unitCostUsd } from '../../metering/cost.js';
import { usageProblem } from '../../metering/settled-usage.js';
import { type UsageSink, usageRecord } from '../../metering/usage-record.js';
import { billedUsageOfResponse } from '../../providers/shared/native-responses.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { AnswerReader } from './answer-reader.js';
import type { ForwardedAttempt } from './forwarded-attempt.js';
import { ImageStreamReader } from './image-stream-reader.js';
import { chargesAnswerUsage, runsModel } from './passthrough-paths.js';
import type { ForwardTarget } from './passthrough-route.js';
import { answerUnits, estimatedAudioSeconds, passThroughUsage, requestUnits } from './passthrough-usage.js';
import type { CreationWorstCase } from './worst-case-admission.js';

/** What metering knows of a pass-through attempt. */
export interface MeteredAttempt {
  route: RouteConfig;
  /** The target this attempt goes to. */
  to: ForwardTarget;
  /** The public path (`/v1/images/generations`), for the units priced per request. */
  path: string;
  method: string;
  /** The JSON body the client sent, when it sent one. */
  json: unknown;
  /** The prompt estimate of a request that runs the model (a compaction); 0 for the others. */
  promptTokens: number;
  /** The bytes of a streamed upload sent so far (0 for a JSON body). */
  uploadedBytes: () => number;
  requestId: string;
  /** The admissions (rate limits, budgets); settled once, with the usage and cost the answer reported (or none). */
  settle: (usage: Usage | undefined, cost: number) => void;
  /** Whether the request is settled: it is charged no more (one record per request). */
  isSettled: () => boolean;
  /** The attempt's span and metrics, and the request's metered usage. */
  observed: ForwardedAttempt;
  /** Set when the client left before the answer's end: an answer cut short is then marked client_gone. */
  clientLeft?: true;
  /**
   * A batch, fine-tuning job or eval run being created: the worst case of the work it makes the
   * upstream run (batch-lines.ts, fine-tuning-admission.ts, eval-run-admission.ts), charged once
   * the upstream may have made it.
   */
  created?: CreationWorstCase;
}

/**
 * Why a pass-through record is an estimate (`shutdown`: answered 503 at the drain's end, its upstream
 * then cut; `batch_worst_case`, `fine_tuning_worst_case`, `eval_worst_case`: a batch, a fine-tuning
 * job, an eval run created, charged the worst case of what it makes the upstream run).
 */
export type ChargeReason = CreationWorstCase['reason'] | 'client_gone' | 'invalid' | 'lost_attempt' | 'missing' | 'shutdown' | 'truncated';

export const NO_TOKENS: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/** A prompt estimate as usage (none for a request that does not run the model). */
export const promptUsage = (promptTokens: number): Usage => ({ ...NO_TOKENS, inputTokens: promptTokens });

/** The larger of two unit counts, unit by unit. */
function atLeast(a: BilledUnits, b: BilledUnits): BilledUnits {
  return {
    requests: Math.max(a.requests, b.requests),
    images: Math.max(a.images, b.images),
    audioSeconds: Math.max(a.audioSeconds, b.audioSeconds),
    characters: Math.max(a.characters, b.characters),
    fileSearches: Math.max(a.fileSearches ?? 0, b.fileSearches ?? 0),
    videoSeconds: Math.max(a.videoSeconds ?? 0, b.videoSeconds ?? 0),
    containerGb: Math.max(a.containerGb ?? 0, b.containerGb ?? 0),
  };
}

/** A successful answer being metered as it is read. */
export interface AnswerMeter {
  /** Whether its body tells what it costs (JSON or events, read as they come): worth reading to its end when the client has left. */
  readonly reads: boolean;
}

/**
 * Meters a successful answer as it is read: the token usage a JSON answer or an event stream
 * reports (read from a bounded copy), and the units the price table prices per request, image,
 * second or character. Charged at the answer's end; an answer that never ends (the upstream cut it,
 * or the client left and it could not be read to its end) is charged at least the request's unit
 * prices, or what was read of it when that is more, marked `truncated` or `client_gone`. Before, it
 * was charged the request's unit prices only (often nothing: images priced in tokens). A failed
 * answer is settled at once with nothing: undefined.
 */
export function meterAnswer(sink: UsageSink, p: MeteredAttempt, proxyRes: IncomingMessage): AnswerMeter | undefined {
  const status = proxyRes.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    p.settle(undefined, 0);
    return undefined;
  }
  const type = String(proxyRes.headers['content-type'] ?? '');
  const encoding = proxyRes.headers['content-encoding'];
  const readable = encoding === undefined || encoding === 'identity';
  const images = p.path.startsWith('/v1/images/');
  const reader = type.includes('json') && readable ? new AnswerReader(images) : undefined;
  // gpt-image `stream: true`: each completed image is an event with its usage; speech with
  // `stream_format: "sse"` and transcriptions with `stream: true` report theirs in their last event.
  const events = type.includes('text/event-stream') && readable;
  const streamed = events ? streamReader(p.path) : undefined;
  if (reader !== undefined) proxyRes.on('data', (chunk: Buffer) => reader.push(chunk));
  if (streamed !== undefined) proxyRes.on('data', (chunk: Buffer) => streamed.push(chunk));
  let done = false;
  const finish = (cut: 'client_gone' | 'truncated' | undefined): void => {
    if (done) return;
    done = true;
    // A batch, job or run was created (its answer, read whole or not, was a success): its worst case is its spend.
    if (p.created !== undefined) return chargeCreated(sink, p);
    const stream = streamed?.result();
    // A stream's last usage event stands for a JSON answer's `usage`: a streamed transcription's
    // says its tokens (or seconds); without it, its seconds are estimated from the upload (below).
    const parsed = stream === undefined ? reader?.answer() : stream.reported === undefined ? undefined : { usage: stream.reported };
    const asked = requestUnits(p.path, p.json, p.uploadedBytes(), p.method);
    // An event that could not be read may have been an image: the request's `n` is charged at least.
    const imagesCounted = stream === undefined ? reader?.imagesCounted : stream.unreadable ? Math.max(stream.images, asked.images) : stream.images;
    // A stored Response was charged when it was created (a background one its worst case): what a
    // retrieval shows of its usage is not spent again. A compaction's is its own (a Response's usage).
    const reported = stream !== undefined ? stream.usage : !chargesAnswerUsage(p.method, p.path) ? undefined : runsModel(p.method, p.path) ? (isObject(parsed) ? billedUsageOfResponse(parsed) : undefined) : passThroughUsage(parsed);
    // Usage that cannot be true (negative, fractional, absurd counts) is not priced: negative tokens
    // credited the Budgets. The request is charged its unit prices, its record marked invalid.
    const invalid = reported !== undefined && usageProblem(reported) === 'invalid';
    // A compaction whose answer reports no usage (or none that can be true) ran the model all the
    // same: its prompt estimate is charged, marked.
    const estimated = p.promptTokens > 0 && (reported === undefined || invalid);
    const usage = estimated ? promptUsage(p.promptTokens) : invalid ? undefined : reported;
    const read = answerUnits(p.path, p.json, parsed, imagesCounted, p.method);
    const { target } = p.to;
    // A transcription or translation whose answer says neither its duration nor its usage (whisper
    // translations in `json`, `text`/`srt`/`vtt` answers) is priced per second by its upload's size.
    // Before, it was charged nothing per second.
    const guessed = cut === undefined && (target.pricing.perAudioSecondUsd ?? 0) > 0 ? estimatedAudioSeconds(p.path, parsed, p.uploadedBytes()) : undefined;
    if (guessed !== undefined) read.audioSeconds = guessed;
    // Cut short: the upstream may have done (and billed) all it was asked, whatever was read of it.
    const units = cut === undefined ? read : atLeast(read, asked);
    const cost = Math.round(((usage === undefined ? 0 : costUsd(usage, target.pricing)) + unitCostUsd(units, target.pricing)) * 1e8) / 1e8;
    if (usage === undefined && cost === 0 && !invalid) {
      p.settle(undefined, 0);
      return;
    }
    charge(sink, p, usage ?? NO_TOKENS, cost, invalid ? 'invalid' : (cut ?? (estimated || guessed !== undefined ? 'missing' : undefined)));
  };
  proxyRes.on('end', () => finish(undefined));
  // 'close' comes after 'end' for an answer read whole; without one, the answer was cut short.
  proxyRes.on('close', () => finish(p.clientLeft === true ? 'client_gone' : 'truncated'));
  return { reads: reader !== undefined || streamed !== undefined };
}

/** The reader of an event-stream answer on `path` that reports usage; undefined for one that reports none. */
function streamReader(path: string): ImageStreamReader | undefined {
  if (path.startsWith('/v1/images/')) return new ImageStreamReader();
  if (path === '/v1/audio/speech') return new ImageStreamReader('speech');
  if (path === '/v1/audio/transcriptions') return new ImageStreamReader('transcription');
  return undefined;
}

/**
 * A batch, fine-tuning job or eval run the upstream made, or may have made (its answer was lost
 * after it had the whole request): charged its worst case (a batch's at the batch price, a job's
 * trained tokens at the training price, a run's items at the model's prices), plus the request's
 * unit prices, marked with its reason (`batch_worst_case`, ...). The gateway never sees what the
 * work really used (that is known when it completes, upstream, hours later): the worst case is its spend.
 */
export function chargeCreated(sink: UsageSink, p: MeteredAttempt): void {
  const created = p.created;
  if (created === undefined) return;
  const cost = created.costUsd + unitCostUsd(requestUnits(p.path, p.json, 0, p.method), p.to.target.pricing);
  charge(sink, p, created.usage, Math.round(cost * 1e8) / 1e8, created.reason);
}

/** A pass-through request's usage record, and its admissions settled with it. */
export function charge(sink: UsageSink, p: MeteredAttempt, usage: Usage, cost: number, estimated?: ChargeReason): void {
  // Two ends can race (a timeout and the answer's end): the first charges, the other is not recorded.
  if (p.isSettled()) return;
  const { target } = p.to;
  const rec = usageRecord(p.requestId, 'passthrough', p.route, target, false, usage, cost, estimated);
  sink.record(rec);
  p.observed.metered(rec);
  // Settled with what was recorded: the record never carries a negative count or cost.
  p.settle({ ...usage, inputTokens: rec.inputTokens, outputTokens: rec.outputTokens, cachedInputTokens: rec.cachedInputTokens }, rec.costUsd);
}
