import type { JsonObject, ToolFees, Usage } from '../core/canonical.js';
import { estimatedUsage, type MeteredUsage, usageProblem } from './settled-usage.js';
import { REASONED_AFTER_ANSWER } from './reasoning-bound.js';
import { carriesAnswer, outputTextOf, startsReasoning } from './token-estimate.js';

/** What a chunk costs besides its text (id, model, choice fields), for the bound on kept chunks. */
const CHUNK_ENVELOPE_BYTES = 256;

/**
 * Watches the chunks of a stream so that it is charged even when the upstream never reports usage
 * (an OpenAI-compatible server that ignores include_usage, a stream cut short, a report that cannot
 * be true).
 */
export class StreamMeter {
  private outputBytes = 0;
  private reported: Usage | undefined;
  private partial: Usage | undefined;
  /** The tool fees the stream showed (StreamStep.toolsSeen): set only on a stream that showed some. */
  private tools: ToolFees | undefined;
  private problem: 'invalid' | undefined;
  /** The chunks as written, kept only when the response may be cached, and only up to keepChunksUpTo bytes. */
  readonly chunks: JsonObject[] = [];
  private keptBytes = 0;
  /** The stream outgrew keepChunksUpTo: its chunks were dropped and it will not be cached. */
  private dropped = false;
  /** The stream ended normally (the upstream's end of stream was seen), so it may be cached. */
  completed = false;
  /** Called once when the stream completes, before [DONE] reaches the client (so a cache write wins the race with a repeat). */
  onCompleted: (() => void) | undefined;

  /** Sees every chunk as it is written (capture assembles the answer from them). */
  onChunk: ((chunk: JsonObject) => void) | undefined;

  /** Asked after every chunk with the usage so far; a reason ends the stream (a budget's hard cap). */
  guard: ((soFar: Usage) => string | undefined) | undefined;
  /** Why the stream was cut, once it was. */
  cutReason: string | undefined;
  /** The stream ended without its end marker (an error event was written instead). */
  truncated = false;
  /**
   * Date.now() when the first chunk of the answer (not its reasoning) was seen; 0 before, and
   * REASONED_AFTER_ANSWER once reasoning showed after it. Bounds what a cut stream reasoned unseen
   * (metering/reasoning-bound.ts): a field here, not a record per stream.
   */
  answerAt = 0;

  complete(): void {
    if (this.completed) return;
    this.completed = true;
    if (!this.dropped) this.onCompleted?.();
  }

  /**
   * keepChunksUpTo: bytes of chunks (about: their text plus a fixed envelope each) kept for the
   * cache; 0 keeps none. A stream that outgrows it is not cached rather than held whole in memory.
   */
  constructor(
    private readonly promptTokensEstimate: number,
    private readonly keepChunksUpTo = 0,
    /** Of the prompt estimate, the audio tokens (priced as audio when the estimate is charged). */
    private readonly promptAudioEstimate = 0,
  ) {}

  observe(chunk: JsonObject): void {
    const text = outputTextOf(chunk);
    const bytes = text === '' ? 0 : Buffer.byteLength(text, 'utf8');
    this.outputBytes += bytes;
    if (bytes > 0) {
      if (this.answerAt !== REASONED_AFTER_ANSWER) this.sawOutput(chunk);
    } else if (this.answerAt > 0 && startsReasoning(chunk)) this.answerAt = REASONED_AFTER_ANSWER;
    if (this.keepChunksUpTo > 0 && !this.dropped) this.keep(chunk, bytes);
    this.onChunk?.(chunk);
    if (this.guard !== undefined && this.cutReason === undefined) this.cutReason = this.guard(this.result().usage);
  }

  /** Output the client does not see (reasoning) counts in the estimate, and for a budget's cut, like text. */
  observeHidden(bytes: number): void {
    this.outputBytes += bytes;
    if (this.answerAt > 0) this.answerAt = REASONED_AFTER_ANSWER;
    if (this.guard !== undefined && this.cutReason === undefined) this.cutReason = this.guard(this.result().usage);
  }

