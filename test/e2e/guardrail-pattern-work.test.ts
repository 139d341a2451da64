import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { metricValue } from '../support/admin-metrics.js';

// A custom guardrail pattern over a 4 MiB prompt once held the data plane's one
// thread for seconds per text (the RE2 matcher over each whole 1 MiB text), every tenant's requests
// waiting behind it. Now the matcher runs on small windows within a work budget per request: the
// guarded request gets its documented answer (what the budget could not pay for is Unscanned,
// dropped under Mask) and a request on another route is served too.

let upstream: Server;
let received: string[];
let gateway: TestGateway;

const manifests = (url: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up, namespace: team-a }
spec: { type: openai-compatible, url: ${url}/v1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: guarded, namespace: team-a }
spec:
  model: guarded
  access: { anonymous: true }
  targets: [{ providerRef: { name: up }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: other, namespace: team-a }
spec:
  model: other
  access: { anonymous: true }
  targets: [{ providerRef: { name: up }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: mail, namespace: team-a }
spec:
  subjects: { routes: [{ name: guarded }] }
  rules:
    - name: corp-mail
      phase: Request
      action: Mask
      detector: { patterns: [{ name: corp-mail, pattern: '(?i)[a-z0-9._%+-]{1,64}@corp\\.example\\.com' }] }
`;

beforeAll(async () => {
  received = [];
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString());
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'gpt', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as { port: number };
  gateway = await startTestGateway({ 'all.yaml': manifests(`http://127.0.0.1:${port}`) }, { admin: true });
});

afterAll(async () => {
  await gateway?.close();
  upstream?.close();
});

const post = (model: string, content: string[]): Promise<Response> =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: content.map((c) => ({ role: 'user', content: c })) }),
  });

/** The value of `tollgate_guardrail_unscanned_total` for the rule, 0 without a series. */
const unscannedCount = async (): Promise<number> => (await metricValue(gateway, 'tollgate_guardrail_unscanned_total', { rule: 'corp-mail' })) ?? 0;

const upstreamBody = (): string => received.find((b) => b.length > 1000) ?? '';

describe('a custom guardrail pattern over a 4 × 1 MiB prompt', () => {
  it("masks the one address at the end of each text (the hostile-input audit's prompt) and serves another route meanwhile", async () => {
    const text = `${'a'.repeat((1 << 20) - 40)} a@corp.example.com`;
    const [g, o] = await Promise.all([post('guarded', [text, text, text, text]), post('other', ['hello'])]);
    expect(o.status).toBe(200);
    expect(g.status).toBe(200);
    expect(g.headers.get('x-tollgate-guardrail')).toBe('team-a/mail');
    const sent = upstreamBody();
    expect(sent.match(/\[CORP_MAIL\]/g)).toHaveLength(4);
    expect(sent).not.toContain('@corp.example.com');
    expect(sent).not.toContain('[UNSCANNED]');
    expect(await unscannedCount()).toBe(0);
  }, 120_000);

  it('stops at the work one request may cost: matches masked up to there, the rest dropped as [UNSCANNED], nothing passed on unscanned', async () => {
    received = [];
    const prose = 'The quick brown fox jumps over the lazy dog. ';
    // 40 addresses a text: each text alone is scanned whole, four together cost more than one request may.
    const text = `${prose.repeat(582)} bob@corp.example.com `.repeat(40);
    const [g, o] = await Promise.all([post('guarded', [text, text, text, text]), post('other', ['hello'])]);
    expect(o.status).toBe(200);
    expect(g.status).toBe(200);
    const sent = upstreamBody();
    expect(sent).not.toContain('@corp.example.com');
    expect(sent.match(/\[CORP_MAIL\]/g)?.length).toBeGreaterThanOrEqual(80);
    expect(sent).toContain('[UNSCANNED]');
    // Operators see a cap or budget too small for their traffic apart from real findings.
    expect(await unscannedCount()).toBe(1);
  }, 120_000);
});
