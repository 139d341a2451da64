// Amazon Bedrock Converse / ConverseStream wire types (bedrock-runtime), the subset the gateway uses.

export type BedrockImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

export type BedrockContentBlock =
  | { text: string }
  | { image: { format: BedrockImageFormat; source: { bytes: string } } }
  | BedrockDocumentBlock
  | { toolUse: { toolUseId: string; name: string; input: unknown } }
  | { toolResult: { toolUseId: string; content: ({ text: string } | { json: unknown } | { image: { format: BedrockImageFormat; source: { bytes: string } } } | BedrockDocumentBlock)[]; status?: 'success' | 'error' } }
  | { reasoningContent: BedrockReasoningContent };

/** A document Converse reads (a PDF here); `name` may hold only letters, digits, single spaces, hyphens, parentheses and brackets. */
export interface BedrockDocumentBlock {
  document: { format: 'pdf'; name: string; source: { bytes: string } };
}

/** A model's reasoning (Claude's extended thinking): its text and signature, or the encrypted form (base64). */
export type BedrockReasoningContent = { reasoningText: { text: string; signature?: string } } | { redactedContent: string };

export interface BedrockMessage {
  role: 'user' | 'assistant';
  content: BedrockContentBlock[];
}

export interface BedrockToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: unknown } };
}

export interface BedrockConverseRequest {
  messages: BedrockMessage[];
  system?: { text: string }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: BedrockToolSpec[]; toolChoice?: { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } } };
  additionalModelRequestFields?: Record<string, unknown>;
  /** Up to 16 string pairs recorded with the request in the account's model invocation logs. */
  requestMetadata?: Record<string, string>;
  /** The processing tier (Bedrock's service tiers); absent: the standard one. */
  serviceTier?: { type: BedrockServiceTier };
}

export type BedrockServiceTier = 'priority' | 'default' | 'flex' | 'reserved';

export type BedrockStopReason =
  | 'end_turn'
  | 'tool_use'
  | 'max_tokens'
  | 'stop_sequence'
  | 'guardrail_intervened'
  | 'content_filtered'
  | 'model_context_window_exceeded'
  | 'malformed_model_output'
  | 'malformed_tool_use';

export interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  /** The cache writes by TTL (`5m`, `1h`). */
  cacheDetails?: { ttl?: string; inputTokens?: number }[];
}

export interface BedrockConverseResponse {
  output?: { message?: { role: 'assistant'; content: BedrockContentBlock[] } };
  stopReason?: BedrockStopReason | string;
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
  /** The tier the request was served at. */
  serviceTier?: { type?: BedrockServiceTier | string };
}

/** ConverseStream event payloads, keyed by the `:event-type` header. */
export interface BedrockStreamEvents {
  messageStart: { role: 'assistant' };
  contentBlockStart: { contentBlockIndex: number; start?: { toolUse?: { toolUseId: string; name: string } } };
  contentBlockDelta: {
    contentBlockIndex: number;
    /** reasoningContent: one of its reasoning text, the signature that ends it, or an encrypted block. */
    delta: { text?: string; toolUse?: { input: string }; reasoningContent?: { text?: string; signature?: string; redactedContent?: string } };
  };
  contentBlockStop: { contentBlockIndex: number };
  messageStop: { stopReason: BedrockStopReason | string };
  metadata: { usage?: BedrockUsage; metrics?: { latencyMs?: number }; serviceTier?: { type?: BedrockServiceTier | string } };
}
