import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// A shared cache (shareAcrossCallers) is served to callers different GuardrailPolicies govern: what
// one caller's response rules did to an answer must never be what another caller gets from it.

const manifests = (upstream: string) => ({
  'provider.yaml': openAiProvider('up', upstream).replace(/metadata: \{ name: (up|up-key) \}/g, 'metadata: { name: $1, namespace: shared }'),
  'route.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat, namespace: shared }
spec:
  model: chat
  access: { namespaces: { from: All } }
  cache: { enabled: true, ttl: 10m, shareAcrossCallers: true }
  targets: [{ providerRef: { name: up }, model: m }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: mask-mail, namespace: team-a }
spec:
  subjects: { namespaces: [team-a] }
  rules:
    - { name: mail, phase: Response, action: Mask, detector: { builtin: [Email] } }
---
apiVersion: v1
kind: Secret
metadata: { name: a, namespace: team-a, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-a }
---
apiVersion: v1
kind: Secret
metadata: { name: b, namespace: team-b, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-b }
`,
});

let upstream: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(manifests(upstream.baseUrl), { auth: new Authenticator({}) });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function stream(key: string): Promise<{ cache: string | null; text: string }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = await res.text();
  expect(res.status).toBe(200);
  const text = body
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => (JSON.parse(l.slice(6)) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '')
    .join('');
  return { cache: res.headers.get('x-tollgate-cache'), text };
}

describe('a shared cache and response guardrails', () => {
  it("does not store a stream one caller's rules masked: another namespace's caller gets the upstream's answer", async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'write to bob@example.com now' });
    const a = await stream('tg-a');
    expect(a.text).toContain('[EMAIL]');
    const b = await stream('tg-b');
    expect(b.text).toContain('bob@example.com');
    expect(b.text).not.toContain('[EMAIL]');
    // An unmasked stream (team-b's) is stored, and team-a's rules mask it again when it is replayed.
    const again = await stream('tg-a');
    expect(again).toMatchObject({ cache: 'hit' });
    expect(again.text).toContain('[EMAIL]');
  });
});
