import type { JsonObject, StreamStep } from '../../core/canonical.js';
import type { CompiledRule } from './compiled-rule.js';
import type { ActiveGuardrails, RequestInfo } from './guardrail-engine.js';
import type { GuardrailDecision } from './guardrail-decision.js';
import { guardrailRefusal } from './guardrail-refusal.js';
import { countTypes, maskSpans, type Span } from './span.js';
import { TOOL_CALL_ROLE } from './content-text.js';
import { chunkOtherText, isHeldDeltaField } from './answer-text.js';
import { scanDecoded, windowStart } from './json-escapes.js';

/**
 * The held key of a chat delta's own string field besides `content` (a refusal, the reasoning that
 * servers such as vLLM stream, or a field the gateway does not know: isHeldDeltaField). Each is held
 * back and checked as the content is; the `s:` keeps a field named like a number apart from calls.
 */
const sideKey = (index: number, field: string): string => `${index}:s:${field}`;

/** Whether a held key is a function call's arguments (`<choice>:<call number>`), which are JSON; a custom call's input (`<choice>:c<call number>`) is free text. */
const isCallKey = (key: string): boolean => /^\d+:-?\d+$/.test(key);

/** A held call of a choice: its number, and whether it is a custom tool's call (input, not arguments). */
interface HeldCall {
  call: number;
  custom: boolean;
}
const callSuffix = (c: HeldCall): string => `${c.custom ? 'c' : ''}${c.call}`;

/** The call number of a choice's legacy `function_call` among its held calls (tool calls count from 0). */
const FUNCTION_CALL = -1;

/**
 * Chunk-level fields (by path) a stream carries a tail of, and the longest path carried: a stream
 * keeps at most MAX_CARRIED_FIELDS × (the window + the path) characters of them (fields past the
 * first 32 are checked chunk by chunk).
 */
const MAX_CARRIED_FIELDS = 32;
const MAX_CARRIED_PATH = 256;

/** Characters of a stream's answer held for its webhook and moderation rules (all choices and calls). */
export const MAX_CHECKED_CHARS = 16 * 1024 * 1024;

/** What of a started stream the guard reads: the steps already read and the rest (the router's stream outcome). */
interface StepStream {
  first: StreamStep[];
  rest: AsyncGenerator<StreamStep, void, undefined>;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a choice's text is in a chunk: `delta.content` (chat) or `text` (completions). */
function textOf(choice: JsonObject): { text: string; chat: boolean } | undefined {
  if (isObject(choice.delta) && typeof choice.delta.content === 'string') return { text: choice.delta.content, chat: true };
  if (typeof choice.text === 'string') return { text: choice.text, chat: false };
  return undefined;
}

function withText(choice: JsonObject, text: string, chat: boolean): JsonObject {
  if (chat) return { ...choice, delta: { ...(choice.delta as JsonObject), content: text } };
  return { ...choice, text };
}


/** A choice that now carries nothing: no text, no role, no tool call, no finish. */
function empty(choice: JsonObject, chat: boolean): boolean {
  if (choice.finish_reason !== null && choice.finish_reason !== undefined) return false;
  if (!chat) return choice.text === '';
  const delta = choice.delta as JsonObject;
  return Object.entries(delta).every(([k, v]) => (k === 'content' ? v === '' : v === undefined || v === null));
}

/**
 * Response rules over a stream. Span rules (built-in detectors, patterns, deny lists) see each
 * choice's text through a held-back window: the last `holdBackChars` characters are kept until
 * more text follows (or the choice ends), so a match of up to that length is seen whole before any
 * of it is released; released text is masked or the stream is blocked. Remote rules (webhook,
 * moderation) run once per choice at its end, on the whole answer, before its finish reaches the
 * client. A block ends the stream with an error event; nothing is silently cut.
 */
export class StreamGuard {
  private readonly spanRules: CompiledRule[];
  private readonly remoteRules: CompiledRule[];
  /** Held text by key: `<choice>` for a choice's text, `<choice>:<call>` for a tool call's arguments (`<choice>:-1` for a legacy function call), `<choice>:c<call>` for a custom tool call's input, `<choice>:<field>` for a side field's text. */
  private readonly held = new Map<string, string>();
  /** The released (masked) text per key, kept only when remote rules need it at the end. */
  private readonly answer = new Map<string, string>();
  /** Characters kept in `answer` for the stream; past MAX_CHECKED_CHARS nothing more is kept. */
  private kept = 0;
  private overflowed = false;
  private readonly ended = new Set<number>();
  /**
   * The tool calls each choice has held (`<choice>:<call>` and `<choice>:c<call>` keys, by suffix),
   * by choice: a choice's calls are found here, not by scanning every held key, which cost time
   * quadratic in the choices a stream names.
   */
  private readonly calls = new Map<number, Map<string, HeldCall>>();
  /** The side fields (isHeldDeltaField) each choice has held, by choice. */
  private readonly sides = new Map<number, Set<string>>();
  /**
   * Released text of chunks' other fields (chunkOtherText) by path, for the remote rules at the next
   * choice's end: a field's fragments are one text (between them, another field's value may come).
   */
  private readonly others = new Map<string, string>();
  /**
   * The last window of each chunk-level field's text as the upstream sent it (by path), and the
   * length of its last value: made for a stream only when it carries such fields (most never do).
   */
  private tails: Map<string, { tail: string; length: number }> | undefined;
  private readonly decisions = new Map<string, GuardrailDecision>();
  private template: { chunk: JsonObject; chat: boolean } | undefined;
  private blocked = false;

