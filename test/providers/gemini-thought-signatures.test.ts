import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator, startVertexEmulator, thoughtSignatureFor, type VertexEmulator } from '../emulators/gemini.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// Gemini 3 models sign their function calls and refuse the next turn unless each signature comes
// back on its call (the emulators do as they do for gemini-3 models). The official SDKs keep only a
// tool call's id, name and arguments in their history: the gateway must round-trip the signature
// through those, on the Gemini API and on Vertex AI, answered whole and streamed.

const MODEL = 'gemini-3-pro-preview';
const TOOLS: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];

describe('Gemini thought signatures through the official SDKs', () => {
  let gemini: Emulator;
  let vertex: VertexEmulator;
  let gateway: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    [gemini, vertex] = await Promise.all([startGeminiEmulator('gemini-sig'), startVertexEmulator('my-project', 'us-central1')]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }') +
        secretManifest('gemini', { apiKey: 'gemini-sig' }) +
        providerManifest('vertex', 'vertex', vertex.url, '{ serviceAccountKeyRef: { name: gcp, key: key.json } }', '  vertex: { project: my-project, location: us-central1 }\n') +
        secretManifest('gcp', { 'key.json': vertex.serviceAccountKey }),
      'routes.yaml': routeManifest('g3', [['gemini', MODEL]]) + routeManifest('v3', [['vertex', MODEL]]),
    });
    openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([gemini?.close(), vertex?.close()]);
  });

  const lastCall = (e: Emulator) => (e.requests[e.requests.length - 1]?.body.contents as { parts: Record<string, unknown>[] }[])[1]?.parts[0];

  for (const [route, emulator] of [['g3', () => gemini], ['v3', () => vertex]] as const) {
    it(`${route}: OpenAI SDK tool loop, answered whole`, async () => {
      emulator().script({ kind: 'tool', name: 'lookup', args: { q: 'tollgate' } }, { kind: 'text', text: 'Found it.' });
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Look it up' }];
      const first = await openai.chat.completions.create({ model: route, messages, tools: TOOLS });
      const assistant = first.choices[0]!.message;
      const call = assistant.tool_calls![0]!;
      messages.push(assistant, { role: 'tool', tool_call_id: call.id, content: '{"hits":1}' });
      const second = await openai.chat.completions.create({ model: route, messages, tools: TOOLS });
      expect(second.choices[0]?.message.content).toBe('Found it.');
      expect(lastCall(emulator())).toEqual({ functionCall: { name: 'lookup', args: { q: 'tollgate' } }, thoughtSignature: thoughtSignatureFor('lookup') });
    });

    it(`${route}: OpenAI SDK tool loop, streamed`, async () => {
      emulator().script({ kind: 'tool', name: 'lookup', args: { q: 'streamed' } }, { kind: 'text', text: 'Streamed answer.' });
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Look it up' }];
      const first = await openai.chat.completions.stream({ model: route, messages, tools: TOOLS }).finalMessage();
      const call = first.tool_calls![0]!;
      messages.push({ role: 'assistant', content: null, tool_calls: first.tool_calls }, { role: 'tool', tool_call_id: call.id, content: 'done' });
      const second = await openai.chat.completions.stream({ model: route, messages, tools: TOOLS }).finalMessage();
      expect(second.content).toBe('Streamed answer.');
      expect(lastCall(emulator())).toMatchObject({ thoughtSignature: thoughtSignatureFor('lookup') });
    });

    it(`${route}: Anthropic SDK tool loop on /v1/messages`, async () => {
      emulator().script({ kind: 'tool', name: 'lookup', args: { q: 'claude code' } }, { kind: 'text', text: 'Done.' });
      const tools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Look it up' }];
      const first = await anthropic.messages.create({ model: route, max_tokens: 100, tools, messages });
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
      // Anthropic tool ids are [A-Za-z0-9_-]: the signature must not take the id out of that set.
      expect(use.id).toMatch(/^[A-Za-z0-9_-]+$/);
      messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'ok' }] });
      const second = await anthropic.messages.create({ model: route, max_tokens: 100, tools, messages });
      expect(second.content).toEqual([{ type: 'text', text: 'Done.' }]);
      expect(lastCall(emulator())).toMatchObject({ thoughtSignature: thoughtSignatureFor('lookup') });
    });
  }
});
