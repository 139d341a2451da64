import type { ByteStreamTransformer } from '../types.js';
import type { JsonObject, StreamStep, Usage } from '../../core/canonical.js';
import { kindForException } from './bedrock-errors.js';
import { finishWithJsonTool } from '../shared/json-response-tool.js';
import { usageChunk } from '../shared/openai-usage.js';
import { type ConverseReading, finishReasonFrom, stopSequenceField, tieredUsage, usageFromBedrock } from './bedrock-response.js';
import type { BedrockStreamEvents } from './bedrock-wire.js';
import { EventStreamDecoder, EventStreamError, type EventStreamMessage } from './event-stream.js';
import { contentBlockProblem } from '../../core/choice-bounds.js';
import { type JsonShapeLimits, jsonShapeProblem, upstreamShapeFailure } from '../../core/json-shape.js';

const decoder = new TextDecoder();

/**
 * ConverseStream (binary AWS event stream) → OpenAI chunks. Dispatches on the `:message-type` and
 * `:event-type` headers, never on payload keys. Usage arrives in `metadata`, after `messageStop`.
 */
export class BedrockStreamTransformer implements ByteStreamTransformer {
  private readonly frames = new EventStreamDecoder();
  private readonly toolIndexByBlock = new Map<number, number>();
  /** Content blocks of the response_format tool, whose input streams out as content. */
  private readonly jsonBlocks = new Set<number>();
  private finished = false;
  private done = false;

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly clientWantsUsage: boolean,
    private readonly created: number,
    private readonly reading: ConverseReading = {},
    private readonly shape?: JsonShapeLimits,
  ) {}

  private chunk(delta: JsonObject, finishReason: string | null = null, extra: JsonObject = {}): JsonObject {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...extra }] };
  }

  onBytes(bytes: Uint8Array): StreamStep[] {
    let messages: EventStreamMessage[];
    try {
      messages = this.frames.push(bytes);
    } catch (err) {
      const message = err instanceof EventStreamError ? err.message : String(err);
      return [{ chunks: [], failure: { kind: 'ServerError', status: 200, message } }];
    }
    const steps: StreamStep[] = [];
    for (const m of messages) {
      const step = this.onMessage(m);
      steps.push(step);
      if (step.failure !== undefined || step.done === true) break;
    }
    return steps;
  }

  private onMessage(m: EventStreamMessage): StreamStep {
    const messageType = m.headers[':message-type'];
    let payload: JsonObject = {};
    // Bounded before parsing, as the SSE path bounds every other adapter's events (routing/attempt.ts).
    if (this.shape !== undefined) {
      const problem = jsonShapeProblem(m.payload, this.shape.maxDepth, this.shape.maxElements);
      if (problem !== undefined) return { chunks: [], failure: upstreamShapeFailure(problem, this.shape, 'stream event', 200) };
    }
    try {
      const parsed: unknown = m.payload.length === 0 ? {} : JSON.parse(decoder.decode(m.payload));
      if (typeof parsed === 'object' && parsed !== null) payload = parsed as JsonObject;
    } catch {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream sent an event whose payload is not JSON' } };
    }
    if (messageType === 'exception') {
      const type = String(m.headers[':exception-type'] ?? 'exception');
      const message = typeof payload.message === 'string' ? payload.message : type;
      return { chunks: [], failure: { kind: kindForException(type, 0), status: 200, message: `${type}: ${message}` } };
    }
    if (messageType === 'error') {
      return { chunks: [], failure: { kind: 'ServerError', status: 200, message: `${String(m.headers[':error-code'] ?? 'error')}: ${String(m.headers[':error-message'] ?? '')}` } };
    }
    switch (m.headers[':event-type']) {
      case 'messageStart':
        return { chunks: [this.chunk({ role: 'assistant', content: '' })] };
      case 'contentBlockStart': {
        const e = payload as unknown as BedrockStreamEvents['contentBlockStart'];
        const refused = contentBlockProblem(e.contentBlockIndex);
        if (refused !== undefined) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: refused } };
        const tool = e.start?.toolUse;
        if (tool === undefined) return { chunks: [] };
        if (tool.name === this.reading.jsonTool) {
          this.jsonBlocks.add(e.contentBlockIndex);
          return { chunks: [] };
        }
        // A block left out (ConverseReading.singleToolCall) has no index: its input deltas go nowhere.
        if (this.reading.singleToolCall === true && this.toolIndexByBlock.size > 0) return { chunks: [] };
        const index = this.toolIndexByBlock.size;
        this.toolIndexByBlock.set(e.contentBlockIndex, index);
        return { chunks: [this.chunk({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })] };
      }
      case 'contentBlockDelta': {
        const e = payload as unknown as BedrockStreamEvents['contentBlockDelta'];
        if (typeof e.delta?.text === 'string') return { chunks: [this.chunk({ content: e.delta.text })] };
        const input = e.delta?.toolUse?.input;
        if (this.jsonBlocks.has(e.contentBlockIndex)) return typeof input === 'string' && input !== '' ? { chunks: [this.chunk({ content: input })] } : { chunks: [] };
        const index = this.toolIndexByBlock.get(e.contentBlockIndex);
        if (typeof input === 'string' && input !== '' && index !== undefined) return { chunks: [this.chunk({ tool_calls: [{ index, function: { arguments: input } }] })] };
        return { chunks: this.reasoning(e.delta?.reasoningContent) };
      }
      case 'messageStop': {
        const e = payload as unknown as BedrockStreamEvents['messageStop'];
        this.finished = true;
        return { chunks: [this.chunk({}, finishWithJsonTool(finishReasonFrom(e.stopReason), this.toolIndexByBlock.size), stopSequenceField(e.stopReason, this.reading))] };
      }
      case 'metadata': {
        const e = payload as unknown as BedrockStreamEvents['metadata'];
        return this.final(e.usage === undefined ? undefined : tieredUsage(usageFromBedrock(e.usage), e.serviceTier, this.reading));
      }
      default:
        return { chunks: [] }; // contentBlockStop and event types added later
    }
  }

  /**
   * Reasoning (Claude's extended thinking) as an anthropic target's stream carries it (canonical
   * extensions OpenAI clients ignore; metering counts them as output): its text as
   * `reasoning_content`, the signature that ends a block and an encrypted block as `thinking_blocks`.
   * Before, the reasoning was only counted, and /v1/messages clients got no thinking blocks.
   */
  private reasoning(r: BedrockStreamEvents['contentBlockDelta']['delta']['reasoningContent']): JsonObject[] {
    if (r === undefined || r === null || typeof r !== 'object') return [];
    if (typeof r.text === 'string' && r.text !== '') return [this.chunk({ reasoning_content: r.text })];
    if (typeof r.signature === 'string' && r.signature !== '') return [this.chunk({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: r.signature }] })];
    if (typeof r.redactedContent === 'string' && r.redactedContent !== '') return [this.chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: r.redactedContent }] })];
    return [];
  }

  private final(usage: Usage | undefined): StreamStep {
    this.done = true;
    const chunks = this.clientWantsUsage && usage !== undefined ? [usageChunk(this.id, this.created, this.model, usage)] : [];
    return usage === undefined ? { chunks, done: true } : { chunks, usage, done: true };
  }

  onEnd(): StreamStep {
    if (this.frames.pending > 0) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended inside an event-stream message' } };
    if (!this.finished) return { chunks: [], failure: { kind: 'ServerError', status: 200, message: 'upstream stream ended before messageStop' } };
    return this.done ? { chunks: [], done: true } : this.final(undefined);
  }
}