  constructor(
    private readonly guardrails: ActiveGuardrails,
    private readonly info: RequestInfo,
  ) {
    this.spanRules = guardrails.responseRules.filter((r) => r.kind === 'span');
    this.remoteRules = guardrails.responseRules.filter((r) => r.kind === 'remote');
  }

  /** One decision per rule per stream, with the findings of every window added up. */
  get recorded(): GuardrailDecision[] {
    return [...this.decisions.values()];
  }

  /** The policies whose rules masked part of the answer. */
  get maskedBy(): string[] {
    return [...new Set([...this.decisions.values()].filter((d) => d.action === 'Mask').map((d) => d.policy))];
  }

  private record(rule: CompiledRule, action: GuardrailDecision['action'], extra: Partial<GuardrailDecision> = {}): GuardrailDecision {
    const key = `${rule.policy}/${rule.config.name}`;
    const found = this.decisions.get(key);
    const d: GuardrailDecision = found ?? { policy: rule.policy, rule: rule.config.name, phase: 'Response', action, detector: rule.config.detector.kind };
    if (extra.findings !== undefined) {
      d.findings ??= {};
      const into = d.findings;
      // Own counts only: a custom pattern may be named `constructor` or `toString` (Object.prototype's).
      for (const [k, v] of Object.entries(extra.findings)) into[k] = (Object.hasOwn(into, k) ? (into[k] as number) : 0) + v;
    }
    const { findings: _f, ...rest } = extra;
    Object.assign(d, rest, { action: found !== undefined && found.action === 'Block' ? 'Block' : action });
    this.decisions.set(key, d);
    return d;
  }

  private block(d: GuardrailDecision): never {
    this.blocked = true;
    // The pump writes a GatewayError thrown out of the stream as the dialect's error event.
    throw guardrailRefusal(d);
  }

  /** Releases what may go out of a key's held text: all of it at the end, else all but the window. */
  private release(key: string, final: boolean): string {
    const text = this.held.get(key) ?? '';
    const window = this.guardrails.holdBackChars;
    if (!final && text.length <= window) return '';
    // A tool call's arguments are JSON: scanned decoded, with the window counted in decoded
    // characters and never cut inside an escape (escapes must not stretch a match past the window,
    // nor `\u0040` split in two hide the `@` from both halves).
    const call = isCallKey(key);
    const scan = (rule: CompiledRule & { kind: 'span' }, t: string): Span[] => (call ? scanDecoded(t, (d) => rule.scan(d)) : rule.scan(t));
    let cut = final ? text.length : call ? windowStart(text, window) : text.length - window;
    // A match that starts before the cut is complete (it is at most the window long): release all of it.
    for (let grew = true; grew && cut < text.length; ) {
      grew = false;
      for (const rule of this.spanRules) {
        if (rule.kind !== 'span') continue;
        for (const s of scan(rule, text)) {
          if (s.start < cut && s.end > cut) {
            cut = s.end;
            grew = true;
          }
        }
      }
    }
    let out = text.slice(0, cut);
    this.held.set(key, text.slice(cut));
    for (const rule of this.spanRules) {
      if (rule.kind !== 'span') continue;
      const spans: Span[] = scan(rule, out);
      if (spans.length === 0) continue;
      const d = this.record(rule, rule.config.action, { findings: countTypes(spans) });
      if (rule.config.action === 'Block') this.block(d);
      if (rule.config.action === 'Mask') out = maskSpans(out, spans);
    }
    if (this.remoteRules.length > 0 && !this.overflowed) {
      if (this.kept + out.length > MAX_CHECKED_CHARS) {
        // An endless answer would be held whole for the check: it cannot be checked, so its rules
        // fail, and their failureMode decides.
        this.overflowed = true;
        this.answer.clear();
      } else {
        this.kept += out.length;
        this.answer.set(key, (this.answer.get(key) ?? '') + out);
      }
    }
    return out;
  }

