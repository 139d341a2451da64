import { restateOutputConfig } from '../shared/output-config.js';
import { checkToolChoice, withAllowedTools } from '../shared/allowed-tools.js';
import { refuseWithoutEquivalent } from '../shared/unsupported-params.js';
import { assistantToolCalls } from '../shared/assistant-tool-calls.js';
import { contentParts, inlineFile, type PartWriter } from '../shared/content-parts.js';
import { base64DataUri } from '../shared/data-uri.js';
import { functionTools } from '../shared/function-tools.js';
import { isObject } from '../shared/json-guards.js';
import { stopSequences } from '../shared/stop-sequences.js';
import { RequestTranslationError } from '../types.js';
import type { JsonObject } from '../../core/canonical.js';
import { signatureOf } from './thought-signature.js';
import type { GeminiContent, GeminiFunctionDeclaration, GeminiGenerationConfig, GeminiPart, GeminiRequest } from './gemini-wire.js';
import { geminiLogprobsConfig } from './gemini-logprobs.js';
import { geminiThinkingConfig } from './gemini-thinking.js';

function imagePart(url: string, param: string): GeminiPart {
  if (url.startsWith('data:')) {
    const data = base64DataUri(url);
    if (data === undefined) throw new RequestTranslationError('image data URIs must be base64 encoded', param);
    return { inlineData: { mimeType: data.mediaType, data: data.data } };
  }
  if (/^(https?|gs):\/\//.test(url)) {
    const lower = url.toLowerCase();
    const mimeType = lower.endsWith('.png') ? 'image/png' : lower.endsWith('.webp') ? 'image/webp' : lower.endsWith('.gif') ? 'image/gif' : 'image/jpeg';
    return { fileData: { mimeType, fileUri: url } };
  }
  throw new RequestTranslationError('image_url.url must be a data: URI or an http(s)/gs URL', param);
}

const PARTS: PartWriter<GeminiPart> = {
  text: (text) => ({ text }),
  image: imagePart,
  audio: (data, format) => ({ inlineData: { mimeType: `audio/${format}`, data } }),
  // A PDF (a chat file part, a `/v1/messages` document) as inline data, which Gemini reads natively.
  file: (file, param, part) => {
    const { mediaType, data } = inlineFile(file, param, part);
    return { inlineData: { mimeType: mediaType, data } };
  },
};

function parts(content: unknown, param: string): GeminiPart[] {
  return contentParts(content, param, PARTS);
}

/** JSON Schema → the OpenAPI subset Gemini accepts: unsupported keywords dropped, `type: [x, "null"]` → nullable. */
export function toGeminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGeminiSchema);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'additionalProperties' || key === 'strict' || key === '$id' || key === '$comment' || key === 'examples') continue;
    if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((t) => t !== 'null');
      out.type = types.length === 1 ? types[0] : types;
      if (types.length !== value.length) out.nullable = true;
      continue;
    }
    out[key] = key === 'properties' && isObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGeminiSchema(v)])) : toGeminiSchema(value);
  }
  return out;
}

function push(contents: GeminiContent[], role: 'user' | 'model', p: GeminiPart[]): void {
  if (p.length === 0) return;
  const last = contents[contents.length - 1];
  if (last !== undefined && last.role === role) last.parts.push(...p);
  else contents.push({ role, parts: p });
}

function generationConfig(body: JsonObject, model: string): GeminiGenerationConfig | undefined {
  const g: GeminiGenerationConfig = {};
  const cap = body.max_completion_tokens ?? body.max_tokens;
  if (typeof cap === 'number') g.maxOutputTokens = cap;
  if (typeof body.temperature === 'number') g.temperature = body.temperature;
  if (typeof body.top_p === 'number') g.topP = body.top_p;
  if (typeof body.top_k === 'number') g.topK = body.top_k;
  if (typeof body.n === 'number') g.candidateCount = body.n;
  if (typeof body.seed === 'number') g.seed = body.seed;
  if (typeof body.presence_penalty === 'number') g.presencePenalty = body.presence_penalty;
  if (typeof body.frequency_penalty === 'number') g.frequencyPenalty = body.frequency_penalty;
  const stop = stopSequences(body.stop);
  if (stop !== undefined) g.stopSequences = stop;
  const format = isObject(body.response_format) ? body.response_format : undefined;
  if (format?.type === 'json_object') g.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    if (isObject(format.json_schema) && isObject(format.json_schema.schema)) g.responseSchema = toGeminiSchema(format.json_schema.schema);
  }
  const thinking = geminiThinkingConfig(body, model);
  if (thinking !== undefined) g.thinkingConfig = thinking;
  // Before, logprobs were dropped: the answer said null where the client asked for them.
  const logprobs = geminiLogprobsConfig(body);
  if (logprobs !== undefined) Object.assign(g, logprobs);
  return Object.keys(g).length > 0 ? g : undefined;
}

