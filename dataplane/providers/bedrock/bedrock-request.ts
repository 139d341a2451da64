import { restateOutputConfig } from '../shared/output-config.js';
import { refuseUnsupported } from '../shared/unsupported-params.js';
import { checkToolChoice, withAllowedTools } from '../shared/allowed-tools.js';
import { assistantToolCalls } from '../shared/assistant-tool-calls.js';
import { contentParts, inlineFile, type PartWriter } from '../shared/content-parts.js';
import { base64DataUri } from '../shared/data-uri.js';
import { type FunctionTool, functionTools } from '../shared/function-tools.js';
import { isObject } from '../shared/json-guards.js';
import { jsonResponseTool } from '../shared/json-response-tool.js';
import { clientThinking } from '../shared/client-thinking.js';
import { claudeThinking, claudeThinks } from '../shared/reasoning-effort.js';
import { reasoningEffortForThinking } from '../shared/openai-reasoning.js';
import { stopSequences } from '../shared/stop-sequences.js';
import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import type { BedrockContentBlock, BedrockConverseRequest, BedrockImageFormat, BedrockMessage, BedrockToolSpec } from './bedrock-wire.js';
import { type BedrockFamily, bedrockFamily } from './bedrock-family.js';
import type { BedrockNamedFamily } from './contract.js';
import { converseServiceTier } from './bedrock-response.js';

const FORMATS: Record<string, BedrockImageFormat> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

function imageBlock(url: string, param: string): BedrockContentBlock {
  // Converse takes image bytes only; fetching a remote URL would be I/O the adapter does not do.
  if (!url.startsWith('data:')) throw new RequestTranslationError('this provider accepts images as base64 data: URIs only', param);
  const data = base64DataUri(url);
  const format = data === undefined ? undefined : FORMATS[data.mediaType];
  if (data === undefined || format === undefined) {
    throw new RequestTranslationError('images must be base64 data: URIs of type png, jpeg, gif or webp', param);
  }
  return { image: { format, source: { bytes: data.data } } };
}

/**
 * A PDF (a chat file part, a `/v1/messages` document) → a Converse document block, named after
 * its place in the request (`document-messages-0-content-1`): Converse wants a name, unique in
 * the request and of few characters, which a title or filename need not be.
 */
function documentBlock(file: JsonObject, param: string, part: JsonObject): BedrockContentBlock {
  const { mediaType, data } = inlineFile(file, param, part);
  if (mediaType !== 'application/pdf') throw new RequestTranslationError(`files of type ${mediaType} are not supported by this provider (PDF only)`, param);
  return { document: { format: 'pdf', name: `document-${param.replace(/\./g, '-')}`, source: { bytes: data } } };
}

const BLOCKS: PartWriter<BedrockContentBlock> = { text: (text) => ({ text }), image: imageBlock, file: documentBlock };

/**
 * An assistant's earlier reasoning (a canonical extension) as the reasoningContent block Converse
 * returned it in: Claude wants its signed thinking back in a tool loop with thinking on. Unsigned
 * reasoning (another model's) would be refused, and is left out, as is any for other models.
 */
function reasoningBlock(part: JsonObject): BedrockContentBlock | undefined {
  if (part.type === 'redacted_thinking') return typeof part.data === 'string' && part.data !== '' ? { reasoningContent: { redactedContent: part.data } } : undefined;
  if (typeof part.signature !== 'string' || part.signature === '') return undefined;
  return { reasoningContent: { reasoningText: { text: typeof part.thinking === 'string' ? part.thinking : '', signature: part.signature } } };
}

const CLAUDE_ASSISTANT_BLOCKS: PartWriter<BedrockContentBlock> = { ...BLOCKS, thinking: reasoningBlock };

function blocks(content: unknown, param: string, write = BLOCKS): BedrockContentBlock[] {
  return contentParts(content, param, write);
}

function push(messages: BedrockMessage[], role: 'user' | 'assistant', content: BedrockContentBlock[]): void {
  if (content.length === 0) return;
  const last = messages[messages.length - 1];
  if (last !== undefined && last.role === role) last.content.push(...content);
  else messages.push({ role, content });
}

function toolSpec(fn: FunctionTool): BedrockToolSpec {
  const spec: BedrockToolSpec['toolSpec'] = { name: fn.name, inputSchema: { json: fn.parameters ?? { type: 'object', properties: {} } } };
  if (fn.description !== undefined) spec.description = fn.description;
  return { toolSpec: spec };
}

/**
 * OpenAI chat request → Bedrock Converse request (the model id travels in the URL); a /v1/messages
 * client's output_config as response_format and reasoning_effort. `families`: the Provider's
 * `bedrock.modelFamilies`, for model ids (ARNs) that name no family.
 */
