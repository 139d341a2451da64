import type { JsonObject } from '../../core/canonical.js';
import { CaptureMemory } from './capture-memory.js';

interface AssembledToolCall {
  id?: string;
  type: string;
  function: { name: string; arguments: string };
}

interface AssembledChoice {
  index: number;
  message: { role: string; content: string; tool_calls?: AssembledToolCall[] };
  finish_reason: string | null;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The data plane's characters of streamed text that all the streams being recorded keep together:
 * 32 Mi (up to 64 MiB of heap), half of them at most for one namespace's streams. Without capture a
 * stream costs the data plane the same memory however long it runs; recording its answer keeps the
 * text, and an upstream that streams without end (a tenant's own endpoint, a model given no output
 * limit) would otherwise grow the heap until the pod is killed, with every tenant's requests on it.
 */
export const STREAM_TEXT_BUDGET = new CaptureMemory(32 * 1024 * 1024);

/** Ends the text of an answer whose stream carried more than was kept. */
export const streamCutMarker = (chars: number): string => `[STREAM CUT: ${chars} characters not recorded]`;

/**
 * Folds a stream's canonical (OpenAI chat.completion.chunk) chunks into the one response they
 * amount to — text, tool calls, finish reason, usage — so a streamed answer is recorded as its
 * result, never chunk by chunk. It keeps at most `maxChars` characters of text and tool-call
 * arguments (a record keeps no more than maxRecordBytes anyway), and no more than `budget` lets the
 * streams of its namespace and all streams keep at once; what it does not keep is counted, and the
 * answer ends with streamCutMarker.
 * `release` gives its characters back to the budget once the record has them.
 */
export class StreamAssembler {
  private readonly choices = new Map<number, AssembledChoice>();
  private readonly parts = new Map<number, string[]>();
  /**
   * Tool calls per choice, by their index. A Map, not an array indexed by the upstream's number: a
   * stream naming call 100,000,000 made an array of that length, and the record's JSON of it a
   * hundred million nulls (V8 aborted the data plane). The attempt refuses such indexes now
   * (routing/stream-bounds.ts); a cached stream from before is replayed through here too.
   */
  private readonly calls = new Map<number, Map<number, AssembledToolCall>>();
  /** Characters not kept, per choice. */
  private readonly cut = new Map<number, number>();
  private kept = 0;
  /** Whether this stream is counted in the budget as one of its namespace's (from its first text on). */
  private counted = false;

  constructor(
    private readonly maxChars = Number.POSITIVE_INFINITY,
    private readonly budget?: CaptureMemory,
    /** The namespace the record is filed under: whose share of the budget it takes. */
    private readonly namespace = '',
  ) {}
  private model: unknown;
  private id: unknown;
  private usage: unknown;
  /** The last Response a native Responses stream showed (its events carry the whole Response at the end). */
  private response: JsonObject | undefined;

  add(chunk: JsonObject): void {
    // A Responses event (it has a type), relayed from a target that serves the API natively.
    if (typeof chunk.type === 'string') {
      if (isObject(chunk.response)) this.response = chunk.response;
      return;
    }
    this.id ??= chunk.id;
    this.model ??= chunk.model;
    if (isObject(chunk.usage)) this.usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices) {
      if (!isObject(raw)) continue;
      const index = typeof raw.index === 'number' ? raw.index : 0;
      let choice = this.choices.get(index);
      if (choice === undefined) {
        choice = { index, message: { role: 'assistant', content: '' }, finish_reason: null };
        this.choices.set(index, choice);
        this.parts.set(index, []);
      }
      if (typeof raw.finish_reason === 'string') choice.finish_reason = raw.finish_reason;
      const delta = isObject(raw.delta) ? raw.delta : undefined;
      if (delta === undefined) continue;
      if (typeof delta.role === 'string') choice.message.role = delta.role;
      if (typeof delta.content === 'string') {
        const kept = this.keep(index, delta.content);
        if (kept !== '') this.parts.get(index)!.push(kept);
      }
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call)) this.addToolCall(choice, call);
    }
  }

  /** What of `text` this stream may still keep (a prefix of it); the rest is counted as cut. */
  private keep(index: number, text: string): string {
    const room = Math.max(0, Math.min(text.length, this.maxChars - this.kept));
    let granted = room;
    if (this.budget !== undefined) {
      granted = this.budget.room(this.namespace, room);
      this.budget.add(this.namespace, this.counted ? 0 : 1, granted);
      this.counted = true;
    }
    this.kept += granted;
    if (granted < text.length) this.cut.set(index, (this.cut.get(index) ?? 0) + text.length - granted);
    return granted === text.length ? text : text.slice(0, granted);
  }

  /** Gives the characters this stream kept back to the budget (the record has been made from them). */
  release(): void {
    if (this.counted) this.budget?.remove(this.namespace, 1, this.kept);
    this.counted = false;
    this.kept = 0;
  }

  private addToolCall(choice: AssembledChoice, call: JsonObject): void {
    let calls = this.calls.get(choice.index);
    if (calls === undefined) this.calls.set(choice.index, (calls = new Map()));
    const index = typeof call.index === 'number' ? call.index : calls.size;
    let target = calls.get(index);
    if (target === undefined) {
      target = { type: typeof call.type === 'string' ? call.type : 'function', function: { name: '', arguments: '' } };
      calls.set(index, target);
    }
    if (typeof call.id === 'string') target.id = call.id;
    const fn = isObject(call.function) ? call.function : undefined;
    if (typeof fn?.name === 'string') target.function.name += this.keep(choice.index, fn.name);
    if (typeof fn?.arguments === 'string') target.function.arguments += this.keep(choice.index, fn.arguments);
  }

  /** The assembled response, in the shape of a non-streamed chat.completion (or the Response of a native Responses stream). */
  result(): JsonObject {
    if (this.response !== undefined) return this.response;
    const choices = [...this.choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => {
        const cut = this.cut.get(c.index);
        const text = (this.parts.get(c.index) ?? []).join('');
        const message: AssembledChoice['message'] = { ...c.message, content: cut === undefined ? text : `${text}${streamCutMarker(cut)}` };
        const calls = this.calls.get(c.index);
        if (calls !== undefined) message.tool_calls = [...calls].sort(([a], [b]) => a - b).map(([, call]) => call);
        return { ...c, message };
      });
    const out: JsonObject = { object: 'chat.completion', choices };
    if (this.id !== undefined) out.id = this.id;
    if (this.model !== undefined) out.model = this.model;
    if (this.usage !== undefined) out.usage = this.usage;
    return out;
  }
}