  /** The remote rules on a choice's whole answer: its text, then each tool call's arguments. */
  private async finishChoice(index: number): Promise<void> {
    if (this.ended.has(index)) return;
    this.ended.add(index);
    const texts = [{ role: 'assistant', text: this.answer.get(`${index}`) ?? '' }];
    this.answer.delete(`${index}`);
    for (const field of this.sides.get(index) ?? []) {
      const key = sideKey(index, field);
      if (!this.answer.has(key)) continue;
      texts.push({ role: 'assistant', text: this.answer.get(key) ?? '' });
      this.answer.delete(key);
    }
    this.sides.delete(index);
    if (this.others.size > 0) {
      texts.push({ role: 'assistant', text: [...this.others.values()].join('\n') });
      this.others.clear();
    }
    for (const { key } of this.heldCalls(index)) {
      if (!this.answer.has(key)) continue;
      texts.push({ role: TOOL_CALL_ROLE, text: this.answer.get(key) ?? '' });
      this.answer.delete(key);
    }
    this.calls.delete(index);
    if (this.tails !== undefined) {
      // A finished choice's fields carry nothing on (and would take the places of later ones).
      const prefix = `choices.${index}.`;
      for (const path of this.tails.keys()) if (path.startsWith(prefix)) this.tails.delete(path);
    }
    for (const rule of this.remoteRules) {
      if (rule.kind !== 'remote') continue;
      const verdict = this.overflowed
        ? { ok: false as const, error: `the answer passed ${MAX_CHECKED_CHARS} characters, more than a check is sent` }
        : await rule.ask(texts, { ...this.info, policy: rule.policy, rule: rule.config.name, phase: 'Response' });
      if (!verdict.ok) {
        if (rule.failureMode === 'Closed') this.block(this.record(rule, 'Block', { error: verdict.error }));
        this.record(rule, 'Allow', { error: verdict.error });
        continue;
      }
      if (!verdict.flagged) continue;
      const extra: Partial<GuardrailDecision> = {};
      if (verdict.categories !== undefined) extra.categories = verdict.categories;
      if (verdict.reason !== undefined) extra.reason = verdict.reason;
      // What was released cannot be masked any more: on a stream a flagged Mask answer ends it like Block.
      const action = rule.config.action === 'Monitor' ? 'Monitor' : 'Block';
      const d = this.record(rule, action, extra);
      if (action === 'Block') this.block(d);
    }
  }

  /** One step of the stream with its text held back, released, masked, or the block thrown. */
  async step(step: StreamStep): Promise<StreamStep> {
    const chunks: JsonObject[] = [];
    for (const chunk of step.chunks) {
      chunks.push(...(await this.chunk(chunk)));
    }
    if (step.done === true) {
      const tail = await this.flush();
      chunks.push(...tail);
    }
    // Built field by field, never spread: a step may carry the upstream's own bytes for its chunks,
    // which must not reach the client in place of the checked ones.
    const out: StreamStep = { chunks };
    if (step.usage !== undefined) out.usage = step.usage;
    if (step.partialUsage !== undefined) out.partialUsage = step.partialUsage;
    if (step.toolsSeen !== undefined) out.toolsSeen = step.toolsSeen;
    if (step.hiddenOutputBytes !== undefined) out.hiddenOutputBytes = step.hiddenOutputBytes;
    if (step.failure !== undefined) out.failure = step.failure;
    if (step.done !== undefined) out.done = step.done;
    return out;
  }

  private append(key: string, text: string): void {
    this.held.set(key, (this.held.get(key) ?? '') + text);
  }

