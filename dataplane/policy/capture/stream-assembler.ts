import type { JsonObject } from '../../core/canonical.js';

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
 * Characters of streamed text that all the streams being recorded keep together, half of them at
 * most for one namespace's streams. Without capture a stream costs the data plane the same memory
 * however long it runs; recording its answer keeps the text, and an upstream that streams without
 * end (a tenant's own endpoint, a model given no output limit) would otherwise grow the heap until
 * the pod is killed, with every tenant's requests on it.
 */
export class StreamTextBudget {
  private used = 0;
  private readonly byNamespace = new Map<string, number>();

  constructor(readonly maxChars: number) {}

  /** Up to `chars` more characters for a stream of `namespace`: how many may be kept. */
  take(namespace: string, chars: number): number {
    const held = this.byNamespace.get(namespace) ?? 0;
    const granted = Math.max(0, Math.min(chars, this.maxChars - this.used, Math.floor(this.maxChars / 2) - held));
    if (granted > 0) {
      this.used += granted;
      this.byNamespace.set(namespace, held + granted);
    }
    return granted;
  }

  give(namespace: string, chars: number): void {
    if (chars <= 0) return;
    this.used = Math.max(0, this.used - chars);
    const left = (this.byNamespace.get(namespace) ?? 0) - chars;
    if (left > 0) this.byNamespace.set(namespace, left);
    else this.byNamespace.delete(namespace);
  }

  get held(): number {
    return this.used;
  }
}

/** The data plane's: 32 Mi characters (up to 64 MiB of heap) of streamed answers being recorded at once. */
export const STREAM_TEXT_BUDGET = new StreamTextBudget(32 * 1024 * 1024);

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
  /** Characters not kept, per choice. */
  private readonly cut = new Map<number, number>();
  private kept = 0;

  constructor(
    private readonly maxChars = Number.POSITIVE_INFINITY,
    private readonly budget?: StreamTextBudget,
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
    const granted = this.budget === undefined ? room : this.budget.take(this.namespace, room);
    this.kept += granted;
    if (granted < text.length) this.cut.set(index, (this.cut.get(index) ?? 0) + text.length - granted);
    return granted === text.length ? text : text.slice(0, granted);
  }

  /** Gives the characters this stream kept back to the budget (the record has been made from them). */
  release(): void {
    this.budget?.give(this.namespace, this.kept);
    this.kept = 0;
  }

  private addToolCall(choice: AssembledChoice, call: JsonObject): void {
    const calls = (choice.message.tool_calls ??= []);
    const index = typeof call.index === 'number' ? call.index : calls.length;
    let target = calls[index];
    if (target === undefined) {
      target = { type: typeof call.type === 'string' ? call.type : 'function', function: { name: '', arguments: '' } };
      calls[index] = target;
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
        return { ...c, message: { ...c.message, content: cut === undefined ? text : `${text}${streamCutMarker(cut)}` } };
      });
    const out: JsonObject = { object: 'chat.completion', choices };
    if (this.id !== undefined) out.id = this.id;
    if (this.model !== undefined) out.model = this.model;
    if (this.usage !== undefined) out.usage = this.usage;
    return out;
  }
}