export function toConverseRequest(request: JsonObject, modelId = '', families?: Readonly<Record<string, BedrockNamedFamily>>): BedrockConverseRequest {
  const body = withAllowedTools(restateOutputConfig(request));
  refuseUnsupported(body, { penalties: false });
  const family = bedrockFamily(modelId, families);
  const extra = familyFields(body, family, modelId);
  checkToolChoice(body.tool_choice);
  const system: { text: string }[] = [];
  const messages: BedrockMessage[] = [];
  const list = Array.isArray(body.messages) ? body.messages : [];
  list.forEach((m: unknown, i) => {
    const msg = isObject(m) ? m : {};
    const param = `messages.${i}.content`;
    switch (msg.role) {
      case 'system':
      case 'developer':
        for (const b of blocks(msg.content, param)) if ('text' in b) system.push({ text: b.text });
        return;
      case 'user':
        push(messages, 'user', blocks(msg.content, param));
        return;
      case 'assistant': {
        const content = blocks(msg.content, param, family === 'anthropic' ? CLAUDE_ASSISTANT_BLOCKS : BLOCKS);
        for (const call of assistantToolCalls(msg, i, true)) content.push({ toolUse: { toolUseId: call.id, name: call.name, input: call.input } });
        push(messages, 'assistant', content);
        return;
      }
      case 'tool': {
        if (typeof msg.tool_call_id !== 'string') throw new RequestTranslationError('tool message without tool_call_id', `messages.${i}.tool_call_id`);
        // Converse takes text, images and documents in a tool result, and an error as its status (canonical extensions).
        const content: ({ text: string } | Extract<BedrockContentBlock, { image: unknown } | { document: unknown }>)[] = [];
        if (typeof msg.content === 'string') content.push({ text: msg.content });
        else for (const b of blocks(msg.content, param)) if ('text' in b || 'image' in b || 'document' in b) content.push(b);
        if (content.length === 0) content.push({ text: '' });
        const result: Extract<BedrockContentBlock, { toolResult: unknown }>['toolResult'] = { toolUseId: msg.tool_call_id, content };
        if (msg.is_error === true) result.status = 'error';
        push(messages, 'user', [{ toolResult: result }]);
        return;
      }
      default:
        throw new RequestTranslationError(`message role ${String(msg.role)} is not supported`, `messages.${i}.role`);
    }
  });

  const out: BedrockConverseRequest = { messages };
  if (system.length > 0) out.system = system;
  const inference: NonNullable<BedrockConverseRequest['inferenceConfig']> = {};
  const cap = body.max_completion_tokens ?? body.max_tokens;
  if (typeof cap === 'number') inference.maxTokens = cap;
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  const stop = stopSequences(body.stop);
  if (stop !== undefined) inference.stopSequences = stop;
  const thinking = bedrockThinking(body, family, modelId, inference.maxTokens);
  if (thinking !== undefined) {
    extra.thinking = thinking;
    // Claude needs max_tokens above the budget: without the client's cap, the one the budget was fitted to.
    inference.maxTokens ??= CLAUDE_DEFAULT_CAP;
  }
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;
  if (Object.keys(extra).length > 0) out.additionalModelRequestFields = extra;
  const metadata = requestMetadata(body.metadata);
  if (metadata !== undefined) out.requestMetadata = metadata;
  const tier = converseServiceTier(body.service_tier);
  if (tier !== undefined) out.serviceTier = { type: tier };

  const json = jsonResponseTool(body);
  const clientTools = functionTools(body.tools);
  if (json !== undefined) {
    // response_format: the JSON tool (see shared/json-response-tool.ts), beside the client's tools when it offers some.
    const tools = [...(json.withClientTools ? clientTools.map(toolSpec) : []), toolSpec({ name: json.name, description: json.description, parameters: json.schema })];
    out.toolConfig = { tools, toolChoice: json.choice.type === 'any' ? { any: {} } : { tool: { name: json.choice.name } } };
  } else if (clientTools.length > 0 && body.tool_choice !== 'none') {
    // Converse has no tool_choice "none": leave the tools out instead.
    const tools = clientTools.map(toolSpec);
    const choice = body.tool_choice;
    out.toolConfig = { tools };
    if (choice === 'required') out.toolConfig.toolChoice = { any: {} };
    else if (choice === 'auto') out.toolConfig.toolChoice = { auto: {} };
    else if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === 'string') out.toolConfig.toolChoice = { tool: { name: choice.function.name } };
  } else if (hasToolBlocks(messages)) {
    // Converse refuses toolUse/toolResult blocks without a toolConfig ("The toolConfig field must be
    // defined when using toolUse and toolResult content blocks"), even when no tool is on offer now:
    // the client's tools (tool_choice none), else a stub per tool the history names.
    out.toolConfig = { tools: clientTools.length > 0 ? clientTools.map(toolSpec) : historyToolStubs(messages) };
  }
  return out;
}