  private sawOutput(chunk: JsonObject): void {
    if (carriesAnswer(chunk)) {
      if (this.answerAt === 0) this.answerAt = Date.now();
    } else if (this.answerAt > 0) this.answerAt = REASONED_AFTER_ANSWER;
  }

  /** Output tokens estimated from what the stream carried (its text, reasoning shown, hidden bytes reported). */
  get outputTokensSeen(): number {
    return Math.ceil(this.outputBytes / 4);
  }

  private keep(chunk: JsonObject, textBytes: number): void {
    this.keptBytes += textBytes + CHUNK_ENVELOPE_BYTES;
    if (this.keptBytes > this.keepChunksUpTo) {
      this.dropped = true;
      this.chunks.length = 0;
      return;
    }
    this.chunks.push(chunk);
  }

  /** Usage the upstream reported; a report that cannot be true (or is all zeros) is ignored: the estimate counts. */
  report(usage: Usage): void {
    const problem = usageProblem(usage);
    if (this.problem === 'invalid') return;
    if (problem === undefined) this.reported = usage;
    else if (problem === 'invalid') {
      // One impossible report discredits the stream's usage: earlier partial counts are not trusted either.
      this.problem = problem;
      this.reported = undefined;
    }
  }

  /** Whether the upstream reported usage that can be true (else result() is an estimate). */
  get reportedUsage(): boolean {
    return this.reported !== undefined;
  }

  /** Usage reported before the end (not final): a stream cut short is charged at least this. */
  reportPartial(usage: Usage): void {
    if (usageProblem(usage) === undefined) this.partial = usage;
  }

  /** The built-in tool fees the stream has shown so far: a stream cut before its usage is charged them. */
  reportTools(tools: ToolFees): void {
    this.tools = tools;
  }

  /**
   * What the stream is charged. `hiddenReasoning`: of a stream without usage (cut short, or ended
   * by a server that ignores include_usage), a bound on the reasoning it never showed
   * (metering/reasoning-bound.ts), added to the output estimated from what it showed. A stream cut
   * short so is marked `cut_reasoning_bound`, one that ended normally stays `missing`.
   */
  result(hiddenReasoning = 0): MeteredUsage {
    if (this.reported !== undefined) return { usage: this.reported };
    const bounded = hiddenReasoning > 0 && this.problem !== 'invalid';
    const estimate = estimatedUsage(this.promptTokensEstimate, Math.ceil(this.outputBytes / 4) + (bounded ? hiddenReasoning : 0), this.promptAudioEstimate);
    const estimated = this.problem === 'invalid' ? 'invalid' : !this.truncated ? 'missing' : bounded ? 'cut_reasoning_bound' : 'truncated';
    const partial = this.problem === 'invalid' ? undefined : this.partial;
    // Tools the stream showed are charged even beside an impossible report: they were seen run.
    if (partial === undefined) return { usage: withToolsSeen(estimate, this.tools), estimated };
    // What the upstream counted so far (the real prompt, hidden reasoning) or what was seen of the
    // text, whichever is more: never less than either.
    const usage: Usage = {
      // Its audio, image and tier figures priced as reported.
      ...partial,
      inputTokens: Math.max(partial.inputTokens, estimate.inputTokens),
      outputTokens: Math.max(partial.outputTokens, estimate.outputTokens),
      cachedInputTokens: Math.min(partial.cachedInputTokens, Math.max(partial.inputTokens, estimate.inputTokens)),
    };
    return { usage: withToolsSeen(usage, this.tools), estimated };
  }
}

/** `usage` (built for this result) with at least the tool fees a stream showed. */
function withToolsSeen(usage: Usage, tools: ToolFees | undefined): Usage {
  if (tools === undefined) return usage;
  const web = Math.max(usage.webSearchCalls ?? 0, tools.webSearchCalls ?? 0);
  const file = Math.max(usage.fileSearchCalls ?? 0, tools.fileSearchCalls ?? 0);
  const gb = Math.max(usage.containerGb ?? 0, tools.containerGb ?? 0);
  if (web > 0) usage.webSearchCalls = web;
  if (file > 0) usage.fileSearchCalls = file;
  if (gb > 0) usage.containerGb = gb;
  return usage;
}
