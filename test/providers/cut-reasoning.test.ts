import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { DEFAULT_REASONING_TOKENS_PER_SECOND } from '../../dataplane/metering/reasoning-bound.js';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { type ResponsesEmulator, startResponsesEmulator } from '../emulators/openai-responses.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// A stream cut short before its usage, on the translations where the model reasons unseen: a native
// Responses stream (a reasoning item without a summary), Claude with extended thinking (redacted),
// Gemini 2.5 (its thoughts left out). Each is charged what it showed plus the time to its first
// answer token at the ceiling speed: at least that bound, far under its worst case. Before, only
// what it showed (Gemini's thoughts only once a chunk had reported them).

const THINK_MS = 400;
const CAP = 32_000;
const BOUND = (THINK_MS * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000;
const TEXT = 'one two three four five six seven eight nine ten eleven twelve';

const credentials = (secret: string): string => `{ secretRef: { name: ${secret}, key: apiKey } }`;

describe('a cut stream of a model reasoning unseen is charged a bound on that reasoning', () => {
  let responses: ResponsesEmulator;
  let claude: Emulator;
  let gemini: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;
  let usage: UsageRecord[];

  beforeAll(async () => {
    responses = await startResponsesEmulator('openai', 'sk-openai');
    claude = await startAnthropicEmulator('sk-ant-test');
    gemini = await startGeminiEmulator('gemini-test-key');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('oai', 'openai', `${responses.url}/v1`, credentials('oai-key'), '', 'gpt-5') +
        secretManifest('oai-key', { apiKey: 'sk-openai' }) +
        providerManifest('claude', 'anthropic', claude.url, credentials('claude-key'), '', 'claude-sonnet-4-5') +
        secretManifest('claude-key', { apiKey: 'sk-ant-test' }) +
        providerManifest('gemini', 'gemini', gemini.url, credentials('gemini-key'), '', 'gemini-2.5-pro') +
        secretManifest('gemini-key', { apiKey: 'gemini-test-key' }),
      'routes.yaml': routeManifest('gpt-5', [['oai', 'gpt-5']]) + routeManifest('claude', [['claude', 'claude-sonnet-4-5']]) + routeManifest('gemini', [['gemini', 'gemini-2.5-pro']]),
    });
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
    usage = captureUsage(gateway);
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([responses?.close(), claude?.close(), gemini?.close()]);
  });

  async function charged(count: number): Promise<UsageRecord> {
    const end = Date.now() + 5_000;
    while (usage.length <= count && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const rec = usage[count];
    if (rec === undefined) throw new Error('no usage record');
    return rec;
  }

  /** Stops a chat stream after its second word; the client's milliseconds to its first. */
  async function stopChatAfterTwo(model: string, extra: Record<string, unknown>): Promise<number> {
    const stop = new AbortController();
    const started = Date.now();
    let first = 0;
    let words = 0;
    const stream = await client.chat.completions.create({ model, stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'think, then count' }], ...extra }, { signal: stop.signal });
    try {
      for await (const c of stream) {
        if ((c.choices[0]?.delta.content ?? '') === '') continue;
        if (words++ === 0) first = Date.now() - started;
        if (words >= 2) break;
      }
    } finally {
      stop.abort();
    }
    return first;
  }

  function expectBounded(rec: UsageRecord, firstMs: number): void {
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'cut_reasoning_bound' });
    expect(rec.outputTokens).toBeGreaterThanOrEqual(BOUND + 1);
    expect(rec.outputTokens).toBeLessThanOrEqual((firstMs * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000 + 50);
    expect(rec.outputTokens).toBeLessThan(CAP);
  }

  it('a native Responses stream of gpt-5 stopped after two words', async () => {
    responses.script({ kind: 'slow-stream', thinkMs: THINK_MS, text: TEXT });
    const before = usage.length;
    const stop = new AbortController();
    const started = Date.now();
    let first = 0;
    let words = 0;
    const stream = await client.responses.create({ model: 'gpt-5', stream: true, input: 'think, then count', reasoning: { effort: 'high' }, max_output_tokens: CAP }, { signal: stop.signal });
    try {
      for await (const event of stream) {
        if (event.type !== 'response.output_text.delta') continue;
        if (words++ === 0) first = Date.now() - started;
        if (words >= 2) break;
      }
    } finally {
      stop.abort();
    }
    expectBounded(await charged(before), first);
  });

  it('Claude with extended thinking (redacted) stopped after two words', async () => {
    claude.script({ kind: 'slow-stream', thinkMs: THINK_MS, text: TEXT });
    const before = usage.length;
    const first = await stopChatAfterTwo('claude', { reasoning_effort: 'high' });
    expectBounded(await charged(before), first);
  });

  it('Gemini 2.5 Pro (thoughts left out) stopped after two words', async () => {
    gemini.script({ kind: 'slow-stream', thinkMs: THINK_MS, text: TEXT });
    const before = usage.length;
    const first = await stopChatAfterTwo('gemini', {});
    expectBounded(await charged(before), first);
  });

  it('Gemini 2.5 Pro left while it thought, before its first chunk: the time until the cut', async () => {
    gemini.script({ kind: 'slow-stream', thinkMs: 3_000, text: TEXT });
    const before = usage.length;
    const stop = new AbortController();
    const asked = gemini.requests.length;
    const pending = client.chat.completions.create({ model: 'gemini', stream: true, max_completion_tokens: CAP, messages: [{ role: 'user', content: 'think long' }] }, { signal: stop.signal }).catch((e: unknown) => e);
    const end = Date.now() + 5_000;
    while (gemini.requests.length === asked && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const sent = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    stop.abort();
    const leftMs = Date.now() - sent;
    await pending;
    const rec = await charged(before);
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'cut_reasoning_bound' });
    expect(rec.outputTokens).toBeGreaterThanOrEqual((500 * DEFAULT_REASONING_TOKENS_PER_SECOND) / 1000);
    expect(rec.outputTokens).toBeLessThan(CAP);
    expect(leftMs).toBeGreaterThanOrEqual(500);
  });
});