/** What Converse takes in a requestMetadata key (1–256 characters) or value (0–256); Java's `\s`, spelled out. */
const METADATA_KEY = /^[a-zA-Z0-9 \t\n\x0B\f\r:_@$#=/+,\-.]{1,256}$/;
const METADATA_VALUE = /^[a-zA-Z0-9 \t\n\x0B\f\r:_@$#=/+,\-.]{0,256}$/;
const METADATA_PAIRS = 16;

/**
 * The client's `metadata` (OpenAI keeps it with a stored completion, for filtering) as Converse's
 * `requestMetadata`, which Bedrock records with the request in the account's invocation logs, to
 * filter them by. A pair Converse would refuse (a character outside its set, over 256 characters)
 * is left out rather than fail the request: the answer is the same without it. Before, all of it
 * was dropped.
 */
function requestMetadata(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, string> = {};
  let pairs = 0;
  for (const [key, v] of Object.entries(value)) {
    if (pairs === METADATA_PAIRS) break;
    if (typeof v !== 'string' || !METADATA_KEY.test(key) || !METADATA_VALUE.test(v)) continue;
    out[key] = v;
    pairs++;
  }
  return pairs > 0 ? out : undefined;
}

/**
 * Extended thinking for Claude models (3.7 and later), in additionalModelRequestFields: a
 * /v1/messages client's `thinking` as it sent it (as an anthropic target gets it), else
 * `reasoning_effort` as a budget (see claudeThinking; earlier thinking is sent back, so a tool loop
 * that kept it keeps thinking). Other models have no such field in Converse: nothing is sent.
 */
function bedrockThinking(body: JsonObject, family: BedrockFamily, modelId: string, cap: number | undefined): JsonObject | undefined {
  if (family !== 'anthropic' || !claudeThinks(modelId)) return undefined;
  if (clientThinking(body) !== undefined && isObject(body.thinking)) return body.thinking;
  return claudeThinking(body, modelId, cap ?? CLAUDE_DEFAULT_CAP, true);
}

/**
 * Whether a Claude model thinks on this request (what bedrockThinking sends): its summarized or
 * redacted thinking is billed whole; or a Nova 2 model reasons (it shows its reasoning as
 * `[REDACTED]`, and bills it). The family is read as toConverseRequest reads it, with the
 * Provider's `bedrock.modelFamilies`: before, an application inference profile's ARN placed there
 * as Claude was sent thinking but not seen to reason, and its cut stream was charged no reasoning.
 */
export function bedrockReasonsUnseen(body: JsonObject, modelId: string, families?: Readonly<Record<string, BedrockNamedFamily>>): boolean {
  if (NOVA_REASONS.test(modelId)) return novaEffort(body) !== undefined;
  const thinking = bedrockThinking(body, bedrockFamily(modelId, families), modelId, Number.MAX_SAFE_INTEGER);
  return thinking !== undefined && thinking.type !== 'disabled';
}

/** The output cap a Claude model's thinking budget is fitted to when the client sets none (an anthropic Provider's default too). */
const CLAUDE_DEFAULT_CAP = 4096;

/**
 * gpt-oss's `reasoning_effort` (low, medium, high; it always reasons, at medium unless told): the
 * client's own, the other levels as the nearest (`none` and `minimal` → low, `xhigh` and `max` →
 * high; a /v1/messages `output_config.effort` has been restated as it by now), else a /v1/messages
 * client's `thinking` budget in the bands OpenAI-wire targets use. Before, it was never sent.
 */
function gptOssEffort(body: JsonObject): 'low' | 'medium' | 'high' | undefined {
  const asked = body.reasoning_effort;
  if (typeof asked !== 'string') return reasoningEffortForThinking(body, 'gpt-oss');
  if (asked === 'low' || asked === 'medium' || asked === 'high') return asked;
  if (asked === 'none' || asked === 'minimal') return 'low';
  return asked === 'xhigh' || asked === 'max' ? 'high' : undefined;
}

/** The Nova models that reason when asked (Nova 2's extended thinking, off by default); Nova 1 has no such field. */
const NOVA_REASONS = /nova-2/i;

/**
 * Nova 2's `reasoningConfig.maxReasoningEffort` (low, medium, high) for the client's
 * `reasoning_effort` (`minimal` → low, `xhigh` and `max` → high; `none` leaves reasoning off, Nova's
 * default), else a /v1/messages client's `thinking` budget in the bands OpenAI-wire targets use.
 * Before, Nova 2 never reasoned through the gateway.
 */
function novaEffort(body: JsonObject): 'low' | 'medium' | 'high' | undefined {
  const asked = body.reasoning_effort;
  if (typeof asked !== 'string') return reasoningEffortForThinking(body, 'gpt-oss');
  if (asked === 'low' || asked === 'medium' || asked === 'high') return asked;
  if (asked === 'minimal') return 'low';
  return asked === 'xhigh' || asked === 'max' ? 'high' : undefined;
}

/** The Mistral models whose request body has `top_k` (Bedrock's Mistral text-completion models); the chat models' has none. */
const MISTRAL_TOP_K = /mistral-7b|mixtral-8x7b|mistral-small-2402|mistral-large-2402/i;

/**
 * The sampling fields beyond inferenceConfig, in additionalModelRequestFields under the name the
 * model family documents, since Converse refuses a field the family does not know (400
 * "extraneous key [top_k] is not permitted"): before, `top_k` went as `top_k` to every model, so
 * a request with it failed on Nova, Llama, DeepSeek and the other families that have no such key.
 *
 * `top_k`: Claude and Mistral's text-completion models `top_k`, Nova `inferenceConfig.topK`,
 * Cohere `k`; the other families have none, and it is left out, as on `openai` targets (the
 * clients that send it are /v1/messages ones, which send it as a matter of course). A model id
 * that names no family (a provisioned throughput's ARN, say) and that the Provider's
 * `bedrock.modelFamilies` does not place gets no family-specific field: guessing Claude's `top_k`
 * (as before) failed every such request to another family.
 * Penalties: Cohere Command R and OpenAI's gpt-oss take `frequency_penalty` and `presence_penalty`
 * as OpenAI names them; for the others a non-zero one would change the answer and is a 400
 * `unsupported_by_provider` naming it and the model (0, OpenAI's default, is dropped), as before.
 * OpenAI's GPT-5 and later models on Bedrock take Responses-style fields and answer "Unknown
 * parameter" to these: they are not gpt-oss. `seed` (which changes nothing but repeatability)
 * goes as `seed` to the same two, and is left out for the others; gpt-oss also gets its
 * `reasoning_effort` (gptOssEffort), and Nova 2 its `reasoningConfig` (novaEffort).
 */
function familyFields(body: JsonObject, family: BedrockFamily, modelId: string): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  const topK = body.top_k;
  if (typeof topK === 'number') {
    if (family === 'anthropic' || (family === 'mistral' && MISTRAL_TOP_K.test(modelId))) extra.top_k = topK;
    else if (family === 'nova') extra.inferenceConfig = { topK };
    else if (family === 'cohere') extra.k = topK;
  }
  const gptOss = family === 'openai' && /gpt-oss/i.test(modelId);
  const takesPenalties = gptOss || (family === 'cohere' && /command-r/i.test(modelId));
  if (takesPenalties && typeof body.seed === 'number') extra.seed = body.seed;
  const effort = gptOss ? gptOssEffort(body) : undefined;
  if (effort !== undefined) extra.reasoning_effort = effort;
  const novaReasons = family === 'nova' && NOVA_REASONS.test(modelId) ? novaEffort(body) : undefined;
  if (novaReasons !== undefined) extra.reasoningConfig = { type: 'enabled', maxReasoningEffort: novaReasons };
  for (const param of ['frequency_penalty', 'presence_penalty'] as const) {
    const value = body[param];
    if (typeof value !== 'number' || value === 0) continue;
    if (!takesPenalties) throw new RequestTranslationError(`${param} (other than 0) is not supported by bedrock model ${modelId}`, param);
    extra[param] = value;
  }
  return extra;
}

function hasToolBlocks(messages: BedrockMessage[]): boolean {
  return messages.some((m) => m.content.some((b) => 'toolUse' in b || 'toolResult' in b));
}

/**
 * A tool for each name the history's toolUse blocks call, taking any object. A history of tool
 * results only (their calls are not in the request) names none: one stub stands in.
 */
function historyToolStubs(messages: BedrockMessage[]): BedrockToolSpec[] {
  const names = new Set<string>();
  for (const m of messages) for (const b of m.content) if ('toolUse' in b) names.add(b.toolUse.name);
  if (names.size === 0) names.add('tool');
  return [...names].map((name) => toolSpec({ name, parameters: { type: 'object', properties: {} } }));
}
