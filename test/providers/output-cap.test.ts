import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// An answer cut at the client's output cap (max_tokens / max_completion_tokens / max_output_tokens):
// the emulated upstream and the in-process mock stop there with finish_reason `length`, and the
// gateway reports it in each client API's terms (Chat `length`, Messages `max_tokens`, Responses
// `incomplete`) and meters the tokens the upstream reported, not the scripted length. Before, the
// emulator ignored the cap, so none of this was ever exercised.

describe('answers cut at the output cap', () => {
  let upstream: OpenAiUpstream;
  let gateway: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let usage: UsageRecord[];

  beforeAll(async () => {
    upstream = await startOpenAiUpstream();
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('oai', 'openai', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }', '', 'gpt-4o') +
        providerManifest('compatible', 'openai-compatible', upstream.baseUrl, '{ secretRef: { name: keys, key: apiKey } }', '', 'llama') +
        'apiVersion: tollgate.dev/v1alpha1\nkind: Provider\nmetadata: { name: mocked }\nspec: { type: mock, mock: { completionTokens: 12 } }\n---\n' +
        secretManifest('keys', { apiKey: 'sk-up' }),
      'routes.yaml': routeManifest('gpt-4o', [['oai', 'gpt-4o']]) + routeManifest('llama', [['compatible', 'llama']]) + routeManifest('mocked', [['mocked', 'm']]),
    });
    usage = captureUsage(gateway);
    openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const last = (): UsageRecord | undefined => usage.at(-1);

  it('chat: finish_reason length, the capped usage, metered as reported', async () => {
    upstream.script({ kind: 'ok', content: 'one two three four five six seven eight', usage: { prompt: 10, completion: 8 } });
    const done = await openai.chat.completions.create({ model: 'gpt-4o', max_completion_tokens: 3, messages: [{ role: 'user', content: 'Count.' }] });
    expect(done.choices[0]?.finish_reason).toBe('length');
    expect(done.choices[0]?.message.content).toBe('one two three');
    expect(done.usage).toMatchObject({ completion_tokens: 3, prompt_tokens: 10 });
    expect(last()).toMatchObject({ routeId: 'default/gpt-4o', outputTokens: 3, inputTokens: 10 });
    expect(last()?.estimated).toBeFalsy();

    // Under the cap the answer ends as it would.
    upstream.script({ kind: 'ok', content: 'one two', usage: { prompt: 10, completion: 2 } });
    const whole = await openai.chat.completions.create({ model: 'gpt-4o', max_completion_tokens: 3, messages: [{ role: 'user', content: 'Count.' }] });
    expect(whole.choices[0]?.finish_reason).toBe('stop');
  });

  it('chat stream: the last choice chunk says length and the usage chunk has the capped count', async () => {
    upstream.script({ kind: 'stream', chunks: 10, intervalMs: 0 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 4, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Count.' }] });
    const finishes: string[] = [];
    let completion = -1;
    for await (const chunk of stream) {
      for (const c of chunk.choices) if (c.finish_reason !== null) finishes.push(c.finish_reason);
      if (chunk.usage) completion = chunk.usage.completion_tokens;
    }
    expect(finishes).toEqual(['length']);
    expect(completion).toBe(4);
    // The gateway renamed the client's max_tokens for OpenAI: the cap still applied.
    expect(upstream.requests.at(-1)?.body).toMatchObject({ max_completion_tokens: 4 });
    expect(last()).toMatchObject({ routeId: 'default/gpt-4o', outputTokens: 4 });
  });

  it('/v1/messages: stop_reason max_tokens, streamed or not, with the capped output_tokens', async () => {
    upstream.script({ kind: 'ok', content: 'one two three four five', usage: { prompt: 10, completion: 5 } });
    const msg = await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 2, messages: [{ role: 'user', content: 'Count.' }] });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(2);
    expect(msg.content).toEqual([{ type: 'text', text: 'one two' }]);
    expect(last()).toMatchObject({ outputTokens: 2 });

    upstream.script({ kind: 'stream', chunks: 10, intervalMs: 0 });
    const final = await anthropic.messages.stream({ model: 'gpt-4o', max_tokens: 3, messages: [{ role: 'user', content: 'Count.' }] }).finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    expect(final.usage.output_tokens).toBe(3);
    expect(last()).toMatchObject({ outputTokens: 3 });
  });

  it('/v1/responses translated to chat: an incomplete Response (max_output_tokens) with the capped usage', async () => {
    upstream.script({ kind: 'ok', content: 'one two three four five', usage: { prompt: 10, completion: 5 } });
    const response = await openai.responses.create({ model: 'llama', max_output_tokens: 2, input: 'Count.' });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.usage?.output_tokens).toBe(2);
    expect(response.output_text).toBe('one two');
    expect(upstream.requests.at(-1)?.body).toMatchObject({ max_completion_tokens: 2 });
    expect(last()).toMatchObject({ routeId: 'default/llama', outputTokens: 2 });
  });

  it('the in-process mock provider stops at the cap too', async () => {
    const capped = await openai.chat.completions.create({ model: 'mocked', max_tokens: 5, messages: [{ role: 'user', content: 'Count.' }] });
    expect(capped.choices[0]?.finish_reason).toBe('length');
    expect(capped.usage?.completion_tokens).toBe(5);
    expect(capped.choices[0]?.message.content?.split(' ')).toHaveLength(5);
    expect(last()).toMatchObject({ routeId: 'default/mocked', outputTokens: 5 });
    const whole = await openai.chat.completions.create({ model: 'mocked', max_tokens: 50, messages: [{ role: 'user', content: 'Count.' }] });
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    expect(whole.usage?.completion_tokens).toBe(12);
  });
});
