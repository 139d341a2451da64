import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// A /v1/messages client's extended thinking (`thinking: {type: "enabled", budget_tokens}`) through the
// official Anthropic SDK, on routes to Gemini and to Claude on Bedrock: the request reaches the
// upstream as its own thinking setting, and the reasoning comes back as thinking blocks, answered
// whole and streamed. Before, both dropped `thinking` and the reasoning with it.

const AWS = { accessKeyId: 'AKIDTHINKING', secretAccessKey: 'thinking/secret' };
const THINK = { type: 'enabled' as const, budget_tokens: 2048 };
const ASK: Anthropic.MessageParam[] = [{ role: 'user', content: 'How many primes are below 20?' }];

/** The SDK refuses a large max_tokens without streaming unless the caller sets its own timeout. */
const LONG = { timeout: 20_000 };

const config = (e: Emulator) => e.requests.at(-1)?.body.generationConfig as Record<string, unknown> | undefined;

describe('extended thinking from /v1/messages to Gemini and Bedrock', () => {
  let gemini: Emulator;
  let bedrock: Emulator;
  let gateway: TestGateway;
  let client: Anthropic;

  beforeAll(async () => {
    [gemini, bedrock] = await Promise.all([startGeminiEmulator('gemini-think'), startBedrockEmulator(AWS, 'us-east-1')]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }') +
        secretManifest('gemini', { apiKey: 'gemini-think' }) +
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: us-east-1 }\n') +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }),
      'routes.yaml':
        routeManifest('flash', [['gemini', 'gemini-2.5-flash']]) +
        routeManifest('pro', [['gemini', 'gemini-2.5-pro']]) +
        routeManifest('old-gemini', [['gemini', 'gemini-2.0-flash']]) +
        routeManifest('claude-bedrock', [['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0']]) +
        routeManifest('old-claude-bedrock', [['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0']]) +
        routeManifest('nova', [['bedrock', 'amazon.nova-pro-v1:0']]),
    });
    client = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([gemini?.close(), bedrock?.close()]);
  });

  describe('Gemini', () => {
    it('thinking → thinkingConfig with includeThoughts; thought parts come back as a thinking block, answered whole', async () => {
      gemini.script({ kind: 'thinking', thinking: 'Primes: 2, 3, 5, 7, 11, 13, 17, 19.', text: 'Eight.' });
      const msg = await client.messages.create({ model: 'flash', max_tokens: 4000, thinking: THINK, messages: ASK });
      expect(config(gemini)).toEqual({ maxOutputTokens: 4000, thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } });
      // Gemini's thoughts carry no Anthropic signature: the block is unsigned (an Anthropic target leaves it out if it is sent back).
      expect(msg.content).toEqual([
        { type: 'thinking', thinking: 'Primes: 2, 3, 5, 7, 11, 13, 17, 19.', signature: '' },
        { type: 'text', text: 'Eight.' },
      ]);
      // Thoughts are output: candidates 6 + thoughts 2.
      expect(msg.usage.output_tokens).toBe(8);
      expect(gemini.problems).toEqual([]);
    });

    it('streamed: content_block_start thinking, thinking_delta events, then the text block', async () => {
      gemini.script({ kind: 'thinking', thinking: 'Counting primes below 20.', text: 'Eight.' });
      const stream = client.messages.stream({ model: 'flash', max_tokens: 4000, thinking: THINK, messages: ASK });
      const thoughts: string[] = [];
      const starts: string[] = [];
      stream.on('thinking', (t) => thoughts.push(t));
      stream.on('streamEvent', (e) => {
        if (e.type === 'content_block_start') starts.push(e.content_block.type);
      });
      const final = await stream.finalMessage();
      expect(config(gemini)?.thinkingConfig).toEqual({ thinkingBudget: 2048, includeThoughts: true });
      expect(thoughts).toEqual(['Count', 'ing primes below 20.']);
      expect(starts).toEqual(['thinking', 'text']);
      expect(final.content).toEqual([
        { type: 'thinking', thinking: 'Counting primes below 20.', signature: '' },
        { type: 'text', text: 'Eight.' },
      ]);
      expect(gemini.problems).toEqual([]);
    });

    it("a budget past the model's range is cut to it; adaptive is the dynamic budget; disabled is budget 0, or the default on Pro; models before 2.5 get none", async () => {
      gemini.script({ kind: 'text', text: 'ok' });
      await client.messages.create({ model: 'flash', max_tokens: 64_000, thinking: { type: 'enabled', budget_tokens: 31_999 }, messages: ASK }, LONG);
      expect(config(gemini)?.thinkingConfig).toEqual({ thinkingBudget: 24_576, includeThoughts: true });
      await client.messages.create({ model: 'pro', max_tokens: 64_000, thinking: { type: 'enabled', budget_tokens: 40_000 }, messages: ASK }, LONG);
      expect(config(gemini)?.thinkingConfig).toEqual({ thinkingBudget: 32_768, includeThoughts: true });
      await client.messages.create({ model: 'flash', max_tokens: 1000, thinking: { type: 'adaptive' } as unknown as Anthropic.ThinkingConfigParam, messages: ASK });
      expect(config(gemini)?.thinkingConfig).toEqual({ thinkingBudget: -1, includeThoughts: true });
      await client.messages.create({ model: 'flash', max_tokens: 1000, thinking: { type: 'disabled' }, messages: ASK });
      expect(config(gemini)?.thinkingConfig).toEqual({ thinkingBudget: 0 });
      await client.messages.create({ model: 'pro', max_tokens: 1000, thinking: { type: 'disabled' }, messages: ASK });
      expect(config(gemini)?.thinkingConfig).toBeUndefined();
      await client.messages.create({ model: 'old-gemini', max_tokens: 4000, thinking: THINK, messages: ASK });
      expect(config(gemini)?.thinkingConfig).toBeUndefined();
      expect(gemini.problems).toEqual([]);
    });

    it('the thinking block sent back on the next turn is left out of the Gemini request', async () => {
      gemini.script({ kind: 'thinking', thinking: 'Think first.', text: 'Answer.' });
      const first = await client.messages.create({ model: 'flash', max_tokens: 4000, thinking: THINK, messages: ASK });
      gemini.script({ kind: 'text', text: 'Again.' });
      await client.messages.create({ model: 'flash', max_tokens: 4000, thinking: THINK, messages: [...ASK, { role: 'assistant', content: first.content }, { role: 'user', content: 'And below 30?' }] });
      expect((gemini.requests.at(-1)?.body.contents as unknown[])[1]).toEqual({ role: 'model', parts: [{ text: 'Answer.' }] });
      expect(gemini.problems).toEqual([]);
    });
  });

  describe('Bedrock', () => {
    const fields = () => bedrock.requests.at(-1)?.body.additionalModelRequestFields as Record<string, unknown> | undefined;

    it('Claude: thinking → additionalModelRequestFields.thinking; reasoningContent comes back as signed thinking and redacted_thinking blocks', async () => {
      bedrock.script({ kind: 'thinking', thinking: 'Primes below 20: eight.', text: 'Eight.', redacted: true });
      const msg = await client.messages.create({ model: 'claude-bedrock', max_tokens: 4000, thinking: THINK, messages: ASK });
      expect(fields()).toEqual({ thinking: THINK });
      expect(bedrock.requests.at(-1)?.body.inferenceConfig).toEqual({ maxTokens: 4000 });
      expect(msg.content).toEqual([
        { type: 'thinking', thinking: 'Primes below 20: eight.', signature: 'EqQBbedrockSigned' },
        { type: 'redacted_thinking', data: Buffer.from('encrypted reasoning').toString('base64') },
        { type: 'text', text: 'Eight.' },
      ]);
      expect(msg.usage).toMatchObject({ input_tokens: 10, output_tokens: 8 });
      expect(bedrock.problems).toEqual([]);
    });

    it('Claude, streamed: thinking_delta, signature_delta and a redacted_thinking block before the text', async () => {
      bedrock.script({ kind: 'thinking', thinking: 'Streamed reasoning.', text: 'Eight.', redacted: true });
      const stream = client.messages.stream({ model: 'claude-bedrock', max_tokens: 4000, thinking: THINK, messages: ASK });
      const thoughts: string[] = [];
      const signatures: string[] = [];
      stream.on('thinking', (t) => thoughts.push(t));
      stream.on('streamEvent', (e) => {
        if (e.type === 'content_block_delta' && e.delta.type === 'signature_delta') signatures.push(e.delta.signature);
      });
      const final = await stream.finalMessage();
      expect(thoughts.join('')).toBe('Streamed reasoning.');
      expect(signatures).toEqual(['EqQBbedrockSigned']);
      expect(final.content).toEqual([
        { type: 'thinking', thinking: 'Streamed reasoning.', signature: 'EqQBbedrockSigned' },
        { type: 'redacted_thinking', data: Buffer.from('encrypted reasoning').toString('base64') },
        { type: 'text', text: 'Eight.' },
      ]);
      expect(final.usage).toMatchObject({ input_tokens: 10, output_tokens: 8 });
      expect(bedrock.problems).toEqual([]);
    });

    it('Claude: the signed reasoning goes back as reasoningContent, first in its turn, so a tool loop with thinking continues', async () => {
      bedrock.script({ kind: 'thinking', thinking: 'I should look it up.', text: 'Let me look.', redacted: true });
      const first = await client.messages.create({ model: 'claude-bedrock', max_tokens: 4000, thinking: THINK, messages: ASK });
      const tools: Anthropic.Tool[] = [{ name: 'primes', input_schema: { type: 'object', properties: { below: { type: 'number' } } } }];
      const history: Anthropic.MessageParam[] = [
        ...ASK,
        { role: 'assistant', content: [...first.content, { type: 'tool_use', id: 'toolu_1', name: 'primes', input: { below: 20 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '8' }] },
      ];
      bedrock.script({ kind: 'text', text: 'Eight.' });
      const next = await client.messages.create({ model: 'claude-bedrock', max_tokens: 4000, thinking: THINK, tools, messages: history });
      expect(next.content).toEqual([{ type: 'text', text: 'Eight.' }]);
      expect((bedrock.requests.at(-1)?.body.messages as { content: unknown[] }[])[1]?.content.slice(0, 2)).toEqual([
        { reasoningContent: { reasoningText: { text: 'I should look it up.', signature: 'EqQBbedrockSigned' } } },
        { reasoningContent: { redactedContent: Buffer.from('encrypted reasoning').toString('base64') } },
      ]);
      expect(bedrock.problems).toEqual([]);
    });

    it('disabled and adaptive are sent as they are; Claude before 3.7 and models other than Claude get no thinking (Converse has no field for it)', async () => {
      bedrock.script({ kind: 'text', text: 'ok' });
      await client.messages.create({ model: 'claude-bedrock', max_tokens: 1000, thinking: { type: 'disabled' }, messages: ASK });
      expect(fields()).toEqual({ thinking: { type: 'disabled' } });
      await client.messages.create({ model: 'claude-bedrock', max_tokens: 1000, thinking: { type: 'adaptive' } as unknown as Anthropic.ThinkingConfigParam, messages: ASK });
      expect(fields()).toEqual({ thinking: { type: 'adaptive' } });
      for (const model of ['old-claude-bedrock', 'nova']) {
        await client.messages.create({ model, max_tokens: 4000, thinking: THINK, messages: ASK });
        expect(fields()).toBeUndefined();
      }
      expect(bedrock.problems).toEqual([]);
    });
  });
});
