import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Issue 20: a target without endpoints is skipped at once and counted; 503s name no internal objects.
let up: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

const manifests = (baseUrl: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: vllm }
spec:
  type: vllm
  serviceRef: { name: vllm, port: 8000 }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: nokey }
spec:
  type: openai-compatible
  url: ${baseUrl}
  credentials: { secretRef: { name: nokey-secret, key: apiKey } }
---
${openAiProvider('hosted', baseUrl)}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  access: { anonymous: true }
  retry: { attempts: 3, backoff: { initial: 200ms, max: 1s } }
  targets:
    - { providerRef: { name: vllm }, model: llama, priority: 0 }
    - { providerRef: { name: hosted }, model: gpt, priority: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: local-only }
spec:
  model: local-only
  access: { anonymous: true }
  targets: [{ providerRef: { name: vllm }, model: llama }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: keyless }
spec:
  model: keyless
  access: { anonymous: true }
  targets: [{ providerRef: { name: nokey }, model: gpt }]
`;

beforeAll(async () => {
  up = await startOpenAiUpstream();
  gateway = await startTestGateway({ 'all.yaml': manifests(up.baseUrl) }, { admin: true });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

const skippedCount = async (): Promise<number> => {
  const text = await (await fetch(`${gateway.adminUrl ?? ''}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith('tollgate_targets_skipped_total{') && l.includes('provider="default/vllm"') && l.includes('reason="no_endpoints"'));
  return Number(line?.split(' ').at(-1) ?? 0);
};

describe('a target whose Service has no ready endpoints', () => {
  it('is skipped without an attempt or a backoff, and counted', async () => {
    const { response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-tollgate-provider')).toBe('default/hosted');
    expect(response.headers.get('x-tollgate-attempts')).toBe('1');
    expect(await skippedCount()).toBe(1);
  });

  it('when it is the only target: a 503 that says so, with no attempt', async () => {
    const err = (await client.chat.completions.create({ model: 'local-only', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(503);
    expect(err.headers?.get('x-tollgate-attempts')).toBe('0');
    // The Provider and its Service: the caller may not be able to read the Provider's status.
    expect(err.message).toMatch(/NoReadyEndpoints \(default\/vllm: Service default\/vllm port 8000 has no ready endpoints\)/);
  });
});

describe('503s to workloads', () => {
  it('name the reason and the Provider, never the Secret (that is in the status)', async () => {
    const err = (await client.chat.completions.create({ model: 'keyless', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/ProviderNotReady \(default\/nokey\)/);
    expect(err.message).not.toMatch(/nokey-secret|Secret/);
  });
});
