import { isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import type { ResponsesEcho } from './responses-request.js';
import {
  functionCallItem,
  messageItem,
  outputTextPart,
  type ResponseShell,
  responseObject,
  responsesId,
  responsesUsage,
  statusOf,
} from './responses-response.js';

/** One typed Responses stream event: `event:` is its `type`, `data` carries `sequence_number`. */
export interface ResponsesEvent {
  event: string;
  data: JsonObject;
}

type OpenItem =
  | { kind: 'message'; id: string; outputIndex: number; text: string; refusal: string; part?: { index: number; type: 'output_text' | 'refusal' }; parts: JsonObject[] }
  | { kind: 'call'; id: string; outputIndex: number; callId: string; name: string; args: string };

/**
 * Canonical OpenAI chat chunks → the Responses event sequence: response.created, response.in_progress,
 * per output item output_item.added / content_part.added / output_text.delta (or
 * function_call_arguments.delta) / …done, then the terminal response.completed (or .incomplete, or
 * .failed) holding the whole Response with usage. Only the first choice is translated (the Responses
 * API has no `n`).
 */
export class ResponsesStreamEncoder {
  private sequence = 0;
  private shell: ResponseShell | undefined;
  private open: OpenItem | undefined;
  private readonly callsByIndex = new Map<number, number>();
  private readonly output: JsonObject[] = [];
  private finishReason: unknown;
  private chatUsage: unknown;
  private canonicalUsage: Usage | undefined;
  private upstreamId: unknown;
  /** Characters of text, refusal and arguments kept for the done events and the terminal Response. */
  keptChars = 0;

  constructor(
    private readonly echo: ResponsesEcho,
    private readonly createdAt: number,
  ) {}

  /** The canonical usage the adapter reported (what metering charged). */
  reportUsage(usage: Usage): void {
    this.canonicalUsage = usage;
  }

  private emit(out: ResponsesEvent[], type: string, fields: JsonObject): void {
    out.push({ event: type, data: { type, sequence_number: this.sequence++, ...fields } });
  }

  private start(chunk: JsonObject, out: ResponsesEvent[]): ResponseShell {
    if (this.shell !== undefined) return this.shell;
    this.upstreamId = chunk.id;
    const shell: ResponseShell = { id: responsesId('resp', chunk.id), createdAt: this.createdAt, echo: this.echo };
    this.shell = shell;
    const response = responseObject(shell, { status: 'in_progress', output: [] });
    this.emit(out, 'response.created', { response });
    this.emit(out, 'response.in_progress', { response });
    return shell;
  }

  private closePart(item: Extract<OpenItem, { kind: 'message' }>, out: ResponsesEvent[]): void {
    const part = item.part;
    if (part === undefined) return;
    const at = { item_id: item.id, output_index: item.outputIndex, content_index: part.index };
    let done: JsonObject;
    if (part.type === 'output_text') {
      done = outputTextPart(item.text);
      this.emit(out, 'response.output_text.done', { ...at, text: item.text, logprobs: [] });
    } else {
      done = { type: 'refusal', refusal: item.refusal };
      this.emit(out, 'response.refusal.done', { ...at, refusal: item.refusal });
    }
    this.emit(out, 'response.content_part.done', { ...at, part: done });
    item.parts.push(done);
    item.part = undefined;
  }

  private closeItem(out: ResponsesEvent[], status: 'completed' | 'incomplete'): void {
    const item = this.open;
    if (item === undefined) return;
    let done: JsonObject;
    if (item.kind === 'message') {
      this.closePart(item, out);
      done = messageItem(item.id, status, item.parts);
    } else {
      this.emit(out, 'response.function_call_arguments.done', { item_id: item.id, output_index: item.outputIndex, name: item.name, arguments: item.args });
      done = functionCallItem(item.id, item.callId, item.name, item.args, 'completed');
    }
    this.emit(out, 'response.output_item.done', { output_index: item.outputIndex, item: done });
    this.output.push(done);
    this.open = undefined;
  }

  private message(out: ResponsesEvent[]): Extract<OpenItem, { kind: 'message' }> {
    if (this.open?.kind === 'message') return this.open;
    this.closeItem(out, 'completed');
    const item: Extract<OpenItem, { kind: 'message' }> = { kind: 'message', id: responsesId('msg', this.upstreamId), outputIndex: this.output.length, text: '', refusal: '', parts: [] };
    this.open = item;
    this.emit(out, 'response.output_item.added', { output_index: item.outputIndex, item: messageItem(item.id, 'in_progress', []) });
    return item;
  }

  private part(item: Extract<OpenItem, { kind: 'message' }>, type: 'output_text' | 'refusal', out: ResponsesEvent[]): number {
    if (item.part?.type === type) return item.part.index;
    this.closePart(item, out);
    const index = item.parts.length;
    item.part = { index, type };
    const part = type === 'output_text' ? outputTextPart('') : { type: 'refusal', refusal: '' };
    this.emit(out, 'response.content_part.added', { item_id: item.id, output_index: item.outputIndex, content_index: index, part });
    return index;
  }

  private text(delta: string, out: ResponsesEvent[]): void {
    const item = this.message(out);
    const index = this.part(item, 'output_text', out);
    item.text += delta;
    this.keptChars += delta.length;
    this.emit(out, 'response.output_text.delta', { item_id: item.id, output_index: item.outputIndex, content_index: index, delta, logprobs: [] });
  }

  private refusal(delta: string, out: ResponsesEvent[]): void {
    const item = this.message(out);
    const index = this.part(item, 'refusal', out);
    item.refusal += delta;
    this.keptChars += delta.length;
    this.emit(out, 'response.refusal.delta', { item_id: item.id, output_index: item.outputIndex, content_index: index, delta });
  }

  private toolCall(t: JsonObject, out: ResponsesEvent[]): void {
    const toolIndex = typeof t.index === 'number' ? t.index : 0;
    const fn = isObject(t.function) ? t.function : {};
    let item = this.open?.kind === 'call' && this.callsByIndex.get(toolIndex) === this.open.outputIndex ? this.open : undefined;
    if (item === undefined) {
      // Chat streams send one tool call's fragments together; a new index starts the next item.
      this.closeItem(out, 'completed');
      const outputIndex = this.output.length;
      const callId = typeof t.id === 'string' && t.id !== '' ? t.id : `call_${toolIndex}`;
      item = { kind: 'call', id: responsesId('fc', this.upstreamId, `_${toolIndex}`), outputIndex, callId, name: typeof fn.name === 'string' ? fn.name : '', args: '' };
      this.open = item;
      this.callsByIndex.set(toolIndex, outputIndex);
      this.emit(out, 'response.output_item.added', { output_index: outputIndex, item: functionCallItem(item.id, item.callId, item.name, '', 'in_progress') });
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      item.args += fn.arguments;
      this.keptChars += fn.arguments.length;
      this.emit(out, 'response.function_call_arguments.delta', { item_id: item.id, output_index: item.outputIndex, delta: fn.arguments });
    }
  }

  /** One canonical chunk in, zero or more Responses events out. */
  chunk(chunk: JsonObject): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    this.start(chunk, out);
    if (isObject(chunk.usage)) this.chatUsage = chunk.usage;
    for (const c of Array.isArray(chunk.choices) ? chunk.choices : []) {
      if (!isObject(c) || (c.index !== undefined && c.index !== 0)) continue;
      const delta = isObject(c.delta) ? c.delta : {};
      if (typeof delta.content === 'string' && delta.content !== '') this.text(delta.content, out);
      if (typeof delta.refusal === 'string' && delta.refusal !== '') this.refusal(delta.refusal, out);
      for (const t of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) if (isObject(t)) this.toolCall(t, out);
      if (typeof c.finish_reason === 'string') this.finishReason = c.finish_reason;
    }
    return out;
  }

  /** The stream ended normally: close what is open, then response.completed (or .incomplete). */
  end(): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    const shell = this.start({}, out);
    const { status, incomplete_details } = statusOf(this.finishReason);
    this.closeItem(out, status === 'incomplete' ? 'incomplete' : 'completed');
    const response = responseObject(shell, { status, output: this.output, incomplete_details, usage: responsesUsage(this.chatUsage, this.canonicalUsage) });
    this.emit(out, status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
    return out;
  }

  /**
   * The stream cannot complete (upstream failure, idle timeout, budget cut): an `error` event, then
   * response.failed with what was produced so far, so SDK stream helpers end with the error.
   */
  fail(code: 'server_error' | 'rate_limit_exceeded' | 'guardrail_blocked' | 'guardrail_unavailable', message: string): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    const shell = this.start({}, out);
    this.closeItem(out, 'incomplete');
    this.emit(out, 'error', { code, message, param: null });
    const response = responseObject(shell, { status: 'failed', output: this.output, error: { code, message }, usage: responsesUsage(this.chatUsage, this.canonicalUsage) });
    this.emit(out, 'response.failed', { response });
    return out;
  }
}
