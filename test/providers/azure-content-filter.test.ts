import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { azureEmulatorProvider, openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Azure OpenAI's content filter says which category fired only in its own fields: innererror on a
// refused prompt, content_filter_results on a choice it stopped. A platform team's developers need
// them; every other annotation stays out of what OpenAI clients get.

let emulator: Emulator;
let backup: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  emulator = await startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21');
  backup = await startOpenAiUpstream();
  gateway = await startTestGateway({
    'providers.yaml': `${azureEmulatorProvider(emulator.url)}---
${openAiProvider('backup', backup.baseUrl)}`,
    'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: filtered }
spec:
  model: filtered
  targets:
    - providerRef: { name: azure }
      model: gpt-4o
      priority: 0
    - providerRef: { name: backup }
      model: backup-model
      priority: 10
`,
  });
  client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
  await backup?.close();
});

describe('Azure OpenAI content filter', () => {
  it('a refused prompt relays innererror (which category fired) and is not tried on the next target', async () => {
    emulator.script({ kind: 'safety' });
    const before = backup.requests.length;
    const err = (await client.chat.completions.create({ model: 'filtered', messages: [{ role: 'user', content: 'Something unsafe' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('content_filter');
    expect(err.error).toMatchObject({ innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { violence: { filtered: true, severity: 'medium' } } } });
    expect(err.headers?.get('x-tollgate-attempts')).toBe('1');
    expect(backup.requests.length).toBe(before);
  });

  it('an answer the output filter stopped keeps which category fired, whole and streamed; other annotations are not relayed', async () => {
    emulator.script({ kind: 'output-filtered' });
    const res = await client.chat.completions.create({ model: 'filtered', messages: [{ role: 'user', content: 'Something unsafe' }] });
    const choice = res.choices[0] as unknown as Record<string, unknown>;
    expect(choice.finish_reason).toBe('content_filter');
    expect(choice.content_filter_results).toMatchObject({ violence: { filtered: true, severity: 'medium' } });
    expect(res as unknown as Record<string, unknown>).not.toHaveProperty('prompt_filter_results');

    emulator.script({ kind: 'output-filtered' });
    const chunks: Record<string, unknown>[] = [];
    for await (const chunk of await client.chat.completions.create({ model: 'filtered', stream: true, messages: [{ role: 'user', content: 'Something unsafe' }] })) {
      expect(chunk as unknown as Record<string, unknown>).not.toHaveProperty('prompt_filter_results');
      for (const c of chunk.choices) chunks.push(c as unknown as Record<string, unknown>);
    }
    expect(chunks.find((c) => c.finish_reason === 'content_filter')?.content_filter_results).toMatchObject({ violence: { filtered: true, severity: 'medium' } });
    expect(chunks.filter((c) => c.finish_reason !== 'content_filter' && (c.content_filter_results !== undefined || c.content_filter_offsets !== undefined))).toEqual([]);
  });

  it('sent only valid requests', () => {
    expect(emulator.problems).toEqual([]);
  });
});
