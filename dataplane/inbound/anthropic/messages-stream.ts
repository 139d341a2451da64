import { isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import { anthropicUsage, messageId, type StopReason, stopOf } from './messages-response.js';

type BlockKind = 'text' | 'tool' | 'thinking' | 'redacted_thinking';

export interface AnthropicEvent {
  event: string;
  data: JsonObject;
}

/**
 * Canonical OpenAI chunks → the Anthropic event sequence: message_start, per content block
 * content_block_start / _delta / _stop, message_delta (stop reason + usage), message_stop.
 */
export class MessagesStreamEncoder {
  private started = false;
  /** The open block; a thinking block is `sealed` once its signature came (more reasoning opens another). */
  private block: { index: number; kind: BlockKind; toolIndex?: number; sealed?: boolean } | undefined;
  /** The answer was a refusal (OpenAI's `refusal` text): its stop_reason says so. */
  private refused = false;
  private nextBlock = 0;
  private readonly blockByTool = new Map<number, number>();
  private stop: { stop_reason: StopReason; stop_sequence: string | null } = { stop_reason: 'end_turn', stop_sequence: null };
  private usage: unknown;
  private canonicalUsage: Usage | undefined;
  /** The upstream's own counts before its first chunk (Anthropic's message_start), announced over the estimate. */
  private earlyUsage: Usage | undefined;

  constructor(
    private readonly model: string,
    private readonly stopSequences: readonly string[] = [],
    /**
     * What message_start announces as input_tokens. An upstream other than Anthropic counts the
     * prompt only at the end of its stream, so message_start carries the gateway's estimate (it
     * said 0 before: clients that show context use from message_start showed an empty context);
     * an upstream that counts it up front (Anthropic) has its counts announced instead (reportEarlyUsage);
     * the final message_delta carries the upstream's counts, which the Anthropic SDK takes over
     * (`finalMessage().usage`).
     */
    private readonly estimatedInputTokens = 0,
  ) {}

  /** Usage the upstream gave before its end; only what comes before message_start is announced there. */
  reportEarlyUsage(usage: Usage): void {
    if (!this.started) this.earlyUsage = usage;
  }

  /** The canonical usage the adapter reported (it keeps cache writes apart, the usage chunk cannot). */
  reportUsage(usage: Usage): void {
    this.canonicalUsage = usage;
  }

  private start(chunk: JsonObject, out: AnthropicEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: messageId(chunk.id),
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: this.earlyUsage !== undefined ? anthropicUsage(undefined, this.earlyUsage) : { input_tokens: this.estimatedInputTokens, output_tokens: 0 },
        },
      },
    });
  }

  private closeBlock(out: AnthropicEvent[]): void {
    if (this.block === undefined) return;
    out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.block.index } });
    this.block = undefined;
  }

  private openBlock(kind: BlockKind, contentBlock: JsonObject, out: AnthropicEvent[], toolIndex?: number): number {
    this.closeBlock(out);
    const index = this.nextBlock++;
    this.block = toolIndex === undefined ? { index, kind } : { index, kind, toolIndex };
    out.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: contentBlock } });
    return index;
  }

  /**
   * Reasoning in a chunk: its text (`reasoning_content`, or vLLM's `reasoning`) as thinking_delta,
   * and `thinking_blocks` (canonical extensions from an Anthropic upstream): a signature ends the
   * thinking block, an encrypted block is a redacted_thinking block of its own.
   */
  private reasoning(delta: JsonObject, out: AnthropicEvent[]): void {
    const thinking = delta.reasoning_content ?? delta.reasoning;
    const open = (): number =>
      this.block?.kind === 'thinking' && this.block.sealed !== true ? this.block.index : this.openBlock('thinking', { type: 'thinking', thinking: '', signature: '' }, out);
    if (typeof thinking === 'string' && thinking !== '') {
      out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: open(), delta: { type: 'thinking_delta', thinking } } });
    }
    for (const b of Array.isArray(delta.thinking_blocks) ? delta.thinking_blocks : []) {
      if (!isObject(b)) continue;
      if (b.type === 'thinking' && typeof b.signature === 'string' && b.signature !== '') {
        const index = open();
        out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: b.signature } } });
        if (this.block !== undefined) this.block.sealed = true;
      } else if (b.type === 'redacted_thinking' && typeof b.data === 'string') {
        this.openBlock('redacted_thinking', { type: 'redacted_thinking', data: b.data }, out);
        this.closeBlock(out);
      }
    }
  }

  /** One canonical chunk in, zero or more Anthropic events out. */
  chunk(chunk: JsonObject): AnthropicEvent[] {
    const out: AnthropicEvent[] = [];
    this.start(chunk, out);
    if (chunk.usage !== undefined && chunk.usage !== null) this.usage = chunk.usage;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    for (const c of choices) {
      if (!isObject(c) || (c.index !== undefined && c.index !== 0)) continue;
      const delta = isObject(c.delta) ? c.delta : {};
      this.reasoning(delta, out);
      // A refusal (an OpenAI upstream's) is the answer's text.
      if (typeof delta.refusal === 'string' && delta.refusal !== '') this.refused = true;
      for (const text of [delta.content, delta.refusal]) {
        if (typeof text !== 'string' || text === '') continue;
        const index = this.block?.kind === 'text' ? this.block.index : this.openBlock('text', { type: 'text', text: '' }, out);
        out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } } });
      }
      for (const t of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
        if (!isObject(t)) continue;
        const toolIndex = typeof t.index === 'number' ? t.index : 0;
        const fn = isObject(t.function) ? t.function : {};
        let index = this.blockByTool.get(toolIndex);
        if (index === undefined) {
          const block = { type: 'tool_use', id: typeof t.id === 'string' ? t.id : `toolu_${toolIndex}`, name: typeof fn.name === 'string' ? fn.name : '', input: {} };
          index = this.openBlock('tool', block, out, toolIndex);
          this.blockByTool.set(toolIndex, index);
        }
        if (typeof fn.arguments === 'string' && fn.arguments !== '') {
          out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: fn.arguments } } });
        }
      }
      if (typeof c.finish_reason === 'string') {
        this.stop = this.refused ? { stop_reason: 'refusal', stop_sequence: null } : stopOf(c, this.stopSequences);
        this.closeBlock(out);
      }
    }
    return out;
  }

  /** The stream ended normally. */
  end(): AnthropicEvent[] {
    const out: AnthropicEvent[] = [];
    this.start({}, out);
    this.closeBlock(out);
    const usage = anthropicUsage(this.usage, this.canonicalUsage);
    out.push({ event: 'message_delta', data: { type: 'message_delta', delta: this.stop, usage } });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
    return out;
  }
}