  /** A choice's held tool calls with their keys, in call order. */
  private heldCalls(index: number): (HeldCall & { key: string })[] {
    const calls = this.calls.get(index);
    if (calls === undefined) return [];
    return [...calls.values()].sort((a, b) => a.call - b.call || Number(a.custom) - Number(b.custom)).map((c) => ({ ...c, key: `${index}:${callSuffix(c)}` }));
  }

  /** The rest of a choice's tool-call arguments and side fields, released at its end: a chunk to send before its finish. */
  private callTails(index: number, chunk: JsonObject): JsonObject | undefined {
    const calls: JsonObject[] = [];
    let legacy: string | undefined;
    for (const { key, call, custom } of this.heldCalls(index)) {
      if (!this.held.has(key)) continue;
      const rest = this.release(key, true);
      this.held.delete(key);
      if (rest === '') continue;
      if (custom) calls.push({ index: call, custom: { input: rest } });
      else if (call === FUNCTION_CALL) legacy = rest;
      else calls.push({ index: call, function: { arguments: rest } });
    }
    const delta: JsonObject = {};
    for (const field of this.sides.get(index) ?? []) {
      const key = sideKey(index, field);
      if (!this.held.has(key)) continue;
      const rest = this.release(key, true);
      this.held.delete(key);
      if (rest !== '') delta[field] = rest;
    }
    if (calls.length === 0 && legacy === undefined && Object.keys(delta).length === 0) return undefined;
    if (calls.length > 0) delta.tool_calls = calls;
    if (legacy !== undefined) delta.function_call = { arguments: legacy };
    return { ...chunk, choices: [{ index, delta, finish_reason: null }] };
  }

  /** A chat delta's side fields (refusal, reasoning, unknown string fields) held back and released through the window, each under its own key. */
  private sideTexts(choice: JsonObject, index: number): JsonObject {
    const delta = choice.delta;
    if (!isObject(delta)) return choice;
    let out: JsonObject | undefined;
    for (const field in delta) {
      const text = delta[field];
      if (!isHeldDeltaField(field, text)) continue;
      out ??= { ...delta };
      let sides = this.sides.get(index);
      if (sides === undefined) this.sides.set(index, (sides = new Set()));
      sides.add(field);
      const key = sideKey(index, field);
      this.append(key, text);
      const released = this.release(key, false);
      if (released === '') delete out[field];
      else out[field] = released;
    }
    return out === undefined ? choice : { ...choice, delta: out };
  }

  /**
   * A chunk's strings outside what is held back (chunkOtherText: fields of the chunk, its choices,
   * deltas and tool calls the gateway does not know): each is checked by the span rules after the
   * tail its field (by path) carried in the chunks before, masked where it stands or the stream
   * blocked, and kept for the remote rules. They are not held back: the gateway cannot tell a
   * fragment to be joined (OpenRouter's `reasoning_details[].text`) from a value sent whole in
   * every chunk (a format, a citation list), and re-cutting the latter would corrupt it. So a match
   * split across chunks is found when its last part arrives: Block ends the stream before that part
   * goes out; Mask masks that part (the earlier ones have gone out).
   */
  private otherTexts(chunk: JsonObject): JsonObject {
    const other = chunkOtherText(chunk);
    if (other === undefined) return chunk;
    const texts = other.slots.map((slot) => slot.text);
    // What each text is scanned as: its field's carried tail, then the text itself.
    const tails = texts.map((text, i) => this.tailOf(other.paths[i] ?? '', text));
    let masked = false;
    for (const rule of this.spanRules) {
      if (rule.kind !== 'span') continue;
      texts.forEach((text, i) => {
        const tail = tails[i] ?? '';
        const scanned = tail + text;
        const found = other.slots[i]?.json === true ? scanDecoded(scanned, (d) => rule.scan(d)) : rule.scan(scanned);
        // A match wholly in the tail was this field's in an earlier chunk (checked then); one that
        // reaches into this text is this text's from its start.
        const spans: Span[] = [];
        for (const s of found) if (s.end > tail.length) spans.push(tail === '' ? s : { ...s, start: Math.max(0, s.start - tail.length), end: s.end - tail.length });
        if (spans.length === 0) return;
        const d = this.record(rule, rule.config.action, { findings: countTypes(spans) });
        if (rule.config.action === 'Block') this.block(d);
        if (rule.config.action === 'Mask') {
          texts[i] = maskSpans(text, spans);
          masked = true;
        }
      });
    }
    other.slots.forEach((slot, i) => this.carry(other.paths[i] ?? '', tails[i] ?? '', slot.text, slot.json === true));
    if (this.remoteRules.length > 0 && !this.overflowed) {
      // A new field's path counts too: an upstream naming endless fields is bounded as one sending endless text.
      const size = texts.reduce((n, t, i) => n + t.length + (this.others.has(other.paths[i] ?? '') ? 0 : (other.paths[i] ?? '').length), 0);
      if (this.kept + size > MAX_CHECKED_CHARS) {
        this.overflowed = true;
        this.answer.clear();
        this.others.clear();
      } else {
        this.kept += size;
        texts.forEach((text, i) => {
          const path = other.paths[i] ?? '';
          this.others.set(path, (this.others.get(path) ?? '') + text);
        });
      }
    }
    return masked ? other.write(texts) : chunk;
  }

