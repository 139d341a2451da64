import type { JsonObject, StreamStep } from '../../core/canonical.js';
import type { CompiledRule } from './compiled-rule.js';
import type { ActiveGuardrails, RequestInfo } from './guardrail-engine.js';
import type { GuardrailDecision } from './guardrail-decision.js';
import { guardrailRefusal } from './guardrail-refusal.js';
import { countTypes, maskSpans, type Span } from './span.js';

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
  private readonly held = new Map<number, string>();
  /** The released (masked) answer per choice, kept only when remote rules need it at the end. */
  private readonly answer = new Map<number, string>();
  private readonly ended = new Set<number>();
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
      for (const [k, v] of Object.entries(extra.findings)) d.findings[k] = (d.findings[k] ?? 0) + v;
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

  /** Releases what may go out of a choice's held text: all of it at the end, else all but the window. */
  private release(index: number, final: boolean): string {
    const text = this.held.get(index) ?? '';
    const window = this.guardrails.holdBackChars;
    if (!final && text.length <= window) return '';
    let cut = final ? text.length : text.length - window;
    // A match that starts before the cut is complete (it is at most the window long): release all of it.
    for (let grew = true; grew && cut < text.length; ) {
      grew = false;
      for (const rule of this.spanRules) {
        if (rule.kind !== 'span') continue;
        for (const s of rule.scan(text)) {
          if (s.start < cut && s.end > cut) {
            cut = s.end;
            grew = true;
          }
        }
      }
    }
    let out = text.slice(0, cut);
    this.held.set(index, text.slice(cut));
    for (const rule of this.spanRules) {
      if (rule.kind !== 'span') continue;
      const spans: Span[] = rule.scan(out);
      if (spans.length === 0) continue;
      const d = this.record(rule, rule.config.action, { findings: countTypes(spans) });
      if (rule.config.action === 'Block') this.block(d);
      if (rule.config.action === 'Mask') out = maskSpans(out, spans);
    }
    if (this.remoteRules.length > 0) this.answer.set(index, (this.answer.get(index) ?? '') + out);
    return out;
  }

  /** The remote rules on a choice's whole answer. */
  private async finishChoice(index: number): Promise<void> {
    if (this.ended.has(index)) return;
    this.ended.add(index);
    const text = this.answer.get(index) ?? '';
    this.answer.delete(index);
    for (const rule of this.remoteRules) {
      if (rule.kind !== 'remote') continue;
      const verdict = await rule.ask([{ role: 'assistant', text }], { ...this.info, policy: rule.policy, rule: rule.config.name, phase: 'Response' });
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
      const out = await this.chunk(chunk);
      if (out !== undefined) chunks.push(out);
    }
    if (step.done === true) {
      const tail = await this.flush();
      chunks.push(...tail);
    }
    // Built field by field, never spread: a step may carry the upstream's own bytes for its chunks,
    // which must not reach the client in place of the checked ones.
    const out: StreamStep = { chunks };
    if (step.usage !== undefined) out.usage = step.usage;
    if (step.failure !== undefined) out.failure = step.failure;
    if (step.done !== undefined) out.done = step.done;
    return out;
  }

  private async chunk(chunk: JsonObject): Promise<JsonObject | undefined> {
    const choices = Array.isArray(chunk.choices) ? chunk.choices : undefined;
    if (choices === undefined || choices.length === 0) return chunk;
    const out: JsonObject[] = [];
    for (const c of choices) {
      if (!isObject(c)) continue;
      const index = typeof c.index === 'number' ? c.index : 0;
      const found = textOf(c);
      const finished = typeof c.finish_reason === 'string';
      if (found === undefined) {
        if (finished) {
          const rest = this.release(index, true);
          await this.finishChoice(index);
          out.push(rest === '' ? c : withText(c, rest, isObject(c.delta) || c.text === undefined));
        } else out.push(c);
        continue;
      }
      this.template = { chunk, chat: found.chat };
      this.held.set(index, (this.held.get(index) ?? '') + found.text);
      const released = this.release(index, finished);
      if (finished) await this.finishChoice(index);
      const next = withText(c, released, found.chat);
      if (!empty(next, found.chat)) out.push(next);
    }
    if (out.length === 0 && (chunk.usage === undefined || chunk.usage === null)) return undefined;
    return { ...chunk, choices: out };
  }

  /** The end of the stream: whatever is still held goes out (checked), and remote rules run on choices that gave no finish. */
  private async flush(): Promise<JsonObject[]> {
    const out: JsonObject[] = [];
    for (const index of [...this.held.keys()].sort((a, b) => a - b)) {
      const rest = this.release(index, true);
      await this.finishChoice(index);
      const t = this.template;
      if (rest === '' || t === undefined) continue;
      const choice = t.chat ? { index, delta: { content: rest }, finish_reason: null } : { index, text: rest, finish_reason: null };
      out.push({ ...t.chunk, choices: [choice] });
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
