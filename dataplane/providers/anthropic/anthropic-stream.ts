import type { SseEvent } from '../../sse/sse-parser.js';
import type { StreamTransformer } from '../types.js';
import type { JsonObject, StreamStep, Usage } from '../../core/canonical.js';
import { finishWithJsonTool } from '../shared/json-response-tool.js';
import { usageChunk } from '../shared/openai-usage.js';
import { finishReasonFrom, stopSequenceField, usageFromAnthropic } from './anthropic-response.js';
import { streamErrorFailure } from './anthropic-errors.js';
import type { AnthropicStreamEvent, AnthropicUsage } from './anthropic-wire.js';
import { contentBlockProblem } from '../../core/choice-bounds.js';

const NOTHING: StreamStep = { chunks: [] };

/**
 * Anthropic's named-event stream → OpenAI chat.completion.chunk objects. One id/created for the
 * whole stream; OpenAI tool call indexes count tool calls only, not Anthropic content blocks.
 */
export class AnthropicStreamTransformer implements StreamTransformer {
  private id = 'msg';
  private model = '';
  private usage: Partial<AnthropicUsage> = {};
  private toolIndexByBlock = new Map<number, number>();
  /** Content blocks of the response_format tool, whose input streams out as content. */
  private jsonBlocks = new Set<number>();
  private finished = false;

  constructor(
    private readonly clientWantsUsage: boolean,
    private readonly created: number,
    private readonly jsonTool?: string,
  ) {}

  private chunk(delta: JsonObject, finishReason: string | null = null, extra: JsonObject = {}): JsonObject {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...extra }],
    };
  }

  onEvent(event: SseEvent): StreamStep {
    let parsed: AnthropicStreamEvent;
    try {
      parsed = JSON.parse(event.data) as AnthropicStreamEvent;
    } catch {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream sent a stream event that is not JSON' } };
    }
    if (typeof parsed !== 'object' || parsed === null) return NOTHING;
    switch (parsed.type) {
      case 'message_start':
        this.id = parsed.message.id;
        this.model = parsed.message.model;
        this.usage = { ...parsed.message.usage };
        // The prompt's real size, known from the start: what a stream cut short is charged at least.
        return { chunks: [this.chunk({ role: 'assistant', content: '' })], partialUsage: usageFromAnthropic(this.usage) };
      case 'content_block_start': {
        const refused = contentBlockProblem(parsed.index);
        if (refused !== undefined) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: refused } };
        const block = parsed.content_block;
        if (block.type === 'tool_use' && 'id' in block && block.name === this.jsonTool) {
          this.jsonBlocks.add(parsed.index);
          return NOTHING;
        }
        if (block.type === 'tool_use' && 'id' in block) {
          const index = this.toolIndexByBlock.size;
          this.toolIndexByBlock.set(parsed.index, index);
          return { chunks: [this.chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })] };
        }
        if (block.type === 'text' && 'text' in block && block.text !== '') return { chunks: [this.chunk({ content: block.text })] };
        // Reasoning streams as reasoning_content; its end (a signature) or an encrypted block as thinking_blocks (canonical extensions).
        if (block.type === 'thinking' && 'thinking' in block && block.thinking !== '') return { chunks: [this.chunk({ reasoning_content: block.thinking })] };
        if (block.type === 'redacted_thinking' && 'data' in block) return { chunks: [this.chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: block.data }] })] };
        return NOTHING;
      }
      case 'content_block_delta': {
        const d = parsed.delta;
        if (d.type === 'text_delta') return { chunks: [this.chunk({ content: d.text })] };
        if (d.type === 'input_json_delta' && this.jsonBlocks.has(parsed.index)) return d.partial_json === '' ? NOTHING : { chunks: [this.chunk({ content: d.partial_json })] };
        if (d.type === 'input_json_delta') {
          const index = this.toolIndexByBlock.get(parsed.index);
          if (index === undefined || d.partial_json === '') return NOTHING;
          return { chunks: [this.chunk({ tool_calls: [{ index, function: { arguments: d.partial_json } }] })] };
        }
        if (d.type === 'thinking_delta') return d.thinking === '' ? NOTHING : { chunks: [this.chunk({ reasoning_content: d.thinking })] };
        if (d.type === 'signature_delta') return { chunks: [this.chunk({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: d.signature }] })] };
        return NOTHING;
      }
      case 'message_delta': {
        // Counts are cumulative: overwrite, never add.
        this.usage = { ...this.usage, ...definedOnly(parsed.usage) };
        this.finished = true;
        const finish = finishWithJsonTool(finishReasonFrom(parsed.delta.stop_reason), this.toolIndexByBlock.size);
        return { chunks: [this.chunk({}, finish, stopSequenceField(parsed.delta.stop_reason, parsed.delta.stop_sequence))] };
      }
      case 'message_stop':
        return this.final();
      case 'error':
        return { chunks: [], failure: streamErrorFailure(parsed.error.type, parsed.error.message) };
      default:
        return NOTHING; // ping, content_block_stop, and event types added later
    }
  }

  private final(): StreamStep {
    const usage: Usage = usageFromAnthropic(this.usage);
    const chunks = this.clientWantsUsage ? [usageChunk(this.id, this.created, this.model, usage)] : [];
    return { chunks, usage, done: true };
  }

  onEnd(): StreamStep {
    if (!this.finished) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended before the message was complete' } };
    return this.final();
  }
}

function definedOnly(u: Partial<AnthropicUsage> | undefined): Partial<AnthropicUsage> {
  const out: Partial<AnthropicUsage> = {};
  if (u === undefined) return out;
  for (const [k, v] of Object.entries(u)) if (typeof v === 'number') (out as Record<string, number>)[k] = v;
  return out;
}