  /**
   * The tail a field carries into this chunk's `text`: none when the text only repeats the field's
   * last value (the same length and ending: a value sent whole in every chunk is not a fragment).
   */
  private tailOf(path: string, text: string): string {
    const carried = this.tails?.get(path);
    if (carried === undefined) return '';
    return text.length === carried.length && text.endsWith(carried.tail) ? '' : carried.tail;
  }

  /** Keeps the last window of a field's text (`tail` + `text`) for its next chunk, for at most MAX_CARRIED_FIELDS fields a stream. */
  private carry(path: string, tail: string, text: string, json: boolean): void {
    const window = this.guardrails.holdBackChars;
    if (window === 0 || path === '' || path.length > MAX_CARRIED_PATH) return;
    this.tails ??= new Map();
    if (!this.tails.has(path) && this.tails.size >= MAX_CARRIED_FIELDS) return;
    const scanned = tail + text;
    // JSON is never cut inside an escape (json-escapes.ts), and its window counts decoded characters.
    const from = json ? windowStart(scanned, window) : Math.max(0, scanned.length - window);
    this.tails.set(path, { tail: scanned.slice(from), length: text.length });
  }

  /** Holds a call's arguments (or custom input) fragment under its key and returns what of them may go out now. */
  private holdCall(index: number, call: number, fragment: string, custom = false): string {
    let calls = this.calls.get(index);
    if (calls === undefined) this.calls.set(index, (calls = new Map()));
    const held = { call, custom };
    calls.set(callSuffix(held), held);
    const key = `${index}:${callSuffix(held)}`;
    this.append(key, fragment);
    return this.release(key, false);
  }

  /** A chat delta's tool calls (and legacy function call) with their arguments held back and released through the window. */
  private toolCalls(choice: JsonObject, index: number): JsonObject {
    const delta = choice.delta;
    if (!isObject(delta)) return choice;
    const legacy = isObject(delta.function_call) && typeof delta.function_call.arguments === 'string' ? delta.function_call : undefined;
    if (!Array.isArray(delta.tool_calls) && legacy === undefined) return choice;
    const { tool_calls: _calls, function_call: _fn, ...rest } = delta;
    const out: JsonObject = { ...rest };
    if (Array.isArray(delta.tool_calls)) {
      const kept: unknown[] = [];
      for (const call of delta.tool_calls) {
        if (!isObject(call)) {
          kept.push(call);
          continue;
        }
        const number = typeof call.index === 'number' ? call.index : 0;
        let out: JsonObject = call;
        let named = call.id !== undefined;
        let emptied = false;
        const fn = isObject(call.function) ? call.function : undefined;
        if (fn !== undefined && typeof fn.arguments === 'string') {
          const released = this.holdCall(index, number, fn.arguments);
          out = { ...out, function: { ...fn, arguments: released } };
          named ||= fn.name !== undefined;
          emptied = released === '';
        }
        // A custom tool's call streams its free-text input as a function call streams its arguments.
        const custom = isObject(call.custom) ? call.custom : undefined;
        if (custom !== undefined && typeof custom.input === 'string') {
          const released = this.holdCall(index, number, custom.input, true);
          out = { ...out, custom: { ...custom, input: released } };
          named ||= custom.name !== undefined;
          emptied = (fn === undefined || emptied) && released === '';
        }
        // A fragment whose text is all held back still carries the call's id and name when it has them.
        if (!emptied || named) kept.push(out);
      }
      if (kept.length > 0) out.tool_calls = kept;
    }
    if (legacy === undefined && delta.function_call !== undefined) out.function_call = delta.function_call;
    else if (legacy !== undefined) {
      const released = this.holdCall(index, FUNCTION_CALL, legacy.arguments as string);
      if (released !== '' || legacy.name !== undefined) out.function_call = { ...legacy, arguments: released };
    }
    return { ...choice, delta: out };
  }

