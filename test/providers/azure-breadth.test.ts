import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import { embeddingVector, type Emulator } from '../emulators/emulator-server.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// Azure OpenAI beyond chat, through the official SDKs: embeddings, legacy completions and the v1
// Responses API at one resource; its content filter's refusal on each (a 400 the client can act
// on: which category fired, not tried elsewhere); and its 429s, whose retry-after-ms (besides
// retry-after in whole seconds) the gateway honours when it retries or fails over.

const RETRY = '{ attempts: 2, maxRetryAfter: 5s, backoff: { initial: 2s, max: 2s } }';

describe('Azure OpenAI: every operation, its content filter and its rate limits', () => {
  let azure: Emulator;
  let backup: OpenAiUpstream;
  let gateway: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let usage: UsageRecord[];

  beforeAll(async () => {
    azure = await startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21');
    backup = await startOpenAiUpstream();
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('azure', 'azure-openai', azure.url, '{ secretRef: { name: azure, key: apiKey } }', '  azure: { deployment: gpt4o-prod, apiVersion: "2024-10-21" }\n', 'gpt-4o') +
        providerManifest('backup', 'openai', backup.baseUrl, '{ secretRef: { name: keys, key: apiKey } }') +
        secretManifest('azure', { apiKey: 'azure-test-key' }) +
        secretManifest('keys', { apiKey: 'sk-up' }),
      'routes.yaml':
        routeManifest('gpt-4o', [['azure', 'gpt-4o']], RETRY) +
        routeManifest('with-backup', [['azure', 'gpt-4o'], ['backup', 'gpt-4o']], RETRY),
    });
    usage = captureUsage(gateway);
    openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([azure?.close(), backup?.close()]);
  });

  const lastUrl = (): string | undefined => azure.requests.at(-1)?.url;

  it('embeddings: the deployment URL, vectors as the SDK decodes them (base64 by default), usage metered', async () => {
    const res = await openai.embeddings.create({ model: 'gpt-4o', input: ['alpha', 'beta'] });
    expect(lastUrl()).toBe('/openai/deployments/gpt4o-prod/embeddings?api-version=2024-10-21');
    expect(res.data.map((d) => d.embedding)).toEqual([embeddingVector('alpha'), embeddingVector('beta')]);
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(usage.at(-1)).toMatchObject({ inputTokens: 3, outputTokens: 0 });
  });

  it('legacy completions, whole and streamed: the text without Azure\'s filter annotations, usage metered', async () => {
    azure.script({ kind: 'text', text: 'Hello from Azure' });
    const whole = await openai.completions.create({ model: 'gpt-4o', prompt: 'Say hello' });
    expect(lastUrl()).toBe('/openai/deployments/gpt4o-prod/completions?api-version=2024-10-21');
    expect(whole.choices[0]?.text).toBe('Hello from Azure');
    expect(whole).not.toHaveProperty('prompt_filter_results');
    expect(whole.choices[0]).not.toHaveProperty('content_filter_results');
    expect(usage.at(-1)).toMatchObject({ inputTokens: 20, outputTokens: 8 });

    azure.script({ kind: 'text', text: 'Hello from Azure' });
    let text = '';
    const finishes: string[] = [];
    for await (const chunk of await openai.completions.create({ model: 'gpt-4o', prompt: 'Say hello', stream: true })) {
      expect(chunk).not.toHaveProperty('prompt_filter_results');
      for (const c of chunk.choices) {
        text += c.text;
        if (c.finish_reason !== null) finishes.push(c.finish_reason);
      }
    }
    expect(text).toBe('Hello from Azure');
    expect(finishes).toEqual(['stop']);
    expect(usage.at(-1)).toMatchObject({ stream: true, inputTokens: 20, outputTokens: 8 });
  });

  it('/v1/responses goes natively to the v1 API, the deployment as the model, whole and streamed', async () => {
    azure.script({ kind: 'text', text: 'Hello from the v1 API' });
    const response = await openai.responses.create({ model: 'gpt-4o', input: 'Say hello' });
    expect(lastUrl()).toBe('/openai/v1/responses');
    expect(azure.requests.at(-1)?.body.model).toBe('gpt4o-prod');
    expect(response.output_text).toBe('Hello from the v1 API');
    expect(usage.at(-1)).toMatchObject({ inputTokens: 20, outputTokens: 8 });

    azure.script({ kind: 'text', text: 'Hello from the v1 API' });
    const final = await openai.responses.stream({ model: 'gpt-4o', input: 'Say hello' }).finalResponse();
    expect(final.output_text).toBe('Hello from the v1 API');
    expect(final.usage?.output_tokens).toBe(8);
  });

  it('a prompt the content filter refuses is a 400 content_filter naming the category, on every operation and client API, never failed over', async () => {
    const before = backup.requests.length;
    type Refusal = InstanceType<typeof OpenAI.BadRequestError>;
    const refusals: Refusal[] = [];
    azure.script({ kind: 'safety' });
    refusals.push((await openai.chat.completions.create({ model: 'with-backup', messages: [{ role: 'user', content: 'unsafe' }] }).catch((e: unknown) => e)) as Refusal);
    azure.script({ kind: 'safety' });
    refusals.push((await openai.completions.create({ model: 'with-backup', prompt: 'unsafe' }).catch((e: unknown) => e)) as Refusal);
    azure.script({ kind: 'safety' });
    refusals.push((await openai.responses.create({ model: 'with-backup', input: 'unsafe' }).catch((e: unknown) => e)) as Refusal);
    for (const err of refusals) {
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.code).toBe('content_filter');
      expect(err.message).toContain('content management policy');
      expect(err.error).toMatchObject({ innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { violence: { filtered: true, severity: 'medium' } } } });
      expect(err.headers?.get('x-tollgate-attempts')).toBe('1');
    }
    expect(backup.requests.length).toBe(before);

    // A /v1/messages client gets Anthropic's invalid_request_error with Azure's message, which says why.
    azure.script({ kind: 'safety' });
    const claude = (await anthropic.messages.create({ model: 'with-backup', max_tokens: 50, messages: [{ role: 'user', content: 'unsafe' }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.BadRequestError>;
    expect(claude).toBeInstanceOf(Anthropic.BadRequestError);
    expect(claude.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(claude.message).toContain('content management policy');
    expect(backup.requests.length).toBe(before);
  });

  it('a 429 is retried after its retry-after-ms (not its whole-second retry-after, nor the backoff), on every operation', async () => {
    for (const call of [
      () => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
      () => openai.embeddings.create({ model: 'gpt-4o', input: 'Hi' }),
      () => openai.responses.create({ model: 'gpt-4o', input: 'Hi' }),
    ]) {
      azure.script({ kind: 'rate-limit', retryAfterMs: 300 }, { kind: 'text' });
      const before = azure.requests.length;
      const started = Date.now();
      await call();
      const took = Date.now() - started;
      expect(azure.requests.length - before).toBe(2);
      // retry-after says 1 s and the backoff 2 s: only retry-after-ms gives 300 ms (the bound is the
      // whole second, not tighter, so a loaded machine does not fail it).
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1000);
    }
  });

  it('a 429 asking for longer than maxRetryAfter fails over at once; with nowhere left the client gets 429 with retry-after', async () => {
    azure.script({ kind: 'rate-limit', retryAfterMs: 60_000 });
    const before = backup.requests.length;
    const started = Date.now();
    const { response } = await openai.chat.completions.create({ model: 'with-backup', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(backup.requests.length - before).toBe(1);
    expect(response.headers.get('x-tollgate-provider')).toBe('default/backup');

    azure.script({ kind: 'rate-limit', retryAfterMs: 60_000 });
    const err = (await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('sent only valid requests', () => {
    expect(azure.problems).toEqual([]);
  });
});
