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
 * Folds a stream's canonical (OpenAI chat.completion.chunk) chunks into the one response they
 * amount to — text, tool calls, finish reason, usage — so a streamed answer is recorded as its
 * result, never chunk by chunk. Work and memory are linear in what the stream carried.
 */
export class StreamAssembler {
  private readonly choices = new Map<number, AssembledChoice>();
  private readonly parts = new Map<number, string[]>();
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
      if (typeof delta.content === 'string') this.parts.get(index)!.push(delta.content);
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call)) this.addToolCall(choice, call);
    }
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
    if (typeof fn?.name === 'string') target.function.name += fn.name;
    if (typeof fn?.arguments === 'string') target.function.arguments += fn.arguments;
  }

  /** The assembled response, in the shape of a non-streamed chat.completion (or the Response of a native Responses stream). */
  result(): JsonObject {
    if (this.response !== undefined) return this.response;
    const choices = [...this.choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => ({ ...c, message: { ...c.message, content: (this.parts.get(c.index) ?? []).join('') } }));
    const out: JsonObject = { object: 'chat.completion', choices };
    if (this.id !== undefined) out.id = this.id;
    if (this.model !== undefined) out.model = this.model;
    if (this.usage !== undefined) out.usage = this.usage;
    return out;
  }
}