/** OpenAI chat request → Gemini generateContent request (a /v1/messages client's output_config as response_format and reasoning_effort). */
export function toGeminiRequest(request: JsonObject, model = ''): GeminiRequest {
  const body = withAllowedTools(restateOutputConfig(request));
  refuseWithoutEquivalent(body);
  checkToolChoice(body.tool_choice);
  const system: { text: string }[] = [];
  const contents: GeminiContent[] = [];
  // Gemini has no tool call ids: tool results name the function, found from the assistant turn that called it.
  const nameById = new Map<string, string>();
  const list = Array.isArray(body.messages) ? body.messages : [];
  list.forEach((m: unknown, i) => {
    const msg = isObject(m) ? m : {};
    const param = `messages.${i}.content`;
    switch (msg.role) {
      case 'system':
      case 'developer':
        for (const p of parts(msg.content, param)) if (p.text !== undefined) system.push({ text: p.text });
        return;
      case 'user':
        push(contents, 'user', parts(msg.content, param));
        return;
      case 'assistant': {
        const p = parts(msg.content, param);
        for (const call of assistantToolCalls(msg, i, false)) {
          // functionCall.args is a JSON object (a Struct).
          if (!isObject(call.input)) throw new RequestTranslationError('tool call arguments must be a JSON object', `${call.param}.function.arguments`);
          if (call.id !== undefined) nameById.set(call.id, call.name);
          const part: GeminiPart = { functionCall: { name: call.name, args: call.input } };
          // Gemini 3 refuses a function call sent back without the signature it came with.
          const signature = call.id === undefined ? undefined : signatureOf(call.id);
          if (signature !== undefined) part.thoughtSignature = signature;
          p.push(part);
        }
        push(contents, 'model', p);
        return;
      }
      case 'tool': {
        const id = typeof msg.tool_call_id === 'string' ? msg.tool_call_id : '';
        const name = nameById.get(id);
        if (name === undefined) throw new RequestTranslationError(`tool message answers unknown tool call ${id}`, `messages.${i}.tool_call_id`);
        const given = typeof msg.content === 'string' ? [] : parts(msg.content, param);
        const text = typeof msg.content === 'string' ? msg.content : given.map((p) => p.text ?? '').join('');
        // Gemini's convention: `output` for a result, `error` for a failed call (a canonical extension's is_error).
        let response: Record<string, unknown> = msg.is_error === true ? { error: text } : { output: text };
        try {
          const parsed: unknown = JSON.parse(text);
          if (isObject(parsed) && msg.is_error !== true) response = parsed;
        } catch {
          // plain text result, wrapped
        }
        // A functionResponse holds no images: a tool result's images follow it in the same user turn.
        push(contents, 'user', [{ functionResponse: { name, response } }, ...given.filter((p) => p.inlineData !== undefined || p.fileData !== undefined)]);
        return;
      }
      default:
        throw new RequestTranslationError(`message role ${String(msg.role)} is not supported`, `messages.${i}.role`);
    }
  });

  const out: GeminiRequest = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system };
  const g = generationConfig(body, model);
  if (g !== undefined) out.generationConfig = g;
  const tools = functionTools(body.tools);
  if (tools.length > 0) {
    const declarations = tools.map((fn): GeminiFunctionDeclaration => {
      const d: GeminiFunctionDeclaration = { name: fn.name };
      if (fn.description !== undefined) d.description = fn.description;
      if (fn.parameters !== undefined && Object.keys(isObject(fn.parameters.properties) ? fn.parameters.properties : {}).length > 0) d.parameters = toGeminiSchema(fn.parameters);
      return d;
    });
    out.tools = [{ functionDeclarations: declarations }];
    const choice = body.tool_choice;
    if (choice === 'none') out.toolConfig = { functionCallingConfig: { mode: 'NONE' } };
    else if (choice === 'required') out.toolConfig = { functionCallingConfig: { mode: 'ANY' } };
    else if (choice === 'auto') out.toolConfig = { functionCallingConfig: { mode: 'AUTO' } };
    else if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === 'string') {
      out.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
    }
  }
  return out;
}
