/**
 * The choice indexes an answer may name (0–127: OpenAI's `n` goes up to 128), and the tool-call
 * indexes within one choice. Everything after the upstream keeps state by these indexes (the
 * guard's held text, the capture assembler, a stream's completeness check), and an upstream is a
 * tenant's endpoint as often as a provider's. In core/ so that an adapter can refuse an answer
 * before it expands it (routing/stream-bounds.ts checks every stream's chunks).
 */
export const MAX_STREAM_CHOICES = 128;
export const MAX_STREAM_TOOL_CALLS = 128;

/** An index as an answer may name it: absent, or an integer in [0, max). */
export const indexInRange = (index: unknown, max: number): boolean => index === undefined || (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < max);

/**
 * The content-block indexes an Anthropic or Bedrock stream may name (text, thinking and tool blocks
 * of one message). Their adapters keep a block's role by its index for the whole stream, and the
 * index is whatever JSON the upstream sent: a megabyte string, again and again, grew the heap.
 */
export const MAX_CONTENT_BLOCKS = 1024;

/** Why a content-block index cannot be taken, or undefined when it is an integer in range. */
export function contentBlockProblem(index: unknown): string | undefined {
  if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < MAX_CONTENT_BLOCKS) return undefined;
  return `upstream stream names content block ${typeof index === 'number' ? String(index) : `of type ${typeof index}`}; the gateway accepts integers 0 to ${MAX_CONTENT_BLOCKS - 1}`;
}