  private async chunk(upstream: JsonObject): Promise<JsonObject[]> {
    const chunk = this.otherTexts(upstream);
    const choices = Array.isArray(chunk.choices) ? chunk.choices : undefined;
    if (choices === undefined || choices.length === 0) return [chunk];
    const before: JsonObject[] = [];
    const out: JsonObject[] = [];
    for (const c of choices) {
      if (!isObject(c)) continue;
      const index = typeof c.index === 'number' ? c.index : 0;
      const found = textOf(c);
      const finished = typeof c.finish_reason === 'string';
      let next = this.sideTexts(this.toolCalls(c, index), index);
      // A chunk's logprobs repeat its tokens at once, while its text may still be held (or later
      // masked): they never go out (the stage refuses requests that ask for them).
      if (next.logprobs !== undefined && next.logprobs !== null) next = { ...next, logprobs: null };
      // A spoken answer's audio cannot be held back with its transcript nor masked: it never goes
      // out (the stage refuses requests that ask for it), transcript and all.
      if (isObject(next.delta) && next.delta.audio !== undefined) {
        const { audio: _audio, ...delta } = next.delta;
        next = { ...next, delta };
      }
      if (found !== undefined) {
        this.template = { chunk, chat: found.chat };
        this.append(`${index}`, found.text);
        next = withText(next, this.release(`${index}`, finished), found.chat);
      }
      if (finished) {
        const tails = this.callTails(index, chunk);
        if (tails !== undefined) before.push(tails);
        if (found === undefined) {
          const rest = this.release(`${index}`, true);
          if (rest !== '') next = withText(next, rest, isObject(c.delta) || c.text === undefined);
        }
        // All of its text is out: nothing of it is held any more (flush would go over it again).
        this.held.delete(`${index}`);
        await this.finishChoice(index);
      }
      // Untouched choices pass as they are; one that now carries nothing (all held back) is left out.
      if (next === c || !empty(next, found?.chat ?? isObject(c.delta))) out.push(next);
    }
    if (out.length === 0 && (chunk.usage === undefined || chunk.usage === null)) return before;
    return [...before, { ...chunk, choices: out }];
  }

  /** The end of the stream: whatever is still held goes out (checked), and remote rules run on choices that gave no finish. */
  private async flush(): Promise<JsonObject[]> {
    const out: JsonObject[] = [];
    const indexes = new Set([...this.held.keys()].map((k) => Number(k.split(':')[0])));
    for (const index of [...indexes].sort((a, b) => a - b)) {
      const rest = this.release(`${index}`, true);
      this.held.delete(`${index}`);
      const t = this.template;
      if (rest !== '' && t !== undefined) {
        const choice = t.chat ? { index, delta: { content: rest }, finish_reason: null } : { index, text: rest, finish_reason: null };
        out.push({ ...t.chunk, choices: [choice] });
      }
      const tails = this.callTails(index, this.template?.chunk ?? {});
      if (tails !== undefined) out.push(tails);
      await this.finishChoice(index);
    }
    return out;
  }

  get wasBlocked(): boolean {
    return this.blocked;
  }
}

/**
 * The stream as the client may see it: every step (the already-read first ones too) goes through
 * the guard; a block throws out of the stream, which the pump writes as an error event. The
 * upstream is closed when this stream is, and `onEnd` gets the decisions once.
 */
export function guardStream<T extends StepStream>(outcome: T, guard: StreamGuard, onEnd: (decisions: GuardrailDecision[]) => void): T {
  const source = outcome.rest;
  const first = outcome.first;
  async function* steps(): AsyncGenerator<StreamStep, void, undefined> {
    try {
      for (const step of first) yield await guard.step(step);
      for (;;) {
        const next = await source.next();
        if (next.done === true) return;
        yield await guard.step(next.value);
      }
    } finally {
      onEnd(guard.recorded);
      await source.return(undefined).catch(() => undefined);
    }
  }
  return { ...outcome, first: [], rest: steps() };
}
