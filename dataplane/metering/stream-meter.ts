import type { JsonObject, Usage } from '../providers/types.js';
import { estimateTokens } from './token-estimate.js';

/**
 * Watches the chunks of a stream so that it is charged even when the upstream never reports usage
 * (an OpenAI-compatible server that ignores include_usage, or a stream cut short).
 */
export class StreamMeter {
  private outputChars = 0;
  private reported: Usage | undefined;
  /** The chunks as written, kept only when the response may be cached. */
  readonly chunks: JsonObject[] = [];
  /** The stream ended normally ([DONE]), so it may be cached. */
  completed = false;
  /** Called once when the stream completes, before [DONE] reaches the client (so a cache write wins the race with a repeat). */
  onCompleted: (() => void) | undefined;

  /** Asked after every chunk with the usage so far; a reason ends the stream (a budget's hard cap). */
  guard: ((soFar: Usage) => string | undefined) | undefined;
  /** Why the stream was cut, once it was. */
  cutReason: string | undefined;

  complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.onCompleted?.();
  }

  constructor(
    private readonly promptTokensEstimate: number,
    private readonly keepChunks = false,
  ) {}

  observe(chunk: JsonObject): void {
    if (this.keepChunks) this.chunks.push(chunk);
    this.track(chunk);
    if (this.guard !== undefined && this.cutReason === undefined) this.cutReason = this.guard(this.result().usage);
  }

  private track(chunk: JsonObject): void {
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (typeof c !== 'object' || c === null) continue;
      const choice = c as JsonObject;
      const delta = choice.delta as JsonObject | undefined;
      const text = delta?.content ?? choice.text;
      if (typeof text === 'string') this.outputChars += text.length;
      const calls = delta?.tool_calls;
      if (Array.isArray(calls)) this.outputChars += JSON.stringify(calls).length;
    }
  }

  report(usage: Usage): void {
    this.reported = usage;
  }

  result(): { usage: Usage; estimated: boolean } {
    if (this.reported !== undefined) return { usage: this.reported, estimated: false };
    return {
      usage: { inputTokens: this.promptTokensEstimate, outputTokens: Math.ceil(this.outputChars / 4), cachedInputTokens: 0 },
      estimated: true,
    };
  }
}
