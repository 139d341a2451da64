import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A GuardrailPolicy names a moderation Provider in another namespace that does not admit it. The
// Provider is in the snapshot for its own namespace's route, key included; the policy's rule must
// never call it (its failureMode decides), or one tenant spends another's key and sends it their
// traffic.

let upstream: Server;
let seen: { path: string; authorization: string | undefined }[];
let gateway: TestGateway;
let client: OpenAI;

function manifests(url: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: b-key, namespace: team-b }
stringData: { apiKey: sk-team-b-0123456789 }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: mod, namespace: team-b }
spec:
  type: openai-compatible
  url: ${url}/v1
  credentials: { secretRef: { name: b-key, key: apiKey } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: b-chat, namespace: team-b }
spec:
  model: b-chat
  access: { anonymous: true }
  targets: [{ providerRef: { name: mod }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: own, namespace: team-b }
spec:
  subjects: { routes: [{ name: b-chat }] }
  rules:
    - { name: harm, phase: Request, action: Block, detector: { moderation: { providerRef: { name: mod } } } }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: m, namespace: team-a }
spec: { type: mock }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: a-chat, namespace: team-a }
spec:
  model: a-chat
  access: { anonymous: true }
  targets: [{ providerRef: { name: m }, model: x }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: borrow, namespace: team-a }
spec:
  subjects: { routes: [{ name: a-chat }] }
  rules:
    - { name: harm, phase: Request, action: Block, detector: { moderation: { providerRef: { namespace: team-b, name: mod } } } }
`;
}

beforeAll(async () => {
  seen = [];
  upstream = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const chat = { id: 'c', object: 'chat.completion', created: 0, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
      res.end(JSON.stringify(req.url?.endsWith('/moderations') ? { results: [{ flagged: false, categories: {} }] } : chat));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as { port: number };
  gateway = await startTestGateway({ 'all.yaml': manifests(`http://127.0.0.1:${port}`) });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

describe("a guardrail naming another namespace's Provider", () => {
  it('never calls it: the rule fails by its failureMode (Closed) and says why', async () => {
    const err = await client.chat.completions.create({ model: 'a-chat', messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err?.message).toContain('moderation provider is not available');
    expect(seen).toEqual([]);
  });

  it("still serves the Provider's own namespace, its rule calling it with its key", async () => {
    const answer = await client.chat.completions.create({ model: 'b-chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0]?.message.content).toBe('ok');
    expect(seen.map((s) => s.path)).toEqual(['/v1/moderations', '/v1/chat/completions']);
    expect(seen[0]?.authorization).toBe('Bearer sk-team-b-0123456789');
  });
});
